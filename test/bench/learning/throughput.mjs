// Selection and update throughput of the real pipeline with many runs stored: selectPrompt / selectModel / recordRun
// calls per second at each store size, to show that selection costs O(arms) (or O(window)), not O(runs).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchTempRoot, mulberry32 } from './simulator.mjs';

const PROMPTS = ['default', 'detailed', 'concise'];
const MODELS = [
  { id: 'local-small', costPer1kTokens: 0.0002, tiers: ['small', 'medium'] },
  { id: 'cloud-medium', costPer1kTokens: 0.002, tiers: ['small', 'medium', 'large'] },
  { id: 'cloud-large', costPer1kTokens: 0.008, tiers: ['small', 'medium', 'large'] },
];
const TIERS = ['small', 'medium', 'large'];
const CAP = 0.01;

/** `n` stored runs, written as one inbox journal before the pipeline opens (it ingests them on open). */
function prefill(agentDir, n) {
  const rng = mulberry32(n);
  const t0 = Date.UTC(2025, 0, 1);
  const lines = [];
  for (let i = 0; i < n; i++) {
    const tier = TIERS[Math.floor(rng() * 3)];
    const models = MODELS.filter((m) => m.tiers.includes(tier));
    lines.push(
      JSON.stringify({
        type: 'run',
        id: `r-prefill-${i.toString(36)}`,
        createdAt: t0 + i * 1000,
        taskSlug: 't',
        modelId: models[Math.floor(rng() * models.length)].id,
        promptId: PROMPTS[Math.floor(rng() * PROMPTS.length)],
        role: 'coder',
        result: { input: 'i', output: 'o', compile: rng() < 0.7, complexity: tier, costTokens: 2000 },
      }),
    );
  }
  fs.mkdirSync(path.join(agentDir, 'inbox'), { recursive: true });
  fs.writeFileSync(
    path.join(agentDir, 'inbox', '0000000000000-bench-prefill.jsonl'),
    lines.join('\n') + '\n',
  );
}

function writeConfig(agentDir, cfg) {
  const config = {
    promptBandit: { ...cfg.promptBandit, variants: PROMPTS },
    modelRouter: { ...cfg.modelRouter },
    autoExport: { enabled: false },
    autoTrain: { enabled: false },
  };
  fs.writeFileSync(path.join(agentDir, 'learning-config.json'), JSON.stringify(config, null, 2));
}

function perSecond(calls, fn) {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) fn(i);
  return calls / ((performance.now() - t0) / 1000);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * For each store size: prefill, open (timed), then for each config (`{label, promptBandit, modelRouter}`) time
 * `calls` selectPrompt and selectModel calls and `records` recordRun calls. Returns one row per size × config.
 */
/**
 * For each store size: prefill and open, then `rounds` rounds that each take every config (`{label, promptBandit,
 * modelRouter}`) in turn and time `calls` selectPrompt calls, `calls` selectModel calls and `records` agent steps
 * (both selections and an awaited recordRun). Rounds alternate the configs so that a noisy moment hits them all;
 * each figure is the median over rounds. Returns one row per size × config.
 */
export async function measureThroughput(
  core,
  { sizes, configs, rounds = 5, calls = 1000, records = 100, log = () => {} },
) {
  const rows = [];
  for (const size of sizes) {
    const dir = fs.mkdtempSync(path.join(benchTempRoot(), 'al-throughput-'));
    const agentDir = path.join(dir, '.agent');
    try {
      fs.mkdirSync(agentDir);
      fs.writeFileSync(path.join(agentDir, 'model_variants.json'), JSON.stringify({ variants: MODELS }));
      writeConfig(agentDir, configs[0]);
      prefill(agentDir, size);
      const p = await core.LearningPipeline.open(dir, {
        random: mulberry32(1),
        log: () => {},
        pollIntervalMs: 0,
      });
      try {
        const stored = p.getStats().totals.runs;
        if (stored < size) throw new Error(`throughput: expected ${size} runs stored, found ${stored}`);
        const use = (cfg) => {
          writeConfig(agentDir, cfg);
          const error = p.reloadConfig();
          if (error) throw new Error(`throughput config ${cfg.label}: ${error.message}`);
        };
        const rng = mulberry32(size + 1);
        const step = async () => {
          const prompt = p.selectPrompt('coder');
          const model = p.selectModel('medium', CAP, 'coder');
          const result = {
            input: 'i',
            output: 'o',
            compile: rng() < 0.7,
            complexity: 'medium',
            costTokens: 2000,
          };
          await p.recordRun('t', model.id, prompt.id, result, 'coder');
        };
        const select = (i) => p.selectModel(TIERS[i % 3], CAP, 'coder');
        for (const cfg of configs) {
          use(cfg); // warm-up: JIT and prepared statements
          perSecond(200, () => p.selectPrompt('coder'));
          perSecond(200, select);
        }
        const samples = new Map(
          configs.map((c) => [c, { selectPrompt: [], selectModel: [], recordLoop: [] }]),
        );
        for (let r = 0; r < rounds; r++) {
          for (const cfg of configs) {
            use(cfg);
            const s = samples.get(cfg);
            s.selectPrompt.push(perSecond(calls, () => p.selectPrompt('coder')));
            s.selectModel.push(perSecond(calls, select));
            const t1 = performance.now();
            for (let i = 0; i < records; i++) await step();
            s.recordLoop.push(records / ((performance.now() - t1) / 1000));
          }
        }
        for (const cfg of configs) {
          const s = samples.get(cfg);
          const row = {
            size,
            config: cfg.label,
            selectPrompt: median(s.selectPrompt),
            selectModel: median(s.selectModel),
            recordLoop: median(s.recordLoop),
          };
          rows.push(row);
          log(
            `  ${size} runs, ${cfg.label}: ${row.selectPrompt.toFixed(0)} selectPrompt/s, ${row.selectModel.toFixed(0)} selectModel/s`,
          );
        }
      } finally {
        await p.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
