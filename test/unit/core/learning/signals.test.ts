import assert from 'node:assert/strict';
import { InvalidInputError } from '../../../../src/core/errors';
import { computeReward, type RewardSignals } from '../../../../src/core/learning/reward';
import { checkRunSource, checkSignal, withObserved } from '../../../../src/core/learning/signals';
import { defaultConfig } from '../../../../src/core/workspace/config';

const NONE: RewardSignals = {
  compile: null,
  testsPassed: null,
  testsTotal: null,
  lintErrors: null,
  typeErrors: null,
  schemaErrors: null,
  boundaryErrors: null,
  human: null,
};
const WEIGHTS = { ...defaultConfig().rewardWeights, kept: 0.1 };

describe('observed signals', () => {
  describe('checkSignal', () => {
    it('takes a signal with its time, or stamps it with now', () => {
      assert.deepEqual(checkSignal({ kind: 'errors.type', value: 2, source: 'editor:diagnostics' }, 5), {
        kind: 'errors.type',
        value: 2,
        source: 'editor:diagnostics',
        at: 5,
      });
      assert.equal(checkSignal({ kind: 'kept', value: 0.5, source: 'editor:kept', at: 9 }, 5).at, 9);
    });

    it('refuses a bad kind, value or source with the field named', () => {
      const bad: [unknown, string][] = [
        [{ kind: 'vibes', value: 1, source: 'editor:x' }, 'signal.kind'],
        [{ kind: 'errors.lint', value: 1.5, source: 'editor:x' }, 'signal.value'],
        [{ kind: 'errors.lint', value: -1, source: 'editor:x' }, 'signal.value'],
        [{ kind: 'kept', value: 2, source: 'editor:x' }, 'signal.value'],
        [{ kind: 'compile', value: 0.5, source: 'editor:x' }, 'signal.value'],
        [{ kind: 'tests', value: Number.NaN, source: 'editor:x' }, 'signal.value'],
        [{ kind: 'tests', value: 1, source: 'Editor Task; rm -rf /' }, 'signal.source'],
        [{ kind: 'tests', value: 1, source: 'editor:task', extra: 1 }, 'signal'],
      ];
      for (const [input, field] of bad) {
        assert.throws(
          () => checkSignal(input, 0),
          (e) => e instanceof InvalidInputError && e.field === field,
          JSON.stringify(input),
        );
      }
    });

    it('knows the run sources and refuses others', () => {
      assert.equal(checkRunSource('gateway'), 'gateway');
      assert.throws(() => checkRunSource('constructor'), InvalidInputError);
    });
  });

  describe('withObserved', () => {
    it('fills the gaps the agent left and never overrides what it reported', () => {
      const merged = withObserved({ ...NONE, typeErrors: 0 }, [
        { kind: 'errors.type', value: 3, source: 'editor:diagnostics', at: 1 },
        { kind: 'errors.lint', value: 1, source: 'editor:diagnostics', at: 1 },
        { kind: 'compile', value: 0, source: 'editor:task', at: 1 },
        { kind: 'tests', value: 1, source: 'editor:task', at: 1 },
      ]);
      assert.equal(merged.typeErrors, 0, "the agent's own count wins");
      assert.equal(merged.lintErrors, 1);
      assert.equal(merged.compile, false);
      assert.equal(
        computeReward({ ...NONE, testsPassed: merged.testsPassed, testsTotal: merged.testsTotal }, WEIGHTS),
        1,
      );
    });

    it('takes the latest observation of a kind, whichever observer made it', () => {
      const merged = withObserved(NONE, [
        { kind: 'errors.type', value: 3, source: 'editor:diagnostics', at: 10 },
        { kind: 'errors.type', value: 0, source: 'other:checker', at: 20 },
      ]);
      assert.equal(merged.typeErrors, 0);
    });

    it('weighs the implicit verdict below an explicit one, and drops it once there is one', () => {
      const keptAll = [{ kind: 'kept' as const, value: 1, source: 'editor:kept', at: 1 }];
      const compiledNoTests = { ...NONE, compile: false };
      const implicit = computeReward(withObserved(compiledNoTests, keptAll), WEIGHTS);
      const explicit = computeReward(withObserved({ ...compiledNoTests, human: 'accept' }, []), WEIGHTS);
      assert.ok(implicit < explicit, `kept ${implicit} must count less than Accept ${explicit}`);
      assert.ok(implicit > 0);
      const rejected = computeReward(withObserved({ ...compiledNoTests, human: 'reject' }, keptAll), WEIGHTS);
      assert.equal(rejected, 0, 'a Reject is not softened by lines that stayed');
      assert.equal(
        computeReward(withObserved(compiledNoTests, keptAll), defaultConfig().rewardWeights),
        0,
        'weight 0 (the default): observed, not weighed',
      );
    });
  });
});
