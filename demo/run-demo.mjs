// The README's main job: a simulated coding agent with hidden prompt and model quality records ~600 runs into
// demo-workspace/ through the public API (dist/core.js), and the learning shows: the bandit finds the best
// prompt, the router the best affordable model, and auto-export writes the SFT dataset once enough good runs exist.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { LearningPipeline } = require(path.join(root, 'dist', 'core.js'));

const RUNS = Number(process.env.DEMO_RUNS ?? 600);
const workspace = path.join(root, 'demo-workspace');

// What the learner does not know: how good each prompt and model really is (chance a run is good).
const PROMPT_QUALITY = { default: 0.62, detailed: 0.8, concise: 0.5 };
const MODEL_QUALITY = {
  'qwen2.5-coder:7b': { small: 0.85, medium: 0.6, large: 0.4 },
  'qwen2.5-coder:32b': { small: 0.9, medium: 0.82, large: 0.7 },
  'hosted-frontier': { small: 0.95, medium: 0.92, large: 0.9 },
};

function mulberry32(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(20261125);

function setUpWorkspace() {
  fs.rmSync(path.join(workspace, '.agent'), { recursive: true, force: true });
  fs.mkdirSync(path.join(workspace, '.agent'), { recursive: true });
  fs.writeFileSync(
    path.join(workspace, '.agent', 'model_variants.json'),
    JSON.stringify(
      {
        variants: [
          { id: 'qwen2.5-coder:7b', costPer1kTokens: 0, tiers: ['small', 'medium', 'large'] },
          { id: 'qwen2.5-coder:32b', costPer1kTokens: 0.0015, tiers: ['medium', 'large'] },
          // Above the demo's cost cap (0.002 USD per 1K tokens): the router must never pick it.
          { id: 'hosted-frontier', costPer1kTokens: 0.015, tiers: ['small', 'medium', 'large'] },
        ],
      },
      null,
      2,
    ),
  );
}

/** The "agent": writes code for a task; how well depends on the hidden quality of prompt and model. */
function runAgent(task, prompt, model, complexity) {
  const q = PROMPT_QUALITY[prompt.id] * MODEL_QUALITY[model.id][complexity];
  const good = rand() < q;
  const total = 10;
  let passed = 0;
  for (let i = 0; i < total; i++) if (rand() < (good ? 0.9 : 0.35)) passed++;
  const leaky = rand() < 0.05; // agents sometimes paste credentials into code
  return {
    input: `Task ${task.slug}: implement ${task.fn}() in TypeScript.\nRequirements:\n- handle empty input\n- ${task.detail}`,
    output:
      `export function ${task.fn}(items: string[]): string[] {\n` +
      `  if (items.length === 0) return [];\n` +
      `  return items.${good ? 'filter((x) => x.length > 0).map((x) => x.trim())' : 'map((x) => x)'};\n}\n` +
      (leaky ? `// const API_KEY = "sk-demo${Math.floor(rand() * 1e12)}abcdefghijklmnop";\n` : ''),
    compile: good || rand() < 0.5,
    tests: { passed, total },
    errors: { lint: good ? 0 : Math.floor(rand() * 4), type: good ? 0 : Math.floor(rand() * 3) },
    costTokens: 800 + Math.floor(rand() * 1200),
    durationMs: 2000 + Math.floor(rand() * 8000),
    iterations: good ? 1 : 2 + Math.floor(rand() * 3),
    complexity,
  };
}

const FUNCTIONS = [
  'normalize',
  'dedupe',
  'parseRows',
  'slugify',
  'mergeLists',
  'tokenize',
  'compact',
  'chunk',
];

async function main() {
  const started = Date.now();
  setUpWorkspace();
  const relevant = /Auto-exporting|Exported|secrets|❌|⚠️/;
  const learning = await LearningPipeline.open(workspace, {
    random: rand,
    log: (line) => {
      if (relevant.test(line)) console.log(line);
    },
  });
  console.log(
    `Agent Learning demo: ${RUNS} simulated agent runs into ${path.relative(process.cwd(), workspace) || '.'}/.agent\n`,
  );
  const window = [];
  const pendingFeedback = [];
  for (let i = 1; i <= RUNS; i++) {
    const role = rand() < 0.75 ? 'coder' : 'fixer';
    const complexity = ['small', 'medium', 'large'][Math.floor(rand() * 3)];
    const prompt = learning.selectPrompt(role);
    const model = learning.selectModel(complexity, 0.002, role);
    const fn = FUNCTIONS[Math.floor(rand() * FUNCTIONS.length)];
    const task = { slug: `${fn}-${i}`, fn, detail: `variant ${i % 17}` };
    const result = runAgent(task, prompt, model, complexity);
    const { id, reward } = await learning.recordRun(task.slug, model.id, prompt.id, result, role);
    // An agent does I/O between runs: what recordRun queued (an auto-export once the threshold is crossed) runs then.
    await new Promise((resolve) => setImmediate(resolve));
    window.push({ prompt: prompt.id, model: model.id, reward });
    // A human reviews a third of the runs, a little later.
    if (rand() < 0.33) pendingFeedback.push({ id, good: result.tests.passed >= 8 });
    if (pendingFeedback.length > 5) {
      const fb = pendingFeedback.shift();
      await learning.recordFeedback(fb.id, fb.good ? 'accept' : 'reject');
    }
    if (i % 100 === 0) {
      const share = (key, value) =>
        Math.round((100 * window.filter((w) => w[key] === value).length) / window.length);
      const avg = window.reduce((s, w) => s + w.reward, 0) / window.length;
      console.log(
        `🎯 Runs ${i - 99}-${i}: avg reward ${avg.toFixed(2)} · prompts detailed ${share('prompt', 'detailed')}% ` +
          `default ${share('prompt', 'default')}% concise ${share('prompt', 'concise')}% · ` +
          `models 32b ${share('model', 'qwen2.5-coder:32b')}% 7b ${share('model', 'qwen2.5-coder:7b')}% ` +
          `frontier ${share('model', 'hosted-frontier')}%`,
      );
      window.length = 0;
    }
  }
  for (const fb of pendingFeedback) await learning.recordFeedback(fb.id, fb.good ? 'accept' : 'reject');

  const stats = learning.getStats();
  console.log('\nRecent Stats (last 100 runs):');
  console.log(`  Avg Reward: ${stats.recentStats.avgReward.toFixed(2)}`);
  console.log(`  Avg Cost: ${Math.round(stats.recentStats.avgCost)} tokens`);
  console.log(`  Avg Duration: ${Math.round(stats.recentStats.avgDuration)}ms`);
  console.log('\nModel Performance:');
  stats.modelPerformance.forEach((m) =>
    console.log(`  ${m.model_name}: ${m.avg_reward.toFixed(2)} (${m.count} runs)`),
  );
  console.log('\nPrompt Performance:');
  stats.promptPerformance.forEach((p) =>
    console.log(`  ${p.prompt_id}: ${p.avg_reward.toFixed(2)} (${p.count} runs)`),
  );
  console.log('\nProgress per role:');
  stats.roles.forEach((r) =>
    console.log(
      `  ${r.role}: ${r.runs} runs · ${r.highQualitySinceExport} / ${r.exportThreshold} high-quality runs to the next export` +
        ` · ${r.exportedExamples} / ${r.trainThreshold} examples to train`,
    ),
  );
  await learning.close();
  console.log(
    `\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Open demo-workspace/ in VS Code with the extension to see the dashboard;` +
      ` the SFT datasets are in demo-workspace/.agent/sft/.`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
