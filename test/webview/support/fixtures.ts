// States as the host would send them, and the hostile strings an agent could put in a task slug or a name.

import type {
  DashboardState,
  HistoryView,
  RunDetailView,
  RunRow,
  RunViewState,
  SidebarState,
  TrainingProgress,
} from '../../../src/protocol';

const MINUTE = 60_000;

export const HOSTILE = {
  imgOnerror: '<img src=x onerror=window.__pwned=1>',
  scriptBreakout: '</script><script>window.__pwned=1</script>',
  long: `long-${'x'.repeat(100 * 1024)}`,
  rtl: 'إصلاح تسجيل الدخول \u202Eexe.txt',
  emoji: '🚀 fix 👩‍💻 login 🇳🇱',
};

export function run(id: string, overrides: Partial<RunRow> = {}, now = Date.now()): RunRow {
  return {
    id,
    createdAt: now - 3.5 * MINUTE,
    taskSlug: `task-${id}`,
    role: 'coder',
    modelId: 'qwen2.5-coder:7b',
    promptId: 'detailed',
    reward: 0.82,
    human: null,
    ...overrides,
  };
}

export function sidebarState(overrides: Partial<SidebarState> = {}): SidebarState {
  const now = Date.now();
  return {
    version: 1,
    workspaceName: 'shop-api',
    ready: true,
    trusted: true,
    kpis: { runs: 1234, avgReward: 0.784, previousAvgReward: 0.721, avgCost: 2345.4, avgDuration: 12_345 },
    roles: [
      {
        role: 'coder',
        runs: 1034,
        highQualitySinceExport: 73,
        exportThreshold: 100,
        exportedExamples: 200,
        trainThreshold: 500,
        lastExport: { at: now - 2 * 60 * MINUTE, count: 105, file: '.agent/sft/coder_sft.jsonl' },
      },
      {
        role: 'reviewer',
        runs: 200,
        highQualitySinceExport: 12,
        exportThreshold: 100,
        exportedExamples: 0,
        trainThreshold: 500,
        lastExport: null,
      },
    ],
    bestModel: {
      id: 'qwen2.5-coder:7b',
      avgReward: 0.812,
      count: 640,
      low: 0.79,
      high: 0.83,
      separated: true,
    },
    bestPrompt: { id: 'detailed', avgReward: 0.801, count: 420, low: 0.77, high: 0.83, separated: false },
    recentRuns: [
      run('r1', { taskSlug: 'fix-login', reward: 0.82 }, now),
      run(
        'r2',
        {
          taskSlug: 'add-pagination',
          role: 'reviewer',
          modelId: 'llama3.1:8b',
          reward: 0.35,
          human: 'reject',
          createdAt: now - 90 * MINUTE,
        },
        now,
      ),
      run(
        'r3',
        { taskSlug: 'refactor-cart', reward: 0.61, human: 'accept', createdAt: now - 26 * 60 * MINUTE },
        now,
      ),
    ],
    problems: [],
    ...overrides,
  };
}

export function emptySidebarState(): SidebarState {
  return sidebarState({
    kpis: { runs: 0, avgReward: 0, previousAvgReward: null, avgCost: 0, avgDuration: 0 },
    roles: [],
    bestModel: null,
    bestPrompt: null,
    recentRuns: [],
  });
}

/** A deterministic reward curve that learns: noisy early, better later; `n` windows of 5 runs. */
function rewardCurve(n: number, start: number, end: number, seed: number): number[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + 1;
    const noise = Math.sin(i * 12.9898 + seed) * 0.15;
    return Math.min(1, Math.max(0, start + ((end - start) * i) / n + noise));
  });
}

function rolling(values: (number | null)[]): (number | null)[] {
  return values.map((_, i) => {
    const window = values.slice(Math.max(0, i - 19), i + 1).filter((v): v is number => v !== null);
    return window.length ? window.reduce((a, b) => a + b, 0) / window.length : null;
  });
}

