import assert from 'node:assert/strict';
import {
  chooseArm,
  DROP_DETECTION,
  hasDropped,
  sampleBeta,
  sinceDrop,
  type Arm,
  type ArmSums,
  type PolicySettings,
} from '../../../../src/core/learning/bandit';
import { mulberry32 } from '../../../support/random';

function settings(overrides: Partial<PolicySettings>): PolicySettings {
  return { algorithm: 'epsilon-greedy', epsilon: 0.1, random: mulberry32(42), ...overrides };
}

/** An arm with `n` pass/fail runs, `passed` of them passed. */
function passFail(id: string, n: number, passed: number): Arm {
  return { id, n, rewardSum: passed, rewardSq: passed };
}

/** Sums of `rewards`. */
function sums(rewards: readonly number[]): ArmSums {
  return {
    n: rewards.length,
    rewardSum: rewards.reduce((t, r) => t + r, 0),
    rewardSq: rewards.reduce((t, r) => t + r * r, 0),
  };
}

/** How often each arm id is chosen over `draws` calls. */
function tally(arms: Arm[], s: PolicySettings, draws: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < draws; i++) {
    const { id } = chooseArm(arms, s);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('chooseArm', () => {
  const tried: Arm[] = [passFail('good', 20, 18), passFail('poor', 20, 4)];

  for (const algorithm of ['epsilon-greedy', 'ucb1'] as const) {
    it(`${algorithm}: tries every untried arm before any tried one`, () => {
      const arms = [...tried, passFail('new-a', 0, 0), passFail('new-b', 0, 0)];

      const counts = tally(arms, settings({ algorithm, epsilon: 0.5 }), 200);

      assert.deepEqual([...counts.keys()].sort(), ['new-a', 'new-b']);
      assert.equal(chooseArm(arms, settings({ algorithm })).reason, 'untried');
    });
  }

  it('epsilon-greedy with epsilon 0 always exploits the arm with the best mean', () => {
    const counts = tally(tried, settings({ epsilon: 0 }), 1000);

    assert.deepEqual([...counts], [['good', 1000]]);
    assert.equal(chooseArm(tried, settings({ epsilon: 0 })).reason, 'exploit');
  });

  it('epsilon-greedy with epsilon 0.1 explores about 10% of the time and says which it did', () => {
    const s = settings({ epsilon: 0.1, random: mulberry32(7) });
    const draws = 10_000;
    let explored = 0;
    let exploitedPoor = 0;

    for (let i = 0; i < draws; i++) {
      const choice = chooseArm(tried, s);
      assert.ok(choice.reason === 'explore' || choice.reason === 'exploit', choice.reason);
      if (choice.reason === 'explore') explored++;
      else if (choice.id !== 'good') exploitedPoor++;
    }

    // Explorations are Binomial(10,000, 0.1): mean 1,000, standard deviation 30. ±150 is five standard
    // deviations, so a correct policy fails this with probability below 1e-6 whatever the seed.
    assert.ok(Math.abs(explored - 1000) <= 150, `explored ${explored} times in ${draws}`);
    assert.equal(exploitedPoor, 0, 'exploiting always takes the best arm');
  });

  it('thompson sampling prefers the clearly better arm in more than 95% of draws', () => {
    const arms: Arm[] = [passFail('worse', 100, 10), passFail('better', 100, 90)];

    const counts = tally(arms, settings({ algorithm: 'thompson' }), 1000);

    assert.ok((counts.get('better') ?? 0) > 950, `better chosen ${counts.get('better')} of 1000`);
  });

  it('thompson sampling still samples arms it has little evidence about', () => {
    const arms: Arm[] = [
      passFail('known', 50, 30),
      { id: 'barely-tried', n: 1, rewardSum: 0.5, rewardSq: 0.25 },
    ];

    const counts = tally(arms, settings({ algorithm: 'thompson' }), 1000);

    assert.ok(
      (counts.get('barely-tried') ?? 0) > 50,
      `barely-tried chosen ${counts.get('barely-tried')} of 1000`,
    );
    assert.ok((counts.get('known') ?? 0) > 50, `known chosen ${counts.get('known')} of 1000`);
  });

  it('thompson-variance tells apart arms whose rewards vary little, where Beta Thompson still hesitates', () => {
    // 200 runs each, means 0.62 and 0.60, rewards spread with a standard deviation of 0.05 (a test pass rate, say):
    // the means are 5.7 standard errors apart, but Beta Thompson samples them as if they were coin flips.
    const spread = (id: string, m: number): Arm => ({
      id,
      n: 200,
      rewardSum: 200 * m,
      rewardSq: 200 * (m * m + 0.05 * 0.05),
    });
    const arms = [spread('better', 0.62), spread('worse', 0.6)];

    const scaled = tally(arms, settings({ algorithm: 'thompson-variance' }), 1000).get('better') ?? 0;
    const beta = tally(arms, settings({ algorithm: 'thompson' }), 1000).get('better') ?? 0;

    assert.ok(scaled > 990, `thompson-variance chose better ${scaled} of 1000`);
    assert.ok(beta < 800, `thompson chose better ${beta} of 1000`);
  });

  it('thompson-variance samples pass/fail arms as Beta Thompson does', () => {
    const arms = [passFail('a', 12, 7), passFail('b', 8, 4), passFail('c', 3, 1)];
    const draws = 20_000;

    const scaled = tally(arms, settings({ algorithm: 'thompson-variance', random: mulberry32(5) }), draws);
    const beta = tally(arms, settings({ algorithm: 'thompson', random: mulberry32(6) }), draws);

    // Each count is Binomial(20,000, p) with p the same for both; their difference has a standard deviation of at
    // most 100, so 500 is five of them.
    for (const id of ['a', 'b', 'c']) {
      const diff = Math.abs((scaled.get(id) ?? 0) - (beta.get(id) ?? 0));
      assert.ok(diff < 500, `${id}: ${scaled.get(id)} vs ${beta.get(id)}`);
    }
  });

  it('thompson-variance samples untried arms uniformly, like Beta Thompson from its prior', () => {
    const arms = [passFail('x', 0, 0), passFail('y', 0, 0)];

    const counts = tally(arms, settings({ algorithm: 'thompson-variance' }), 2000);

    assert.ok(Math.abs((counts.get('x') ?? 0) - 1000) < 150, JSON.stringify([...counts]));
  });

  it('ucb1 exploits the best arm once every arm has plenty of evidence', () => {
    const arms: Arm[] = [passFail('good', 1000, 900), passFail('poor', 1000, 100)];

    assert.deepEqual(chooseArm(arms, settings({ algorithm: 'ucb1' })), { id: 'good', reason: 'exploit' });
  });

  it('picks the cheapest arm among arms with equal means', () => {
    const cost: Record<string, number> = { pricey: 0.01, cheap: 0.0005, mid: 0.002 };
    const arms: Arm[] = [passFail('pricey', 10, 8), passFail('cheap', 5, 4), passFail('mid', 20, 16)];

    const counts = tally(arms, settings({ epsilon: 0, cost: (id) => cost[id]! }), 500);

    assert.deepEqual([...counts], [['cheap', 500]]);
  });

  it('prefers a cheaper arm within the cost tolerance of the best, and only within it', () => {
    const cost: Record<string, number> = { best: 0.01, near: 0.001, far: 0.0001 };
    const arms: Arm[] = [
      passFail('best', 1000, 850),
      passFail('near', 1000, 840),
      passFail('far', 1000, 600),
    ];
    const greedy = (tolerance: number) =>
      chooseArm(arms, settings({ epsilon: 0, cost: (id) => cost[id]!, tolerance })).id;

    assert.equal(greedy(0), 'best');
    assert.equal(greedy(0.02), 'near');
    assert.equal(greedy(0.3), 'far');
  });

  it('gives the only arm with reason only-choice', () => {
    assert.deepEqual(chooseArm([passFail('solo', 0, 0)], settings({})), {
      id: 'solo',
      reason: 'only-choice',
    });
  });

  it('throws when there is no arm', () => {
    assert.throws(() => chooseArm([], settings({})));
  });
});

describe('drop detection', () => {
  /** `n` rewards alternating so that they average `mean` exactly every 10 runs (no randomness). */
  const steady = (n: number, mean: number): number[] =>
    Array.from({ length: n }, (_, i) => (i % 10 < Math.round(mean * 10) ? 1 : 0));
  const split = (history: number[]) => ({
    all: sums(history),
    recent: sums(history.slice(-DROP_DETECTION.runs)),
    latestFirst: [...history].reverse(),
  });

  it('finds no drop in an arm whose reward stays the same', () => {
    const { all, recent } = split(steady(1000, 0.8));

    assert.equal(hasDropped(all, recent), false);
  });

  it('notices a pass/fail arm that fell from 0.8 to 0.3 within 25 runs, and keeps only the runs since', () => {
    const history = [...steady(900, 0.8), ...steady(25, 0.3)];
    const { all, recent, latestFirst } = split(history);

    assert.equal(hasDropped(all, recent), true);
    const since = sinceDrop(all, latestFirst);
    assert.ok(since.n >= 20 && since.n <= 30, `since the drop: ${since.n} runs`);
    assert.ok(since.rewardSum / since.n < 0.4, `mean since the drop ${since.rewardSum / since.n}`);
  });

  it('does not call a small drop a change, nor a rise', () => {
    const small = split([...steady(900, 0.8), ...steady(30, 0.7)]);
    const rise = split([...steady(900, 0.5), ...steady(30, 1)]);

    assert.equal(hasDropped(small.all, small.recent), false);
    assert.equal(hasDropped(rise.all, rise.recent), false);
  });

  it('waits for enough runs on both sides of a drop', () => {
    const young = split([...steady(25, 1), ...steady(30, 0)]);

    assert.equal(hasDropped(young.all, young.recent), false, 'fewer earlier runs than the recent window');
  });

  it('sees a smaller drop when the rewards vary little', () => {
    // Rewards 0.80 ± 0.02, then 0.70 ± 0.02: a drop of 0.1 is many standard errors here.
    const wobble = (n: number, m: number) => Array.from({ length: n }, (_, i) => m + (i % 2 ? 0.02 : -0.02));
    const { all, recent, latestFirst } = split([...wobble(500, 0.8), ...wobble(40, 0.7)]);

    assert.equal(hasDropped(all, recent), true);
    assert.equal(sinceDrop(all, latestFirst).n, 40);
  });
});

describe('sampleBeta', () => {
  for (const [a, b] of [
    [2, 5],
    [9, 1],
    [0.5, 0.5],
  ] as const) {
    it(`averages a/(a+b) over many draws for Beta(${a}, ${b})`, () => {
      const random = mulberry32(1234);
      const draws = 20_000;
      let sum = 0;

      for (let i = 0; i < draws; i++) {
        const x = sampleBeta(a, b, random);
        assert.ok(x >= 0 && x <= 1, `sample ${x} outside [0, 1]`);
        sum += x;
      }

      // The variance of Beta(a, b) is at most 1/8 for these shapes (Beta(0.5, 0.5)), so the standard error of
      // the mean of 20,000 draws is at most 0.0025; 0.015 is six standard errors.
      const expected = a / (a + b);
      assert.ok(Math.abs(sum / draws - expected) < 0.015, `mean ${sum / draws}, expected ${expected}`);
    });
  }
});
