import assert from 'node:assert/strict';
import { chooseArm, sampleBeta, type Arm, type PolicySettings } from '../../../src/core/bandit';
import { mulberry32 } from '../../support/random';

function settings(overrides: Partial<PolicySettings>): PolicySettings {
  return { algorithm: 'epsilon-greedy', epsilon: 0.1, random: mulberry32(42), ...overrides };
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
  const tried: Arm[] = [
    { id: 'good', n: 20, rewardSum: 18 },
    { id: 'poor', n: 20, rewardSum: 4 },
  ];

  for (const algorithm of ['epsilon-greedy', 'ucb1'] as const) {
    it(`${algorithm}: tries every untried arm before any tried one`, () => {
      const arms = [...tried, { id: 'new-a', n: 0, rewardSum: 0 }, { id: 'new-b', n: 0, rewardSum: 0 }];

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
    const arms: Arm[] = [
      { id: 'worse', n: 100, rewardSum: 10 },
      { id: 'better', n: 100, rewardSum: 90 },
    ];

    const counts = tally(arms, settings({ algorithm: 'thompson' }), 1000);

    assert.ok((counts.get('better') ?? 0) > 950, `better chosen ${counts.get('better')} of 1000`);
  });

  it('thompson sampling still samples arms it has little evidence about', () => {
    const arms: Arm[] = [
      { id: 'known', n: 50, rewardSum: 30 },
      { id: 'barely-tried', n: 1, rewardSum: 0.5 },
    ];

    const counts = tally(arms, settings({ algorithm: 'thompson' }), 1000);

    assert.ok(
      (counts.get('barely-tried') ?? 0) > 50,
      `barely-tried chosen ${counts.get('barely-tried')} of 1000`,
    );
    assert.ok((counts.get('known') ?? 0) > 50, `known chosen ${counts.get('known')} of 1000`);
  });

  it('ucb1 exploits the best arm once every arm has plenty of evidence', () => {
    const arms: Arm[] = [
      { id: 'good', n: 1000, rewardSum: 900 },
      { id: 'poor', n: 1000, rewardSum: 100 },
    ];

    assert.deepEqual(chooseArm(arms, settings({ algorithm: 'ucb1' })), { id: 'good', reason: 'exploit' });
  });

  it('picks the cheapest arm among arms with equal means', () => {
    const cost: Record<string, number> = { pricey: 0.01, cheap: 0.0005, mid: 0.002 };
    const arms: Arm[] = [
      { id: 'pricey', n: 10, rewardSum: 8 },
      { id: 'cheap', n: 5, rewardSum: 4 },
      { id: 'mid', n: 20, rewardSum: 16 },
    ];

    const counts = tally(arms, settings({ epsilon: 0, cost: (id) => cost[id]! }), 500);

    assert.deepEqual([...counts], [['cheap', 500]]);
  });

  it('prefers a cheaper arm within the cost tolerance of the best, and only within it', () => {
    const cost: Record<string, number> = { best: 0.01, near: 0.001, far: 0.0001 };
    const arms: Arm[] = [
      { id: 'best', n: 1000, rewardSum: 850 },
      { id: 'near', n: 1000, rewardSum: 840 },
      { id: 'far', n: 1000, rewardSum: 600 },
    ];
    const greedy = (tolerance: number) =>
      chooseArm(arms, settings({ epsilon: 0, cost: (id) => cost[id]!, tolerance })).id;

    assert.equal(greedy(0), 'best');
    assert.equal(greedy(0.02), 'near');
    assert.equal(greedy(0.3), 'far');
  });

  it('gives the only arm with reason only-choice', () => {
    assert.deepEqual(chooseArm([{ id: 'solo', n: 0, rewardSum: 0 }], settings({})), {
      id: 'solo',
      reason: 'only-choice',
    });
  });

  it('throws when there is no arm', () => {
    assert.throws(() => chooseArm([], settings({})));
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
