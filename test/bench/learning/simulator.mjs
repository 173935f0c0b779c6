// The learning simulator: agent tasks as a stochastic environment whose ground truth (each arm's expected reward
// per complexity tier, at every run) the benchmark knows and the learner does not; the learners that act in it
// (the real LearningPipeline over a real store, and the reference oracle and uniform learners); and the episode
// runner that scores a learner against the ground truth.
//
// Ground truth and human feedback. A run's reward is the weighted mean of the signals present (src/core/learning/reward.ts).
// The simulator gives each run one quality signal: `compile` (Bernoulli arm with p: reward 1 with probability p)
// or `tests` (Beta arm: a pass rate x ~ Beta, reward ≈ x). A human verdict, when one comes, is an accept with
// probability equal to the run's quality (p for a Bernoulli arm, the drawn x for a Beta arm). The reward after
// the verdict is (w_q·q + w_h·h) / (w_q + w_h) with E[h | q] = E[q], so an arm's expected reward is the same with
// or without feedback, whatever the weights: the expected rewards below are exact ground truth in every scenario,
// and feedback only changes what the learner sees, and when. (Beta pass rates are rounded to 1/1000, a bias below
// 1e-6.)

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../support/mulberry32.cjs';

export const TIERS = ['small', 'medium', 'large'];
const ROLE = 'coder';
const TEST_TOTAL = 1000;
/** Recovery is judged on windows of this many runs (see eventOutcome). */
export const RECOVERY_WINDOW = 100;

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The scenarios, learners and off values of `scenarios.json`, validated. */
export function loadScenarios(file = path.join(HERE, 'scenarios.json')) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const s of data.scenarios) validateScenario(s);
  for (const l of data.learners) validateLearner(l);
  return { scenarios: data.scenarios, learners: data.learners, offValues: data.offValues ?? {} };
}

// ---- randomness ----

// mulberry32: small, fast, good enough for simulation; the same generator the tests use.
export { mulberry32 };

/** An independent stream per (seed, purpose): learners on the same seed face the same tasks and draws. */
export function deriveSeed(seed, ...parts) {
  let h = 2166136261 ^ (seed >>> 0);
  for (const ch of parts.join('/')) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function sampleNormal(rng) {
  const u1 = rng() || Number.MIN_VALUE;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rng());
}

