// `npm run bench:learning` (builds first): every scenario of scenarios.json × every learner that applies × SEEDS
// seeds, run on worker threads against the real pipeline in dist/core.js; then the throughput at 1k and 100k
// stored runs. Prints the tables, writes the "Learning benchmark" section of BENCHMARKS.md (between its markers;
// the rest of the file is the storage benchmark's) and docs/regret.svg.
//
// Environment: SEEDS (default 50), RUNS (overrides every scenario's run count), SCENARIOS and LEARNERS
// (comma-separated ids), WORKERS (default: one per core), THROUGHPUT_SIZES (default 1000,10000,100000; 0 skips).
// A quick run (fewer than 50 seeds, RUNS, SCENARIOS or LEARNERS set) prints only, unless BENCH_WRITE=1;
// BENCH_NO_WRITE=1 never writes. Example: SEEDS=5 RUNS=500 THROUGHPUT_SIZES=0 npm run bench:learning
// The measurements are kept in test-artifacts/learning-bench.json; REPORT_ONLY=1 redraws the report from them,
// THROUGHPUT_ONLY=1 measures the throughput again and keeps the episodes.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { aggregate, judgeTargets, markdown, regretSvg, writeSection } from './report.mjs';
import { benchTempRoot, learnerApplies, loadScenarios, resolveLearner } from './simulator.mjs';
import { measureThroughput } from './throughput.mjs';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..');
const CORE = path.join(ROOT, 'dist', 'core.js');
/** The last run's measurements, so that the report can be redrawn without running again (REPORT_ONLY=1). */
const CACHE = path.join(ROOT, 'test-artifacts', 'learning-bench.json');
const FULL_SEEDS = 50;

const env = process.env;
const SEEDS = Number(env.SEEDS ?? FULL_SEEDS);
const RUNS = env.RUNS === undefined ? undefined : Number(env.RUNS);
const ids = (v) => (v ? new Set(v.split(',').map((s) => s.trim())) : undefined);
const ONLY_SCENARIOS = ids(env.SCENARIOS);
const ONLY_LEARNERS = ids(env.LEARNERS);
const WORKERS = Number(env.WORKERS ?? os.availableParallelism?.() ?? os.cpus().length);
const THROUGHPUT_SIZES = (env.THROUGHPUT_SIZES ?? '1000,10000,100000')
  .split(',')
  .map((s) => Number(s.trim().replace(/k$/i, '000')))
  .filter((n) => n > 0);

