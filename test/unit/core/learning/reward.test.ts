import assert from 'node:assert/strict';
import { defaultConfig } from '../../../../src/core/workspace/config';
import {
  computeReward,
  rewardBreakdown,
  type RewardSignals,
  type RewardWeights,
} from '../../../../src/core/learning/reward';
import { mulberry32 } from '../../../support/random';

const WEIGHTS: RewardWeights = defaultConfig().rewardWeights;

function signals(s: Partial<RewardSignals>): RewardSignals {
  return {
    compile: null,
    testsPassed: null,
    testsTotal: null,
    lintErrors: null,
    typeErrors: null,
    schemaErrors: null,
    boundaryErrors: null,
    human: null,
    ...s,
  };
}

describe('computeReward', () => {
  it('scores a run that compiled, passed every test, had no errors and was accepted as 1', () => {
    const reward = computeReward(
      signals({
        compile: true,
        testsPassed: 10,
        testsTotal: 10,
        lintErrors: 0,
        typeErrors: 0,
        schemaErrors: 0,
        boundaryErrors: 0,
        human: 'accept',
      }),
      WEIGHTS,
    );

    assert.equal(reward, 1);
  });

  it('weighs all four signals when all are present', () => {
    // compile 1, tests 0.5, errors 1/(1+1) = 0.5, human 0: mean with equal weights 0.5.
    const reward = computeReward(
      signals({ compile: true, testsPassed: 1, testsTotal: 2, lintErrors: 1, human: 'reject' }),
      WEIGHTS,
    );

    assert.equal(reward, 0.5);
  });

  it('renormalises the weights over the signals present: a run that only compiled scores 1', () => {
    assert.equal(computeReward(signals({ compile: true }), WEIGHTS), 1);
  });

  it('does not punish a run that has no human verdict yet', () => {
    const withoutVerdict = computeReward(signals({ compile: true, testsPassed: 4, testsTotal: 4 }), WEIGHTS);

    assert.equal(withoutVerdict, 1);
  });

  it('scores the test term as the pass rate', () => {
    assert.equal(computeReward(signals({ testsPassed: 3, testsTotal: 4 }), WEIGHTS), 0.75);
    assert.equal(computeReward(signals({ testsPassed: 0, testsTotal: 4 }), WEIGHTS), 0);
  });

  it('scores the error term as 1 with zero errors', () => {
    assert.equal(computeReward(signals({ lintErrors: 0, typeErrors: 0 }), WEIGHTS), 1);
  });

  it('lowers the error term strictly as errors grow', () => {
    const rewards = [0, 1, 2, 5, 10, 100, 10_000].map((n) =>
      computeReward(signals({ typeErrors: n }), WEIGHTS),
    );

    for (let i = 1; i < rewards.length; i++) {
      assert.ok(
        rewards[i]! < rewards[i - 1]!,
        `reward ${rewards[i]} with more errors is not below ${rewards[i - 1]}`,
      );
    }
  });

  it('sums the error kinds: one lint and one type error score like two type errors', () => {
    assert.equal(
      computeReward(signals({ lintErrors: 1, typeErrors: 1 }), WEIGHTS),
      computeReward(signals({ typeErrors: 2 }), WEIGHTS),
    );
  });

  it('scores an accepted run above the same run rejected', () => {
    const base = { compile: true, testsPassed: 1, testsTotal: 2 };

    const accepted = computeReward(signals({ ...base, human: 'accept' }), WEIGHTS);
    const rejected = computeReward(signals({ ...base, human: 'reject' }), WEIGHTS);

    assert.ok(accepted > rejected, `accept ${accepted} vs reject ${rejected}`);
    assert.equal(computeReward(signals({ human: 'accept' }), WEIGHTS), 1);
    assert.equal(computeReward(signals({ human: 'reject' }), WEIGHTS), 0);
  });

  it('stays within [0, 1] for any mix of signals', () => {
    const compiles = [null, true, false] as const;
    const tests = [null, [0, 0], [0, 3], [2, 3], [3, 3]] as const;
    const errors = [null, 0, 1, 1_000_000] as const;
    const humans = [null, 'accept', 'reject'] as const;
    const weightSets: RewardWeights[] = [
      WEIGHTS,
      { compile: 10, tests: 0, errors: 0.001, human: 3 },
      { compile: 0, tests: 0, errors: 0, human: 1 },
    ];
    for (const compile of compiles)
      for (const t of tests)
        for (const e of errors)
          for (const human of humans)
            for (const w of weightSets) {
              const r = computeReward(
                signals({
                  compile,
                  testsPassed: t?.[0] ?? null,
                  testsTotal: t?.[1] ?? null,
                  lintErrors: e,
                  human,
                }),
                w,
              );
              assert.ok(r >= 0 && r <= 1, `reward ${r} out of range`);
            }
  });

  it('ignores the human verdict when its weight is 0', () => {
    const weights = { ...WEIGHTS, human: 0 };

    const rejected = computeReward(signals({ compile: true, human: 'reject' }), weights);

    assert.equal(rejected, 1);
  });

  it('applies custom weights: compile weighted 3 to 1 against tests', () => {
    const weights = { compile: 3, tests: 1, errors: 0, human: 0 };

    const reward = computeReward(signals({ compile: true, testsPassed: 0, testsTotal: 5 }), weights);

    assert.equal(reward, 0.75);
  });

  it('scores a run with no signals at all as 0', () => {
    assert.equal(computeReward(signals({}), WEIGHTS), 0);
  });

  it('treats a run with zero tests as having no test signal', () => {
    assert.equal(computeReward(signals({ compile: true, testsPassed: 0, testsTotal: 0 }), WEIGHTS), 1);
  });
});

describe('rewardBreakdown', () => {
  it('names each signal present with its score, weight and share, and its contributions add up to the reward', () => {
    const { reward, terms } = rewardBreakdown(
      signals({ compile: true, testsPassed: 1, testsTotal: 4, lintErrors: 1, human: 'reject' }),
      WEIGHTS,
    );
    assert.deepEqual(
      terms.map((t) => [t.signal, t.score, t.weight]),
      [
        ['compile', 1, WEIGHTS.compile],
        ['tests', 0.25, WEIGHTS.tests],
        ['errors', 0.5, WEIGHTS.errors],
        ['human', 0, WEIGHTS.human],
      ],
    );
    const sum = terms.reduce((s, t) => s + t.contribution, 0);
    assert.ok(Math.abs(sum - reward) < 1e-12);
    assert.deepEqual(rewardBreakdown(signals({}), WEIGHTS), { reward: 0, terms: [] });
  });

  it('gives the same reward as computeReward for any signals', () => {
    const random = mulberry32(3);
    const maybe = <T>(v: T) => (random() < 0.3 ? null : v);
    for (let i = 0; i < 2000; i++) {
      const total = Math.floor(random() * 10);
      const s = signals({
        compile: maybe(random() < 0.5),
        testsPassed: Math.floor(random() * (total + 1)),
        testsTotal: maybe(total),
        lintErrors: maybe(Math.floor(random() * 5)),
        typeErrors: maybe(Math.floor(random() * 5)),
        schemaErrors: maybe(0),
        boundaryErrors: maybe(1),
        human: maybe(random() < 0.5 ? 'accept' : 'reject'),
      });
      assert.equal(rewardBreakdown(s, WEIGHTS).reward, computeReward(s, WEIGHTS));
    }
  });
});
