// Realistic recorded runs, as an agent's own inbox file: several roles, models and prompts, rewards that vary by
// model and prompt and improve over time, spread over the last weeks. For the README screenshots (e2e) and the
// UI benchmark (test/bench/ui.ts); deterministic for a given seed.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { mulberry32 as prng } from '../support/mulberry32.cjs';

/** A line of `.agent/inbox/*.jsonl` as an agent outside VS Code writes it (no id: the owner assigns one). */
export interface InboxRun {
  type: 'run';
  createdAt: number;
  taskSlug: string;
  modelId: string;
  promptId: string;
  role: string;
  result: {
    input: string;
    output: string;
    compile?: boolean;
    tests?: { passed: number; total: number };
    errors?: { lint?: number; type?: number };
    human?: 'accept' | 'reject';
    costTokens: number;
    durationMs: number;
    iterations: number;
    complexity: 'small' | 'medium' | 'large';
  };
}

/** Models with a quality (mean reward) and a size: bigger models are better, slower and cost more tokens. */
export const MODELS = [
  { id: 'qwen2.5-coder:7b', quality: 0.62, tokens: 1400, ms: 4_000, costPer1kTokens: 0 },
  { id: 'qwen2.5-coder:32b', quality: 0.78, tokens: 1900, ms: 11_000, costPer1kTokens: 0 },
  { id: 'deepseek-coder-v2:16b', quality: 0.7, tokens: 1700, ms: 7_000, costPer1kTokens: 0 },
  { id: 'gpt-4o-mini', quality: 0.74, tokens: 1200, ms: 3_000, costPer1kTokens: 0.0006 },
] as const;

export const PROMPTS = [
  { id: 'default', bonus: 0 },
  { id: 'detailed', bonus: 0.06 },
  { id: 'concise', bonus: -0.05 },
] as const;

export const ROLES = [
  { role: 'coder', share: 0.6 },
  { role: 'reviewer', share: 0.25 },
  { role: 'tester', share: 0.15 },
] as const;

const TASKS = [
  'fix-login-redirect',
  'add-pagination-to-users-api',
  'refactor-payment-service',
  'migrate-orders-table',
  'add-retry-to-http-client',
  'fix-date-parsing-in-reports',
  'write-tests-for-cart',
  'review-auth-middleware',
  'add-dark-mode-toggle',
  'cache-product-search',
  'fix-race-in-session-store',
  'add-csv-export',
  'validate-signup-form',
  'upgrade-to-node-20',
  'split-monolith-config',
  'add-rate-limiter',
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

export interface RealisticRunOptions {
  seed?: number;
  /** The last run's time (default now). */
  endAt?: number;
  /** How far back the first run lies (default 21 days). */
  spanMs?: number;
  /** Approximate size of each run's input and output text in characters (default 400). */
  textChars?: number;
}

/** `count` runs in time order. Quality rises over the period (the agent learns), with noise per run. */
export function realisticRuns(count: number, options: RealisticRunOptions = {}): InboxRun[] {
  const random = prng(options.seed ?? 42);
  const endAt = options.endAt ?? Date.now();
  const spanMs = options.spanMs ?? 21 * 24 * 3600_000;
  const textChars = options.textChars ?? 400;
  const filler = 'const value = compute(input); // keep the behaviour, tidy the code\n';
  const text = (head: string) =>
    (head + '\n' + filler.repeat(Math.ceil(textChars / filler.length))).slice(0, textChars);
  const runs: InboxRun[] = [];
  for (let i = 0; i < count; i++) {
    const progress = count > 1 ? i / (count - 1) : 1;
    const r = random();
    const role = r < ROLES[0].share ? 'coder' : r < ROLES[0].share + ROLES[1].share ? 'reviewer' : 'tester';
    const model = pick(random, MODELS);
    const prompt = pick(random, PROMPTS);
    const task = pick(random, TASKS);
    const complexity = pick(random, ['small', 'medium', 'large'] as const);
    const quality = Math.min(0.97, model.quality + prompt.bonus + 0.12 * progress - 0.06);
    const compile = random() < quality + 0.15;
    const testsTotal = 4 + Math.floor(random() * 12);
    const testsPassed = compile
      ? Math.round(testsTotal * Math.min(1, Math.max(0, quality + (random() - 0.5) * 0.4)))
      : 0;
    const lint = random() < quality ? 0 : 1 + Math.floor(random() * 4);
    const type = compile ? (random() < quality ? 0 : 1) : 1 + Math.floor(random() * 3);
    const verdict = random();
    const human = verdict < 0.25 ? (testsPassed / testsTotal > 0.7 ? 'accept' : 'reject') : undefined;
    const createdAt = Math.round(endAt - spanMs * (1 - progress) - random() * 60_000);
    runs.push({
      type: 'run',
      createdAt,
      taskSlug: `${task}-${1 + Math.floor(random() * 40)}`,
      modelId: model.id,
      promptId: prompt.id,
      role,
      result: {
        input: text(`Task ${task} (${role}): implement it in the repository's style.`),
        output: text(`// ${model.id}, prompt ${prompt.id}`),
        compile,
        tests: { passed: testsPassed, total: testsTotal },
        errors: { lint, type },
        ...(human ? { human } : {}),
        costTokens: Math.round(model.tokens * (0.6 + random() * 0.8)),
        durationMs: Math.round(model.ms * (0.5 + random())),
        iterations: 1 + Math.floor(random() * 3),
        complexity,
      },
    });
  }
  return runs;
}

/** Writes `runs` as one inbox file (an agent's own journal) that the extension ingests when it opens. */
export function writeInboxFile(
  agentDir: string,
  runs: readonly InboxRun[],
  name = 'seed-agent.jsonl',
): string {
  const inbox = path.join(agentDir, 'inbox');
  fs.mkdirSync(inbox, { recursive: true });
  const file = path.join(inbox, name);
  const fd = fs.openSync(`${file}.tmp`, 'w');
  try {
    // In chunks: 100k runs of a few KB each do not fit one string comfortably.
    for (let i = 0; i < runs.length; i += 1000) {
      fs.writeSync(
        fd,
        runs
          .slice(i, i + 1000)
          .map((r) => JSON.stringify(r) + '\n')
          .join(''),
      );
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

/** `.agent/model_variants.json` listing MODELS with their prices, so the dashboard shows $ / 1k tokens. */
export function writeModelVariants(agentDir: string): void {
  fs.mkdirSync(agentDir, { recursive: true });
  const variants = MODELS.map((m) => ({ id: m.id, costPer1kTokens: m.costPer1kTokens }));
  fs.writeFileSync(path.join(agentDir, 'model_variants.json'), JSON.stringify({ variants }, null, 2) + '\n');
}
