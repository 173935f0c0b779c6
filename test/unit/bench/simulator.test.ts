import assert from 'node:assert/strict';
import { defaultConfig } from '../../../src/core/workspace/config';
import { LearningPipeline } from '../../../src/core/pipeline';
import { computeReward } from '../../../src/core/learning/reward';
import { toRunRecord, validateRunArgs } from '../../../src/core/learning/runResult';
import type { Core, LearnerDef, Scenario } from '../../bench/learning/simulator.mjs' with {
  'resolution-mode': 'import',
};

type Simulator = typeof import('../../bench/learning/simulator.mjs', {
  with: { 'resolution-mode': 'import' },
});

// The learner under test is the core from source, so these tests need no build.
const core = { LearningPipeline, defaultConfig } as unknown as Core;

describe('learning simulator', () => {
  let sim: Simulator;
  let scenarios: Scenario[];
  let learners: LearnerDef[];
  let offValues: Record<string, unknown>;

  before(async () => {
    // An ES module (the benchmark runs it with plain node); this test file is compiled to CommonJS.
    sim = await import('../../bench/learning/simulator.mjs');
    ({ scenarios, learners, offValues } = sim.loadScenarios());
  });

  const scenario = (id: string): Scenario => {
    const s = scenarios.find((x) => x.id === id);
    assert.ok(s, `scenarios.json has no ${id}`);
    return s;
  };
  const learner = (id: string): LearnerDef => {
    const l = learners.find((x) => x.id === id);
    assert.ok(l, `scenarios.json has no learner ${id}`);
    const { def, missing } = sim.resolveLearner(core, l, offValues);
    assert.deepEqual(missing, [], `learner ${id} needs config keys the core lacks`);
    return def;
  };

  it('loads scenarios covering the stationary, feedback and non-stationary cases', () => {
    const kinds = new Set(scenarios.map((s) => s.kind));
    assert.deepEqual([...kinds].sort(), ['prompt', 'router']);
    assert.ok(
      scenarios.some((s) => s.feedback),
      'a scenario with delayed human feedback',
    );
    assert.ok(
      scenarios.some((s) => s.events?.some((e) => e.arm)),
      'a scenario where an arm changes',
    );
    assert.ok(
      scenarios.some((s) => s.events?.some((e) => e.addArm)),
      'a scenario where an arm is added',
    );
    assert.ok(
      scenarios.some((s) => s.kind === 'router' && s.standard),
      'the standard router scenario',
    );
  });

  it('rejects a scenario whose reward is not a probability, naming the arm', () => {
    const bad = { ...scenario('clear-prompts'), arms: [{ id: 'x', reward: { bernoulli: 1.5 } }] };

    assert.throws(() => sim.validateScenario(bad), /clear-prompts.*x.*bernoulli/);
  });

  it('gives an oracle learner zero regret in every scenario', async () => {
    for (const s of scenarios) {
      const r = await sim.runEpisode({ scenario: s, learner: sim.oracleLearner(), seed: 1 });

      for (const [at, regret] of Object.entries(r.regretAt)) assert.equal(regret, 0, `${s.id} @${at}`);
      assert.equal(r.bestShare, 1, s.id);
      assert.equal(r.violations, 0, s.id);
    }
  });

  it("grows a uniform learner's regret linearly, by the expected gap per run", async () => {
    const seeds = 20;
    for (const id of ['clear-prompts', 'close-prompts-beta']) {
      const s = scenario(id);
      const mus = s.arms.map((a) =>
        sim.expectedReward(a.reward as Parameters<Simulator['expectedReward']>[0]),
      );
      const gaps = mus.map((m) => Math.max(...mus) - m);
      const gap = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      const gapVar = gaps.reduce((a, g) => a + (g - gap) ** 2, 0) / gaps.length;
      let at500 = 0;
      let at2000 = 0;

      for (let seed = 1; seed <= seeds; seed++) {
        const r = await sim.runEpisode({ scenario: s, learner: sim.uniformLearner(), seed, runs: 2000 });
        at500 += r.regretAt[500]! / seeds;
        at2000 += r.regretAt[2000]! / seeds;
      }

      // Each run's regret is an independent draw of the gap of a uniformly chosen arm: the sum is within four
      // standard errors of T × mean gap.
      const se = Math.sqrt((2000 * gapVar) / seeds);
      assert.ok(Math.abs(at2000 - 2000 * gap) < 4 * se, `${id}: ${at2000} vs ${2000 * gap} ± ${4 * se}`);
      assert.ok(Math.abs(at2000 / at500 - 4) < 0.25, `${id}: regret @2000 / @500 = ${at2000 / at500}`);
    }
  });

  it("keeps an arm's expected reward when human verdicts are added, under the core's own reward", () => {
    const s = { ...scenario('delayed-feedback'), feedback: { fraction: 1, minDelay: 1, maxDelay: 1 } };
    const env = new sim.Environment(s, 3);
    const weights = defaultConfig().rewardWeights;
    const n = 10_000;
    for (const arm of s.arms) {
      let without = 0;
      let withVerdict = 0;
      for (let step = 0; step < n; step++) {
        const ctx = { step, tier: undefined, cap: Infinity };
        const { result, verdict } = env.sample(arm.id, ctx);
        const reward = (human?: 'accept' | 'reject') => {
          const args = validateRunArgs('t', 'm', arm.id, { ...result, ...(human ? { human } : {}) });
          const ids = { id: 'r', createdAt: 0, taskSlug: 't', role: 'coder', modelId: 'm', promptId: arm.id };
          return computeReward(toRunRecord(ids, args.result), weights);
        };
        without += reward() / n;
        withVerdict += reward(verdict) / n;
      }

      const mu = env.expected(arm.id, { step: 0, tier: undefined, cap: Infinity });
      assert.ok(Math.abs(without - mu) < 0.01, `${arm.id} without feedback: ${without} vs ${mu}`);
      assert.ok(Math.abs(withVerdict - mu) < 0.01, `${arm.id} with feedback: ${withVerdict} vs ${mu}`);
    }
  });

  it('measures recovery as the runs until a learner switches to the new best arm', async () => {
    const s = scenario('prompt-degrades'); // 'detailed' is best until run 1000, then 'default'
    const switchingAt = (k: number) => ({
      ...sim.uniformLearner(),
      id: `switch-${k}`,
      choose: (ctx: { step: number }) => (ctx.step < 1000 + k ? 'detailed' : 'default'),
    });

    const after40 = await sim.runEpisode({ scenario: s, learner: switchingAt(40), seed: 1 });
    const atOnce = await sim.runEpisode({ scenario: s, learner: switchingAt(0), seed: 1 });
    const never = await sim.runEpisode({ scenario: s, learner: switchingAt(5000), seed: 1 });

    assert.equal(after40.events[0]?.recovery, 40);
    assert.equal(atOnce.events[0]?.recovery, 0);
    assert.equal(never.events[0]?.censored, true);
    assert.equal(never.events[0]?.recovery, 1000);
  });

  it("gives the pipeline under its defaults less regret than the seed's ε-greedy on clear prompts", async () => {
    const s = scenario('clear-prompts');
    const total = async (def: LearnerDef) => {
      let sum = 0;
      for (const seed of [1, 2, 3]) {
        const r = await sim.runEpisode({
          scenario: s,
          learner: sim.pipelineLearner(core, def),
          seed,
          runs: 1000,
        });
        sum += r.regretAt[1000]!;
      }
      return sum;
    };

    const defaults = await total(learner('defaults'));
    const greedy = await total(learner('epsilon-greedy'));

    assert.ok(defaults < greedy, `defaults ${defaults} vs epsilon-greedy ${greedy}`);
  });

  it('never lets the pipeline pick a model above the cap, and tells it about a model added mid-run', async () => {
    const def = learner('defaults');

    const standard = await sim.runEpisode({
      scenario: scenario('router-standard'),
      learner: sim.pipelineLearner(core, def),
      seed: 1,
      runs: 300,
    });
    const added = await sim.runEpisode({
      scenario: scenario('router-new-model'),
      learner: sim.pipelineLearner(core, def),
      seed: 1,
      runs: 600,
    });

    assert.equal(standard.violations, 0);
    assert.equal(added.violations, 0);
    assert.ok((added.events[0]?.shareAfter ?? 0) > 0, 'the model added after 300 runs was tried');
  });
});