/** 120 windows of 5 runs (600 in all): coder in each, reviewer from window 80 on; the preferred prompt gains. */
export function historyView(): HistoryView {
  const n = 120;
  const runs = Array.from({ length: n }, (_, i) => (i + 1) * 5);
  const coder = rewardCurve(n, 0.45, 0.85, 1);
  const reviewer = rewardCurve(n, 0.5, 0.65, 7).map((r, i) => (i >= 80 ? r : null));
  const detailed = runs.map((_, i) => 0.3 + (0.5 * i) / n);
  const concise = detailed.map((d) => (1 - d) * 0.7);
  return {
    runs,
    at: runs.map((r) => Date.UTC(2025, 0, 1) + r * 600_000),
    roles: [
      { role: 'coder', reward: coder, mean: rolling(coder), baseline: { reward: 0.47, runs: 20 } },
      { role: 'reviewer', reward: reviewer, mean: rolling(reviewer), baseline: { reward: 0.52, runs: 20 } },
    ],
    choices: {
      runs: runs.filter((_, i) => i % 3 === 2),
      prompts: [
        { id: 'detailed', share: detailed.filter((_, i) => i % 3 === 2) },
        { id: 'concise', share: concise.filter((_, i) => i % 3 === 2) },
        {
          id: 'step-by-step',
          share: detailed.map((d, i) => 1 - d - concise[i]!).filter((_, i) => i % 3 === 2),
        },
      ],
      models: [
        {
          id: 'qwen2.5-coder:7b',
          share: runs.map((_, i) => 0.4 + (0.4 * i) / n).filter((_, i) => i % 3 === 2),
        },
        { id: 'llama3.1:8b', share: runs.map((_, i) => 0.6 - (0.4 * i) / n).filter((_, i) => i % 3 === 2) },
      ],
    },
  };
}

export const TRAINING: TrainingProgress = { role: 'coder', step: 120, total: 500, loss: 0.4321, etaS: 200 };

export function dashboardState(overrides: Partial<DashboardState> = {}): DashboardState {
  const now = Date.now();
  return {
    version: 1,
    workspaceName: 'shop-api',
    ready: true,
    trusted: true,
    totalRuns: 1234,
    history: historyView(),
    models: [
      {
        id: 'qwen2.5-coder:7b',
        avgReward: 0.812,
        count: 640,
        low: 0.79,
        high: 0.83,
        avgCostTokens: 2100,
        costPer1kTokens: 0.0005,
      },
      {
        id: 'llama3.1:8b',
        avgReward: 0.64,
        count: 210,
        low: 0.6,
        high: 0.68,
        avgCostTokens: 2600,
        costPer1kTokens: null,
      },
      {
        id: 'gpt-4o',
        avgReward: 0.9,
        count: 40,
        low: 0.84,
        high: 0.96,
        avgCostTokens: 3900,
        costPer1kTokens: 2.5,
      },
    ],
    prompts: [
      { id: 'detailed', avgReward: 0.801, count: 420, low: 0.77, high: 0.83, preferred: true },
      { id: 'concise', avgReward: 0.72, count: 300, low: 0.68, high: 0.76, preferred: false },
      { id: 'step-by-step', avgReward: 0.69, count: 25, low: 0.52, high: 0.86, preferred: false },
    ],
    bestModel: { id: 'gpt-4o', avgReward: 0.9, count: 40, low: 0.84, high: 0.96, separated: true },
    bestPrompt: { id: 'detailed', avgReward: 0.801, count: 420, low: 0.77, high: 0.83, separated: false },
    automation: [
      {
        role: 'coder',
        autoExport: true,
        autoTrain: true,
        autoDeploy: false,
        exportProgress: { current: 73, threshold: 100 },
        trainProgress: { current: 200, threshold: 500 },
        lastExport: { at: now - 2 * 60 * MINUTE, count: 105, file: '.agent/sft/coder_sft.jsonl' },
        trainBlocked: null,
        adapter: 'deployed',
      },
      {
        role: 'reviewer',
        autoExport: false,
        autoTrain: false,
        autoDeploy: false,
        exportProgress: { current: 12, threshold: 100 },
        trainProgress: { current: 0, threshold: 500 },
        lastExport: null,
        trainBlocked: null,
        adapter: 'none',
      },
    ],
    events: [
      {
        id: 1,
        run: 300,
        at: now - 5 * 60 * MINUTE,
        kind: 'export',
        role: 'coder',
        message: 'Exported 105 coder examples to .agent/sft/coder_sft.jsonl',
      },
      {
        id: 2,
        run: 320,
        at: now - 4 * 60 * MINUTE,
        kind: 'training',
        role: 'coder',
        message: 'Trained a LoRA adapter on 105 examples',
      },
      {
        id: 3,
        run: 340,
        at: now - 3 * 60 * MINUTE,
        kind: 'deploy',
        role: 'coder',
        message: 'Deployed agent-coder to Ollama',
      },
      {
        id: 4,
        run: 450,
        at: now - 2 * 60 * MINUTE,
        kind: 'drift',
        role: 'coder',
        message: 'Reward fell from 0.81 to 0.62 after the deploy',
      },
      {
        id: 5,
        run: 470,
        at: now - 60 * MINUTE,
        kind: 'rollback',
        role: 'coder',
        message: 'Rolled back agent-coder to the previous adapter',
      },
    ],
    training: null,
    ...overrides,
  };
}