/** Marsaglia and Tsang (2000); the simulator's own copy, so that a bug in the core's sampler cannot hide. */
function sampleGamma(shape, rng) {
  if (shape < 1) return sampleGamma(shape + 1, rng) * Math.pow(rng() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x;
    let v;
    do {
      x = sampleNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng() || Number.MIN_VALUE;
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function sampleBeta(a, b, rng) {
  const x = sampleGamma(a, rng);
  const y = sampleGamma(b, rng);
  return x / (x + y);
}

// ---- reward distributions ----

function betaShape(beta) {
  return 'mean' in beta
    ? { a: beta.mean * beta.concentration, b: (1 - beta.mean) * beta.concentration }
    : { a: beta.a, b: beta.b };
}

/** The exact expected reward of a distribution ({bernoulli: p} or {beta: {mean, concentration} | {a, b}}). */
export function expectedReward(dist) {
  if ('bernoulli' in dist) return dist.bernoulli;
  const { a, b } = betaShape(dist.beta);
  return a / (a + b);
}

function isDistribution(r) {
  return r !== null && typeof r === 'object' && ('bernoulli' in r || 'beta' in r);
}

/** An arm's distribution for a tier (router arms may give one per tier); undefined where it does not serve it. */
function distributionFor(arm, tier) {
  if (isDistribution(arm.reward)) return arm.reward;
  return tier === undefined ? undefined : arm.reward[tier];
}

// ---- validation ----

function fail(where, message) {
  throw new Error(`${where}: ${message}`);
}

function checkDistribution(d, where) {
  if (!isDistribution(d)) fail(where, 'expected {"bernoulli": p} or {"beta": {...}}');
  if ('bernoulli' in d) {
    if (!(d.bernoulli >= 0 && d.bernoulli <= 1)) fail(where, 'bernoulli p must be in [0, 1]');
    return;
  }
  const { a, b } = betaShape(d.beta);
  if (!(a > 0 && b > 0)) fail(where, 'beta needs mean in (0, 1) and concentration > 0, or a > 0 and b > 0');
}

function checkArm(arm, scenario, where) {
  if (typeof arm.id !== 'string' || arm.id === '') fail(where, 'arm without an id');
  if (scenario.kind === 'prompt') {
    checkDistribution(arm.reward, `${where} ${arm.id}`);
    return;
  }
  if (!(arm.costPer1kTokens >= 0)) fail(`${where} ${arm.id}`, 'costPer1kTokens must be ≥ 0');
  if (!(arm.tokensPerRun > 0)) fail(`${where} ${arm.id}`, 'tokensPerRun must be > 0');
  if (!Array.isArray(arm.tiers) || arm.tiers.length === 0 || arm.tiers.some((t) => !TIERS.includes(t)))
    fail(`${where} ${arm.id}`, `tiers must list some of ${TIERS.join(', ')}`);
  for (const t of arm.tiers) checkDistribution(distributionFor(arm, t), `${where} ${arm.id} (${t})`);
}

/** Throws an Error naming the scenario and the field that is wrong. */
export function validateScenario(s) {
  const where = `scenario ${s?.id ?? '?'}`;
  if (typeof s?.id !== 'string' || s.id === '') fail(where, 'needs an id');
  if (s.kind !== 'prompt' && s.kind !== 'router') fail(where, 'kind must be "prompt" or "router"');
  if (!Number.isInteger(s.runs) || s.runs <= 0) fail(where, 'runs must be a positive integer');
  if (!Array.isArray(s.arms) || s.arms.length === 0) fail(where, 'needs arms');
  if (s.kind === 'router') {
    if (!(s.cap >= 0)) fail(where, 'router scenarios need a cap (USD per 1,000 tokens)');
    const mix = Object.entries(s.tiers ?? {});
    if (mix.length === 0 || mix.some(([t, w]) => !TIERS.includes(t) || !(w >= 0)))
      fail(where, 'tiers must map small/medium/large to weights');
  }
  const ids = new Set();
  for (const arm of s.arms) {
    checkArm(arm, s, where);
    if (ids.has(arm.id)) fail(where, `duplicate arm ${arm.id}`);
    ids.add(arm.id);
  }
  for (const e of s.events ?? []) {
    if (!Number.isInteger(e.atRun) || e.atRun < 0) fail(where, 'event atRun must be an integer ≥ 0');
    if (e.addArm) {
      checkArm(e.addArm, s, `${where} event at ${e.atRun}`);
      if (ids.has(e.addArm.id)) fail(where, `event adds ${e.addArm.id}, which exists`);
      ids.add(e.addArm.id);
    } else if (typeof e.arm === 'string') {
      if (!ids.has(e.arm)) fail(where, `event changes unknown arm ${e.arm}`);
      const arm = [...s.arms, ...(s.events ?? []).map((x) => x.addArm).filter(Boolean)].find(
        (a) => a.id === e.arm,
      );
      checkArm({ ...arm, reward: e.reward }, s, `${where} event at ${e.atRun}`);
    } else fail(where, `event at ${e.atRun} needs addArm, or arm and reward`);
  }
  if (s.feedback) {
    const f = s.feedback;
    if (!(f.fraction >= 0 && f.fraction <= 1)) fail(where, 'feedback.fraction must be in [0, 1]');
    if (!(Number.isInteger(f.minDelay) && f.minDelay >= 1 && Number.isInteger(f.maxDelay)))
      fail(where, 'feedback needs integer minDelay ≥ 1 and maxDelay');
    if (f.maxDelay < f.minDelay) fail(where, 'feedback.maxDelay must be ≥ minDelay');
  }
}

function validateLearner(l) {
  const where = `learner ${l?.id ?? '?'}`;
  if (typeof l?.id !== 'string' || l.id === '') fail(where, 'needs an id');
  if (l.reference !== undefined && !['oracle', 'uniform'].includes(l.reference))
    fail(where, 'reference must be "oracle" or "uniform"');
  if (l.reference === undefined && !l.promptBandit && !l.modelRouter)
    fail(where, 'needs promptBandit and/or modelRouter settings, or a reference');
}

// ---- the environment ----

export class Environment {
  /** `seed` fixes the tasks (tiers), the outcomes and the feedback: every learner on a seed faces the same draws. */
  constructor(scenario, seed) {
    validateScenario(scenario);
    this.scenario = scenario;
    this.kind = scenario.kind;
    this.cap = scenario.kind === 'router' ? scenario.cap : Infinity;
    this.arms = new Map(scenario.arms.map((a) => [a.id, { ...a }]));
    this.events = [...(scenario.events ?? [])].sort((a, b) => a.atRun - b.atRun);
    this.contextRng = mulberry32(deriveSeed(seed, 'context'));
    this.feedbackRng = mulberry32(deriveSeed(seed, 'feedback'));
    this.outcomeSeed = deriveSeed(seed, 'outcome');
    const mix = Object.entries(scenario.tiers ?? {});
    const total = mix.reduce((s, [, w]) => s + w, 0);
    let acc = 0;
    this.tierCdf = mix.map(([t, w]) => [t, (acc += w / total)]);
  }

  /** Applies the events due before run `step`. Returns the events applied. */
  advance(step) {
    const applied = [];
    while (this.events.length && this.events[0].atRun <= step) {
      const e = this.events.shift();
      if (e.addArm) this.arms.set(e.addArm.id, { ...e.addArm });
      else this.arms.set(e.arm, { ...this.arms.get(e.arm), reward: e.reward });
      applied.push(e);
    }
    return applied;
  }

  /** The arms as a learner is told about them: ids, and for models their cost and tiers; never rewards. */
  visibleArms() {
    return [...this.arms.values()].map((a) =>
      this.kind === 'prompt'
        ? { id: a.id }
        : { id: a.id, costPer1kTokens: a.costPer1kTokens, tiers: [...a.tiers] },
    );
  }

  /** The task of run `step`: its complexity tier (router) and the cost cap. */
  context(step) {
    if (this.kind === 'prompt') return { step, tier: undefined, cap: Infinity };
    const u = this.contextRng();
    const tier = (this.tierCdf.find(([, c]) => u < c) ?? this.tierCdf[this.tierCdf.length - 1])[0];
    return { step, tier, cap: this.cap };
  }

  /** Arms a correct learner may pick for this task: serving its tier, within the cap. */
  eligible(ctx) {
    return [...this.arms.values()]
      .filter((a) => this.kind === 'prompt' || (a.tiers.includes(ctx.tier) && a.costPer1kTokens <= ctx.cap))
      .map((a) => a.id);
  }

  /** Ground truth: the expected reward of `id` on this task (0 for an arm that does not serve the tier). */
  expected(id, ctx) {
    const arm = this.arms.get(id);
    const d = arm && (this.kind === 'prompt' ? arm.reward : distributionFor(arm, ctx.tier));
    return d && (this.kind === 'prompt' || arm.tiers.includes(ctx.tier)) ? expectedReward(d) : 0;
  }

  /** USD per run of `id` (0 for prompts: the model is fixed). */
  costPerRun(id) {
    const arm = this.arms.get(id);
    return this.kind === 'prompt' || !arm ? 0 : (arm.costPer1kTokens * arm.tokensPerRun) / 1000;
  }

  /** The eligible arm with the highest expected reward; ties go to the cheaper, then to the first listed. */
  best(ctx) {
    return this.rank(ctx, (a, b) => b.mu - a.mu || a.cost - b.cost);
  }

  /** The cheapest eligible arm; ties go to the better one. */
  cheapest(ctx) {
    return this.rank(ctx, (a, b) => a.cost - b.cost || b.mu - a.mu);
  }

  rank(ctx, order) {
    const scored = this.eligible(ctx).map((id) => ({
      id,
      mu: this.expected(id, ctx),
      cost: this.costPerRun(id),
    }));
    return scored.sort(order)[0];
  }

  /**
   * One run of `id` on this task: the result handed to recordRun, and the human verdict that will follow
   * `delay` runs later (or none). Draws come from per-run streams, so they do not depend on earlier choices.
   */
  sample(id, ctx) {
    const arm = this.arms.get(id);
    const rng = mulberry32(deriveSeed(this.outcomeSeed, String(ctx.step)));
    // Three feedback draws per run whatever happens, so that the stream stays aligned across learners.
    const fb = [this.feedbackRng(), this.feedbackRng(), this.feedbackRng()];
    const d = arm && (this.kind === 'prompt' ? arm.reward : distributionFor(arm, ctx.tier));
    const result = { input: `${this.scenario.id} task ${ctx.step}`, output: `${id} output ${ctx.step}` };
    let quality;
    if (!d) {
      result.compile = false; // an arm asked to do what it does not serve
      quality = 0;
    } else if ('bernoulli' in d) {
      result.compile = rng() < d.bernoulli;
      quality = d.bernoulli;
    } else {
      const { a, b } = betaShape(d.beta);
      quality = sampleBeta(a, b, rng);
      result.tests = { passed: Math.round(quality * TEST_TOTAL), total: TEST_TOTAL };
    }
    if (this.kind === 'router') {
      result.complexity = ctx.tier;
      if (arm) result.costTokens = arm.tokensPerRun;
    }
    const f = this.scenario.feedback;
    if (!f || fb[0] >= f.fraction) return { result, verdict: undefined, delay: 0 };
    return {
      result,
      verdict: fb[1] < quality ? 'accept' : 'reject',
      delay: f.minDelay + Math.floor(fb[2] * (f.maxDelay - f.minDelay + 1)),
    };
  }
}

// ---- learners ----
// A learner: { id, start(arms, { kind, random, env }), choose(ctx) → arm id, observe(ctx, id, result) → run id,
// feedback(runId, verdict), armsChanged(arms), stop() }; all may return promises.

/** Always the true best arm: it reads the environment's ground truth (for testing the simulator). */
export function oracleLearner() {
  let env;
  return {
    id: 'oracle',
    start(_arms, tools) {
      env = tools.env;
    },
    choose: (ctx) => env.best(ctx).id,
    observe: () => undefined,
    feedback: () => undefined,
    armsChanged: () => undefined,
    stop: () => undefined,
  };
}

/** A uniformly random arm among those it may pick (serving the tier, within the cap); learns nothing. */
export function uniformLearner() {
  let arms = [];
  let random;
  return {
    id: 'uniform',
    start(visible, tools) {
      arms = visible;
      random = tools.random;
    },
    choose(ctx) {
      const ok = arms.filter(
        (a) => a.tiers === undefined || (a.tiers.includes(ctx.tier) && a.costPer1kTokens <= ctx.cap),
      );
      return ok[Math.min(ok.length - 1, Math.floor(random() * ok.length))].id;
    },
    observe: () => undefined,
    feedback: () => undefined,
    armsChanged(visible) {
      arms = visible;
    },
    stop: () => undefined,
  };
}

/** Where the pipelines' workspaces go: /dev/shm when there is one (fsync there costs nothing). */
export function benchTempRoot() {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

/**
 * `def` as this build can run it. A key its config does not have (compared with `core.defaultConfig()`), e.g.
 * `promptBandit.window` on a build without windows, is dropped when it has its `offValues` value (the learner
 * behaves the same without it); any other unknown key is reported in `missing`, and the learner cannot be run.
 */
export function resolveLearner(core, def, offValues = {}) {
  const defaults = core.defaultConfig();
  const missing = [];
  const out = { ...def };
  for (const section of ['promptBandit', 'modelRouter']) {
    if (!def[section]) continue;
    out[section] = {};
    for (const [key, value] of Object.entries(def[section])) {
      if (key in defaults[section]) out[section][key] = value;
      else if (!(key in offValues && offValues[key] === value)) missing.push(`${section}.${key}`);
    }
  }
  return { def: out, missing };
}

/** Whether learner `def` applies to scenario `s`: it has settings for what the scenario exercises. */
export function learnerApplies(def, s) {
  if (def.reference) return true;
  return s.kind === 'prompt' ? def.promptBandit !== undefined : def.modelRouter !== undefined;
}

/**
 * The learner under test: the real LearningPipeline (`core` is dist/core.js or src/core) on a real sql.js store in
 * a fresh temporary workspace, configured with `def.promptBandit` / `def.modelRouter` as they are, driven only
 * through its public API.
 */
export function pipelineLearner(core, def, { tempRoot = benchTempRoot() } = {}) {
  let dir;
  let pipeline;
  let kind;
  const agent = (name) => path.join(dir, '.agent', name);
  const writeArms = (arms) => {
    const config = {
      promptBandit: {
        ...def.promptBandit,
        variants: kind === 'prompt' ? arms.map((a) => a.id) : ['default'],
      },
      modelRouter: { ...def.modelRouter },
      autoExport: { enabled: false },
      autoTrain: { enabled: false },
    };
    fs.writeFileSync(agent('learning-config.json'), JSON.stringify(config, null, 2));
    if (kind === 'router')
      fs.writeFileSync(agent('model_variants.json'), JSON.stringify({ variants: arms }, null, 2));
  };
  return {
    id: def.id,
    async start(arms, tools) {
      kind = tools.kind;
      dir = fs.mkdtempSync(path.join(tempRoot, 'al-learning-'));
      fs.mkdirSync(path.join(dir, '.agent'));
      writeArms(arms);
      pipeline = await core.LearningPipeline.open(dir, {
        random: tools.random,
        log: () => {},
        pollIntervalMs: 0,
      });
      const problems = pipeline.problems();
      if (problems.length) throw new Error(`learner ${def.id}: ${problems.map((p) => p.message).join('; ')}`);
    },
    choose(ctx) {
      return kind === 'prompt'
        ? pipeline.selectPrompt(ROLE).id
        : pipeline.selectModel(ctx.tier, ctx.cap, ROLE).id;
    },
    async observe(_ctx, id, result) {
      const run =
        kind === 'prompt'
          ? await pipeline.recordRun('bench', 'bench-model', id, result, ROLE)
          : await pipeline.recordRun('bench', id, 'default', result, ROLE);
      return run.id;
    },
    async feedback(runId, verdict) {
      await pipeline.recordFeedback(runId, verdict);
    },
    armsChanged(arms) {
      // The pipeline re-reads its files on its own about once a second of wall time; a simulated run is far
      // shorter, so it is told to, through its public reloadConfig().
      writeArms(arms);
      const error = pipeline.reloadConfig();
      if (error) throw new Error(`learner ${def.id}: ${error.message}`);
    },
    async stop() {
      try {
        await pipeline?.close();
      } finally {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The learner for `def`: a reference learner, or the pipeline configured by it. */
export function createLearner(core, def, options) {
  if (def.reference === 'oracle') return { ...oracleLearner(), id: def.id };
  if (def.reference === 'uniform') return { ...uniformLearner(), id: def.id };
  return pipelineLearner(core, def, options);
}

// ---- the episode ----

/** Cumulative-regret checkpoints reported for every scenario (those within its runs, plus the last run). */
export const CHECKPOINTS = [100, 500, 2000];
/** Points on the regret curve kept per episode (for the chart). */
const CURVE_POINTS = 100;

/**
 * Runs `learner` for `runs` runs (default: the scenario's) of `scenario` with `seed`, and scores every choice
 * against the ground truth. Per run: regret = best expected reward − the chosen arm's; for the router also the
 * cost, and the cost and reward of the two baselines (always the best model, always the cheapest within the cap)
 * on the same task.
 */
export async function runEpisode({ scenario, learner, seed, runs = scenario.runs }) {
  const env = new Environment(scenario, seed);
  const T = runs;
  const regret = new Float64Array(T);
  const onBest = new Uint8Array(T);
  const chosen = new Array(T);
  const tiers = new Array(T);
  const sums = () => ({ mu: 0, muUniform: 0, muBest: 0, muCheap: 0, cost: 0, costBest: 0, costCheap: 0 });
  const first = sums();
  const all = sums();
  const firstN = Math.min(100, T);
  let violations = 0;
  const applied = [];
  const due = new Map();
  env.advance(0); // events at run 0 are part of the starting state
  try {
    await learner.start(env.visibleArms(), {
      kind: env.kind,
      random: mulberry32(deriveSeed(seed, 'learner')),
      env,
    });
    for (let t = 0; t < T; t++) {
      if (t > 0 && env.events.length && env.events[0].atRun <= t) {
        const before = bestPerTier(env);
        const events = env.advance(t);
        const after = bestPerTier(env);
        for (const e of events) applied.push({ event: e, atRun: t, bestBefore: before, bestAfter: after });
        await learner.armsChanged(env.visibleArms());
      }
      for (const f of due.get(t) ?? []) await learner.feedback(f.runId, f.verdict);
      due.delete(t);

      const ctx = env.context(t);
      const id = await learner.choose(ctx);
      if (!env.arms.has(id)) throw new Error(`learner ${learner.id} chose unknown arm ${id}`);
      const eligible = env.eligible(ctx);
      if (!eligible.includes(id)) violations++;
      const best = env.best(ctx);
      const cheap = env.cheapest(ctx);
      const mu = env.expected(id, ctx);
      regret[t] = best.mu - mu;
      onBest[t] = id === best.id || env.expected(id, ctx) === best.mu ? 1 : 0;
      chosen[t] = id;
      tiers[t] = ctx.tier;
      const step = {
        mu,
        muUniform: eligible.reduce((s, a) => s + env.expected(a, ctx), 0) / eligible.length,
        muBest: best.mu,
        muCheap: cheap.mu,
        cost: env.costPerRun(id),
        costBest: best.cost,
        costCheap: cheap.cost,
      };
      for (const k of Object.keys(step)) {
        all[k] += step[k];
        if (t < firstN) first[k] += step[k];
      }

      const out = env.sample(id, ctx);
      const runId = await learner.observe(ctx, id, out.result);
      if (out.verdict && runId) {
        const at = t + out.delay;
        if (!due.has(at)) due.set(at, []);
        due.get(at).push({ runId, verdict: out.verdict });
      }
    }
  } finally {
    await learner.stop();
  }

  const cum = new Float64Array(T);
  let acc = 0;
  for (let t = 0; t < T; t++) cum[t] = acc += regret[t];
  const checkpoints = [...new Set([...CHECKPOINTS.filter((c) => c <= T), T])];
  const every = Math.max(1, Math.floor(T / CURVE_POINTS));
  const curve = [];
  for (let t = every; t <= T; t += every) curve.push(cum[t - 1]);
  const mean = (s, n) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v / n]));
  return {
    scenario: scenario.id,
    learner: learner.id,
    seed,
    runs: T,
    regretAt: Object.fromEntries(checkpoints.map((c) => [c, cum[c - 1]])),
    curve,
    curveEvery: every,
    bestShare: onBest.reduce((s, x) => s + x, 0) / T,
    first: { runs: firstN, ...mean(first, firstN) },
    all: { runs: T, ...mean(all, T) },
    violations,
    events: applied.map((a) => eventOutcome(a, { onBest, chosen, tiers, T, regret })),
  };
}

/** The best arm per tier (prompt: one, under the key undefined), to tell whether an event changed it. */
function bestPerTier(env) {
  const tiers = env.kind === 'prompt' ? [undefined] : Object.keys(env.scenario.tiers);
  return new Map(tiers.map((tier) => [tier, env.best({ step: -1, tier, cap: env.cap })?.id ?? null]));
}

const sameBest = (a, b) => [...a].every(([tier, id]) => b.get(tier) === id);

/**
 * What happened after an event. For one that changed the best arm: the runs until the learner moved to the new
 * best arm, read from its choices in windows of RECOVERY_WINDOW runs (those before the event included): the move
 * is at the centre of the first window in which the new best arm has at least half of the runs. A learner that
 * switches cleanly k runs after the event scores k; one that never gets there counts as the runs left
 * (censored). A window this long keeps chance out: a uniform choice among three arms fills half of a given
 * window with odds of about 1 in 5,000. Also the share of runs on the best arm after the event, and for an added arm its share
 * of the runs after it came and in the last quarter.
 */
function eventOutcome({ event, atRun, bestBefore, bestAfter }, { onBest, chosen, tiers, T, regret }) {
  const bestChanged = !sameBest(bestBefore, bestAfter);
  const out = {
    atRun,
    label: event.addArm ? `${event.addArm.id} added` : `${event.arm} changes`,
    bestChanged,
    recovery: null,
    censored: false,
    regretAfter: regret.subarray(atRun).reduce((s, x) => s + x, 0),
    bestShareAfter: onBest.subarray(atRun).reduce((s, x) => s + x, 0) / Math.max(1, T - atRun),
  };
  if (bestChanged) {
    const L = Math.min(RECOVERY_WINDOW, T - atRun);
    const half = Math.floor(L / 2);
    const from = Math.max(0, atRun - half);
    const hit = (t) => (t >= atRun ? onBest[t] : chosen[t] === bestAfter.get(tiers[t]) ? 1 : 0);
    let hits = 0;
    for (let t = from; t < from + L; t++) hits += hit(t);
    let j = from;
    while (hits * 2 < L && j + L < T) {
      hits += hit(j + L) - hit(j);
      j++;
    }
    out.censored = hits * 2 < L;
    out.recovery = out.censored ? T - atRun : Math.max(0, j + half - atRun);
  }
  if (event.addArm) {
    const id = event.addArm.id;
    const share = (from) => chosen.slice(from).filter((c) => c === id).length / Math.max(1, T - from);
    out.addedArm = id;
    out.shareAfter = share(atRun);
    out.shareFinal = share(Math.max(atRun, Math.floor(T * 0.75)));
  }
  return out;
}
