import assert from 'node:assert/strict';
import {
  ConfigError,
  ConvertError,
  CorruptDatabaseError,
  DeployGateError,
  describe as describeError,
  InvalidInputError,
  LearningError,
  NewerSchemaError,
  NoEligibleModelError,
} from '../../../src/core/errors';

describe('errors', () => {
  it('names each error after its own class, so logs and callers can tell them apart', () => {
    const errors = [
      new ConfigError('f.json', []),
      new InvalidInputError('verdict', 'bad'),
      new CorruptDatabaseError('a.db', 'a.db.corrupt-1', new Error('x')),
      new NewerSchemaError('a.db', 2, 1),
      new NoEligibleModelError('large', undefined),
      new ConvertError('a.safetensors', 'bad.'),
      new DeployGateError('coder', 1, 1),
    ];

    assert.ok(errors.every((err) => err instanceof LearningError));
    assert.deepEqual(
      errors.map((err) => err.name),
      [
        'ConfigError',
        'InvalidInputError',
        'CorruptDatabaseError',
        'NewerSchemaError',
        'NoEligibleModelError',
        'ConvertError',
        'DeployGateError',
      ],
    );
  });

  it('lists every config issue with its key, line and column, and the file as a whole as (file)', () => {
    const err = new ConfigError('.agent/learning-config.json', [
      { key: '', reason: 'not valid JSON', line: 3, column: 7 },
      { key: 'autoExport.minRuns', reason: 'must be a number', line: 5 },
      { key: 'autoTrain.epochs', reason: 'too large' },
    ]);

    assert.equal(
      err.message,
      'Invalid .agent/learning-config.json: (file) (line 3, column 7): not valid JSON; ' +
        'autoExport.minRuns (line 5, column 1): must be a number; autoTrain.epochs: too large. ' +
        'Fix the file; the last valid settings stay in force until then.',
    );
    assert.equal(err.issues.length, 3);
  });

  it('names the cost cap only when there is one', () => {
    assert.match(
      new NoEligibleModelError('large', 0.002).message,
      /"large" at or below 0\.002 USD per 1K tokens\./,
    );
    assert.match(new NoEligibleModelError('small', undefined).message, /"small"\. Add one/);
  });

  it("says where a corrupt database was kept, with its cause's message", () => {
    const err = new CorruptDatabaseError(
      'x/experience.db',
      'x/experience.db.corrupt-1',
      'file is not a database',
    );

    assert.match(err.message, /x\/experience\.db could not be opened \(file is not a database\)/);
    assert.match(err.message, /kept aside as x\/experience\.db\.corrupt-1/);
    assert.equal(err.cause, 'file is not a database');
  });

  it('names the tensor or key of a conversion error, when there is one, and always says nothing was written', () => {
    assert.equal(
      new ConvertError('a/adapter_config.json', 'r must be a number.', 'r').message,
      'Cannot convert a/adapter_config.json (r): r must be a number. Nothing was written.',
    );
    assert.equal(
      new ConvertError('a', 'there are no weights.').message,
      'Cannot convert a: there are no weights. Nothing was written.',
    );
  });

  it('shows the losses the deploy gate compared, and no reason when the trainer gave none', () => {
    const err = new DeployGateError('coder-large', 1.23456, 1.5, null);

    assert.match(err.message, /^Not deploying coder-large: .* \(1\.235 → 1\.500\)\. Collect more data/);
    assert.equal(err.key, 'coder-large');
  });

  it('describes an error by its message and anything else as text', () => {
    assert.equal(describeError(new InvalidInputError('role', 'too long')), 'Invalid role: too long');
    assert.equal(describeError('plain text'), 'plain text');
    assert.equal(describeError(42), '42');
  });
});
