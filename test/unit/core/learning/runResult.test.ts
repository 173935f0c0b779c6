import assert from 'node:assert/strict';
import { InvalidInputError, LearningError } from '../../../../src/core/errors';
import {
  checkComplexity,
  newRunId,
  toRunRecord,
  validateRunArgs,
} from '../../../../src/core/learning/runResult';

const ids = { id: 'r-1', createdAt: 1000, taskSlug: 't', role: 'coder', modelId: 'm', promptId: 'p' };

describe('runResult', () => {
  describe('validateRunArgs', () => {
    it("drops fields it does not know, so a newer agent's result still records", () => {
      const { result } = validateRunArgs('t', 'm', 'p', {
        input: 'i',
        output: 'o',
        compile: true,
        temperature: 0.2,
      });

      assert.deepEqual(result, { input: 'i', output: 'o', compile: true });
    });

    it('refuses ids longer than 200 characters, naming the field', () => {
      const long = 'x'.repeat(201);
      for (const [[taskSlug, modelId, promptId], field] of [
        [[long, 'm', 'p'], 'taskSlug'],
        [['t', long, 'p'], 'modelId'],
        [['t', 'm', long], 'promptId'],
      ] as const) {
        assert.throws(
          () => validateRunArgs(taskSlug, modelId, promptId, { input: 'i', output: 'o' }),
          (err: unknown) => err instanceof InvalidInputError && err.field === field,
        );
      }
      assert.doesNotThrow(() => validateRunArgs('x'.repeat(200), 'm', 'p', { input: 'i', output: 'o' }));
    });

    it('refuses a fractional count and a negative duration, naming the field inside the result', () => {
      assert.throws(
        () => validateRunArgs('t', 'm', 'p', { input: 'i', output: 'o', costTokens: 1.5 }),
        (err: unknown) => err instanceof InvalidInputError && err.field === 'result.costTokens',
      );
      assert.throws(
        () => validateRunArgs('t', 'm', 'p', { input: 'i', output: 'o', durationMs: -1 }),
        (err: unknown) => err instanceof InvalidInputError && err.field === 'result.durationMs',
      );
    });
  });

  describe('toRunRecord', () => {
    it('stores a signal the agent did not report as null, not as a zero that would count', () => {
      const record = toRunRecord(ids, validateRunArgs('t', 'm', 'p', { input: 'i', output: 'o' }).result);

      assert.deepEqual(record, {
        ...ids,
        complexity: null,
        input: 'i',
        output: 'o',
        compile: null,
        testsPassed: null,
        testsTotal: null,
        lintErrors: null,
        typeErrors: null,
        schemaErrors: null,
        boundaryErrors: null,
        human: null,
        humanAt: null,
        reward: 0,
        costTokens: null,
        durationMs: null,
        iterations: null,
        source: null,
      });
    });

    it("dates a verdict given with the run at the run's own time, and keeps zeros that were reported", () => {
      const { result } = validateRunArgs('t', 'm', 'p', {
        input: 'i',
        output: 'o',
        compile: false,
        tests: { passed: 0, total: 4 },
        errors: { lint: 0, type: 2 },
        human: 'reject',
        complexity: 'large',
      });

      const record = toRunRecord(ids, result);

      assert.equal(record.human, 'reject');
      assert.equal(record.humanAt, 1000);
      assert.equal(record.compile, false);
      assert.deepEqual([record.testsPassed, record.testsTotal], [0, 4]);
      assert.deepEqual([record.lintErrors, record.typeErrors, record.schemaErrors], [0, 2, null]);
      assert.equal(record.complexity, 'large');
    });
  });

  it('makes run ids that sort by time and differ within the same millisecond', () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    // Past several draws of the random bytes they are cut from (256 ids' worth each).
    const same = new Set(Array.from({ length: 1_000 }, () => newRunId(now)));

    assert.equal(same.size, 1_000);
    assert.ok(newRunId(now) < newRunId(now + 1));
    assert.ok(newRunId(now + 999) < newRunId(now + 1000));
    assert.match(newRunId(now), /^r-[0-9a-z]+-[0-9a-f]{10}$/);
  });

  it('takes a complexity tier or refuses it by the name the caller uses', () => {
    assert.equal(checkComplexity('medium'), 'medium');
    assert.throws(
      () => checkComplexity('huge', 'tier'),
      (err: unknown) =>
        err instanceof LearningError &&
        /^Unknown tier "huge"; use small, medium or large\.$/.test(err.message),
    );
  });
});