/** A run as the run view gets it: output with a code block, every signal, a verdict-free run of the coder role. */
export function runViewState(overrides: Partial<RunDetailView> = {}, now = Date.now()): RunViewState {
  return {
    version: 1,
    runId: overrides.id ?? 'r1',
    undo: null,
    run: {
      id: 'r1',
      createdAt: now - 3.5 * MINUTE,
      taskSlug: 'fix-login',
      role: 'coder',
      modelId: 'qwen2.5-coder:7b',
      promptId: 'detailed',
      complexity: 'medium',
      input: JSON.stringify({
        messages: [
          { role: 'system', content: 'You are a careful engineer.' },
          { role: 'user', content: 'Fix the login redirect.' },
        ],
      }),
      output: 'The redirect lost the query string.\n```ts\nredirect(url + search);\n```\nDone.',
      textsUnavailable: null,
      compile: true,
      testsPassed: 9,
      testsTotal: 10,
      lintErrors: 1,
      typeErrors: 0,
      schemaErrors: null,
      boundaryErrors: null,
      human: null,
      humanAt: null,
      reward: 0.82,
      breakdown: [
        { signal: 'compile', score: 1, weight: 0.3, share: 0.375, contribution: 0.375 },
        { signal: 'tests', score: 0.9, weight: 0.3, share: 0.375, contribution: 0.3375 },
        { signal: 'errors', score: 0.5, weight: 0.2, share: 0.25, contribution: 0.125 },
      ],
      costTokens: 2345,
      durationMs: 12_000,
      iterations: 2,
      source: 'gateway',
      signals: [{ kind: 'kept', value: 0.8, source: 'editor:kept', at: Date.UTC(2026, 0, 2, 9, 30) }],
      change: {
        at: Date.UTC(2026, 0, 2, 9, 29),
        files: [
          { path: 'src/login.ts', added: 2, removed: 1, before: 'seen' },
          { path: 'src/redirect.test.ts', added: 1, removed: 0, before: 'new' },
        ],
        patch: [
          '--- a/src/login.ts',
          '+++ b/src/login.ts',
          '@@ -1,2 +1,3 @@',
          ' const url = base;',
          '-redirect(url);',
          '+++ x; // an added line that reads like a file header',
          '+redirect(url + search);',
          '--- /dev/null',
          '+++ b/src/redirect.test.ts',
          '@@ -0,0 +1 @@',
          "+test('keeps the query', () => {});",
          '\\ No newline at end of file',
          '',
        ].join('\n'),
      },
      ...overrides,
    },
  };
}
