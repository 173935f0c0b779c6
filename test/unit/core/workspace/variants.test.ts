import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../../../src/core/errors';
import {
  BUILTIN_PROMPTS,
  mergePrompts,
  readModelVariants,
  readPromptVariants,
  writeModelMirror,
  writePromptMirror,
  type ModelVariant,
} from '../../../../src/core/workspace/variants';

/** The ConfigError that `read` throws (failing if it throws none). */
function configErrorOf(read: () => unknown): ConfigError {
  try {
    read();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('variants', () => {
  let dir: string;
  let prompts: string;
  let models: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-variants-'));
    prompts = path.join(dir, 'prompt_variants.json');
    models = path.join(dir, 'model_variants.json');
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('reading', () => {
    it("fills a model's cost and tiers with their defaults", () => {
      fs.writeFileSync(
        models,
        JSON.stringify({ variants: [{ id: 'local:7b' }, { id: 'big', tiers: ['large'] }] }),
      );

      assert.deepEqual(readModelVariants(models)?.variants, [
        { id: 'local:7b', costPer1kTokens: 0, tiers: ['small', 'medium', 'large'] },
        { id: 'big', costPer1kTokens: 0, tiers: ['large'] },
      ]);
    });

    it('refuses an empty model list, an unknown key, and a tier or role it does not know, naming the key', () => {
      for (const [content, key] of [
        [{ variants: [] }, 'variants'],
        [{ variants: [{ id: 'm', cost: 1 }] }, 'variants.0.cost'],
        [{ variants: [{ id: 'm', roles: ['Coder'] }] }, 'variants.0.roles.0'],
        [{ variants: [{ id: 'm', tiers: ['huge'] }] }, 'variants.0.tiers.0'],
      ] as const) {
        fs.writeFileSync(models, JSON.stringify(content));
        const error = configErrorOf(() => readModelVariants(models));
        assert.ok(
          error.issues.some((i) => i.key === key),
          `${JSON.stringify(content)}: ${JSON.stringify(error.issues)}`,
        );
      }
    });

    it('reads a missing file as absent, and one it cannot read as an error of the whole file', () => {
      assert.equal(readPromptVariants(prompts), undefined);
      fs.mkdirSync(prompts);

      const error = configErrorOf(() => readPromptVariants(prompts));

      assert.equal(error.file, prompts);
      assert.deepEqual(
        error.issues.map((i) => i.key),
        [''],
      );
      assert.match(error.message, /cannot read the file/);
    });
  });

  it("lists the config's prompts with their built-in texts, then the file's, whose text wins", () => {
    const merged = mergePrompts(
      ['default', 'concise', 'mine'],
      [{ id: 'concise', text: 'Be brief.' }, { id: 'terse' }, { id: 'detailed' }],
    );

    assert.deepEqual(merged, [
      { id: 'default', text: BUILTIN_PROMPTS.get('default') },
      { id: 'concise', text: 'Be brief.' },
      { id: 'mine', text: '' },
      { id: 'terse', text: '' },
      { id: 'detailed', text: BUILTIN_PROMPTS.get('detailed') },
    ]);
  });

  it('gives prompt ids named like Object.prototype members no built-in text, never a function', () => {
    const merged = mergePrompts(['constructor', 'toString'], [{ id: '__proto__' }, { id: 'valueOf' }]);

    assert.deepEqual(merged, [
      { id: 'constructor', text: '' },
      { id: 'toString', text: '' },
      { id: '__proto__', text: '' },
      { id: 'valueOf', text: '' },
    ]);
  });

  describe('mirrors', () => {
    const variants: ModelVariant[] = [
      { id: 'local:7b', costPer1kTokens: 0, tiers: ['small'], roles: ['coder'] },
    ];
    const stats = { '*': [{ id: 'local:7b', n: 2, meanReward: 0.75 }] };
    const now = Date.parse('2026-11-25T10:00:00Z');

    it('writes files its own reader takes back, with the stats and the time of writing', () => {
      const user = [{ id: 'terse', text: 'One function.' }];

      assert.equal(
        writePromptMirror(prompts, user, mergePrompts(['default'], user), 'ucb1', stats, now),
        true,
      );
      assert.equal(writeModelMirror(models, variants, 'ucb1', stats, now), true);

      const readPrompts = readPromptVariants(prompts);
      const readModels = readModelVariants(models);
      assert.deepEqual([readPrompts?.variants, readPrompts?.stats], [user, stats]);
      assert.deepEqual([readModels?.variants, readModels?.stats], [variants, stats]);
      const written = JSON.parse(fs.readFileSync(models, 'utf8')) as { updatedAt: string; algorithm: string };
      assert.equal(written.updatedAt, '2026-11-25T10:00:00.000Z');
      assert.equal(written.algorithm, 'ucb1');
    });

    it('leaves a file that already says the same alone, its updatedAt the time the stats last changed', () => {
      const later = now + 60_000;
      assert.equal(writeModelMirror(models, variants, 'ucb1', stats, now), true);
      const before = fs.statSync(models, { bigint: true });

      assert.equal(writeModelMirror(models, variants, 'ucb1', stats, later), false);
      const after = fs.statSync(models, { bigint: true });
      assert.deepEqual([after.ino, after.mtimeNs], [before.ino, before.mtimeNs]);

      const changed = { '*': [{ id: 'local:7b', n: 3, meanReward: 0.8 }] };
      assert.equal(writeModelMirror(models, variants, 'ucb1', changed, later), true);
      const written = JSON.parse(fs.readFileSync(models, 'utf8')) as { updatedAt: string };
      assert.equal(written.updatedAt, new Date(later).toISOString());
    });

    it("never overwrites a file that is not valid JSON: a user's half-finished edit stays as it is", () => {
      const halfDone = '{ "variants": [ { "id": "local:7b", ';
      fs.writeFileSync(models, halfDone);
      fs.writeFileSync(prompts, halfDone);

      assert.equal(writeModelMirror(models, variants, 'ucb1', stats, now), false);
      assert.equal(writePromptMirror(prompts, [], [], 'ucb1', stats, now), false);

      assert.equal(fs.readFileSync(models, 'utf8'), halfDone);
      assert.equal(fs.readFileSync(prompts, 'utf8'), halfDone);
    });
  });
});