function git(args) {
  try {
    return execFileSync('git', args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

/**
 * A private copy of the built core (and its wasm): the benchmark runs for minutes, and a rebuild of dist/ meanwhile
 * must not give the workers started later a different learner.
 */
function snapshotCore() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-core-'));
  for (const f of ['core.js', 'sql-wasm.wasm'])
    fs.copyFileSync(path.join(ROOT, 'dist', f), path.join(dir, f));
  return dir;
}

/** Runs `jobs` on `n` worker threads; resolves with the results in job order. */
function runPool(jobs, n, corePath, onResult) {
  return new Promise((resolve, reject) => {
    const results = new Array(jobs.length);
    let next = 0;
    let done = 0;
    const workers = [];
    const finish = (err) => {
      for (const w of workers) void w.terminate();
      if (err) reject(err);
      else resolve(results);
    };
    const feed = (w) => {
      if (next < jobs.length) w.postMessage(jobs[next++]);
    };
    for (let i = 0; i < Math.min(n, jobs.length); i++) {
      const w = new Worker(new URL('./worker.mjs', import.meta.url), {
        workerData: { corePath, tempRoot: benchTempRoot() },
      });
      workers.push(w);
      w.on('message', (msg) => {
        if (msg.error) {
          const job = jobs[msg.id];
          finish(new Error(`${job.scenario.id} × ${job.learner.id} seed ${job.seed}: ${msg.error}`));
          return;
        }
        results[msg.id] = msg.result;
        onResult(++done, jobs.length);
        if (done === jobs.length) finish();
        else feed(w);
      });
      w.on('error', finish);
      feed(w);
    }
    if (jobs.length === 0) finish();
  });
}

async function main() {
  let data;
  if (env.REPORT_ONLY === '1' || env.THROUGHPUT_ONLY === '1') {
    data = JSON.parse(fs.readFileSync(CACHE, 'utf8'));
    console.log(`Episodes from ${path.relative(ROOT, CACHE)} (${data.meta.date})`);
    if (env.THROUGHPUT_ONLY === '1') {
      const snapshot = snapshotCore();
      try {
        const core = require(path.join(snapshot, 'core.js'));
        data.throughput = await throughputOf(core, loadScenarios().offValues);
      } finally {
        fs.rmSync(snapshot, { recursive: true, force: true });
      }
      fs.writeFileSync(CACHE, JSON.stringify(data));
    }
  } else {
    if (!fs.existsSync(CORE))
      throw new Error('dist/core.js is missing: run npm run build (npm run bench:learning does)');
    if (!(SEEDS >= 1 && Number.isInteger(SEEDS))) throw new Error(`bad SEEDS: ${env.SEEDS}`);
    if (RUNS !== undefined && !(RUNS >= 1 && Number.isInteger(RUNS)))
      throw new Error(`bad RUNS: ${env.RUNS}`);
    const snapshot = snapshotCore();
    try {
      data = await measure(path.join(snapshot, 'core.js'));
    } finally {
      fs.rmSync(snapshot, { recursive: true, force: true });
    }
    fs.mkdirSync(path.dirname(CACHE), { recursive: true });
    fs.writeFileSync(CACHE, JSON.stringify(data));
  }
  report(data);
}

/** Runs the episodes and the throughput; everything the report needs, as plain data. */
async function measure(corePath) {
  const core = require(corePath);
  const defaults = core.defaultConfig();
  const all = loadScenarios();
  const scenarios = all.scenarios.filter((s) => !ONLY_SCENARIOS || ONLY_SCENARIOS.has(s.id));
  const skipped = [];
  const learners = [];
  for (const l of all.learners) {
    if (ONLY_LEARNERS && !ONLY_LEARNERS.has(l.id)) continue;
    const { def, missing } = resolveLearner(core, l, all.offValues);
    if (missing.length) skipped.push(`${l.id} (this build's config has no ${missing.join(', ')})`);
    else learners.push(def);
  }
  const jobs = [];
  for (const s of scenarios) {
    for (const l of learners) {
      if (!learnerApplies(l, s)) continue;
      for (let seed = 1; seed <= SEEDS; seed++)
        jobs.push({ id: jobs.length, scenario: s, learner: l, seed, runs: RUNS });
    }
  }
  // Taken before the workers run: dist/core.js was built from this tree by `npm run bench:learning`.
  const cpus = os.cpus();
  const meta = {
    commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    dirty: git(['status', '--porcelain', '--', 'src']) ? ' (with uncommitted changes under src/)' : '',
    date: new Date().toISOString(),
    machine: `${cpus[0]?.model?.trim() ?? 'unknown'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.release()}`,
    seeds: SEEDS,
    episodes: jobs.length,
    workers: Math.min(WORKERS, jobs.length),
    keys: `promptBandit ${JSON.stringify(withoutVariants(defaults.promptBandit))}, modelRouter ${JSON.stringify(defaults.modelRouter)}`,
    quick: Boolean(SEEDS < FULL_SEEDS || RUNS !== undefined || ONLY_SCENARIOS || ONLY_LEARNERS),
  };
  console.log(
    `Learning benchmark: ${scenarios.length} scenarios, ${learners.length} learners, ${SEEDS} seeds`,
  );
  console.log(`${jobs.length} episodes on ${meta.workers} workers (${meta.machine})`);
  for (const s of skipped) console.log(`  skipped ${s}`);

  const t0 = performance.now();
  let lastShown = 0;
  const results = await runPool(jobs, WORKERS, corePath, (done, total) => {
    const pctDone = Math.floor((100 * done) / total);
    if (pctDone >= lastShown + 5 || done === total) {
      lastShown = pctDone;
      const s = (performance.now() - t0) / 1000;
      console.log(
        `  ${done}/${total} episodes, ${s.toFixed(0)} s (about ${((s / done) * (total - done)).toFixed(0)} s left)`,
      );
    }
  });
  meta.seconds = (performance.now() - t0) / 1000;

  const throughput = await throughputOf(core, all.offValues);
  return { meta, skipped, scenarios, learners, results, throughput };
}

async function throughputOf(core, offValues) {
  if (THROUGHPUT_SIZES.length === 0) return [];
  console.log('Throughput ...');
  const configs = [];
  for (const cfg of THROUGHPUT_CONFIGS) {
    const { def, missing } = resolveLearner(core, cfg, offValues);
    if (missing.length === 0) configs.push(def);
  }
  return measureThroughput(core, { sizes: THROUGHPUT_SIZES, configs, log: (l) => console.log(l) });
}

/** Throughput configs: the seed's, Thompson over all history, this build's defaults, a longer window. */
const THROUGHPUT_CONFIGS = [
  {
    label: 'ε-greedy (seed)',
    promptBandit: { algorithm: 'epsilon-greedy', window: 0, changeDetection: false },
    modelRouter: { algorithm: 'epsilon-greedy', window: 0, changeDetection: false, costTolerance: 0 },
  },
  {
    label: 'Thompson',
    promptBandit: { algorithm: 'thompson', window: 0, changeDetection: false },
    modelRouter: { algorithm: 'thompson', window: 0, changeDetection: false, costTolerance: 0 },
  },
  { label: "this build's defaults", promptBandit: {}, modelRouter: {} },
  {
    label: 'Thompson, window 1000',
    promptBandit: { algorithm: 'thompson', window: 1000 },
    modelRouter: { algorithm: 'thompson', window: 1000 },
  },
];

function withoutVariants(section) {
  return Object.fromEntries(Object.entries(section).filter(([key]) => key !== 'variants'));
}

/** Prints the tables; writes BENCHMARKS.md's section and docs/regret.svg unless it was a quick run. */
function report({ meta, skipped, scenarios, learners, results, throughput }) {
  const episodes = new Map();
  for (const r of results) {
    const key = `${r.scenario}|${r.learner}`;
    if (!episodes.has(key)) episodes.set(key, []);
    episodes.get(key).push(r);
  }
  const agg = aggregate(scenarios, learners, episodes);
  const targets = judgeTargets(agg, throughput);
  const text = markdown({ agg, targets, throughput, meta, skipped });
  console.log(`\n${text}\n`);

  const write = env.BENCH_NO_WRITE !== '1' && (!meta.quick || env.BENCH_WRITE === '1');
  if (write) {
    writeSection(path.join(ROOT, 'BENCHMARKS.md'), text);
    fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'docs', 'regret.svg'), regretSvg(agg, { seeds: meta.seeds }));
    console.log('Wrote the learning section of BENCHMARKS.md and docs/regret.svg');
  } else {
    console.log('Quick run: BENCHMARKS.md and docs/regret.svg left as they are (BENCH_WRITE=1 writes them).');
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
