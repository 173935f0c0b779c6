// The e2e scenarios' data and API-level checks, shared by the code-server suite (extension.e2e.test.ts, through
// the test extension) and the @vscode/test-electron suite (electron/suite/index.ts, in the extension host).
// Plain data and node:assert only: no vscode, no playwright.

import * as assert from 'node:assert/strict';

/** What planRunner.js accepts (see test/e2e/agent-extension/planRunner.js). */
export interface Plan {
  role?: string;
  complexity?: 'small' | 'medium' | 'large';
  record?: PlannedRun[];
  feedback?: { run: number | string; verdict: 'accept' | 'reject' }[];
  commands?: { id: string; args?: unknown[] }[];
  waitFor?: { runs: number; timeoutMs?: number };
  /** Requests to chat models (`vscode.lm.selectChatModels({vendor})`, then `sendRequest`): test extension only. */
  chat?: { vendor: string; id: string; prompt: string }[];
  /** An agent pointed at the gateway: a chat completion, then its change to a file (test extension only). */
  turns?: AgentTurn[];
}

/** One turn of an agent outside the API (planRunner.js): ask `baseUrl`, then append to a workspace file. */
export interface AgentTurn {
  baseUrl: string;
  model: string;
  prompt: string;
  edit?: { file: string; append: string };
}

export interface PlannedRun {
  taskSlug: string;
  result: Record<string, unknown>;
  modelId?: string;
  promptId?: string;
  role?: string;
  /** The workspace files the run changed, passed as recordRun's `files` option. */
  files?: string[];
}

/** What planRunner.js reports (the test extension adds `plan` and `workspaceTrusted`). */
export interface PlanResult {
  ok: boolean;
  error?: string;
  apiVersion: number;
  apiKeys: string[];
  prompt: { id: string; reason: string } | null;
  model: { id: string; tier: string; reason: string } | null;
  runs: { id: string; reward: number; recorded?: boolean }[];
  feedback: { id: string; reward: number | null }[];
  commands: { id: string; value: unknown }[];
  /** Per chat request: the vendor's models as selectChatModels gave them, the one asked, its streamed text. */
  chats: {
    models: { id: string; name: string; family: string; vendor: string }[];
    model: string;
    pieces: string[];
  }[];
  /** Per turn: the gateway's HTTP status, the answer's text, the edit as applied. */
  turns: {
    status: number;
    reply: string | null;
    edit?: { file: string; version: number; dirty: boolean };
  }[];
  recordEvents: { id: string; reward: number; role: string; taskSlug: string }[];
  stats: {
    totals: { runs: number; byRole: Record<string, number> };
    recentStats: { avgReward: number; avgCost: number; avgDuration: number; count: number };
    recentRuns: { id: string; taskSlug?: string; reward: number; human?: 'accept' | 'reject' | null }[];
    roles: { role: string; runs: number }[];
  } | null;
  waitedMs: number;
  plan?: string;
  workspaceTrusted?: boolean;
}

/** The API's members, as a user's agent relies on them (apiVersion 1). */
export const API_V1_KEYS = [
  'apiVersion',
  'fetchWebKnowledge',
  'getStats',
  'onDidRecordRun',
  'recordFeedback',
  'recordRun',
  'selectModel',
  'selectPrompt',
];

/** A run an agent would call good: it compiles, all tests pass, no errors, and the human accepted it. */
export function goodRun(n: number): PlannedRun {
  return {
    taskSlug: `e2e-good-${n}`,
    result: {
      input: `Write function number ${n} that adds two numbers.`,
      output: `export const add${n} = (a: number, b: number) => a + b;`,
      compile: true,
      tests: { passed: 4, total: 4 },
      errors: { lint: 0, type: 0 },
      human: 'accept',
      costTokens: 120 + n,
      durationMs: 900 + n,
    },
  };
}

/** A run that failed: it does not compile and fails most tests (its reward is far below export's 0.7). */
export function badRun(n: number): PlannedRun {
  return {
    taskSlug: `e2e-bad-${n}`,
    result: {
      input: `Write broken function number ${n}.`,
      output: `export const broken${n} = (a: number => a +;`,
      compile: false,
      tests: { passed: 0, total: 4 },
      errors: { lint: 3, type: 2 },
      costTokens: 200 + n,
      durationMs: 1500 + n,
    },
  };
}

/** Three good runs and two bad ones, then a human accepts the first bad one. */
export const FIVE_RUNS: Plan = {
  role: 'coder',
  complexity: 'medium',
  record: [goodRun(1), badRun(1), goodRun(2), badRun(2), goodRun(3)],
  feedback: [{ run: 1, verdict: 'accept' }],
};

/** Three good runs and two bad ones, no feedback: the export must keep exactly the good three. */
export const EXPORT_RUNS: Plan = {
  role: 'coder',
  record: [goodRun(1), badRun(1), goodRun(2), badRun(2), goodRun(3)],
};

/** The palette's "Agent Learning: Export SFT Dataset". */
export const EXPORT_COMMAND = {
  id: 'agentLearning.exportDataset',
  title: 'Agent Learning: Export SFT Dataset',
};

/** Two runs through the API; then a CLI run goes to the inbox and INBOX_WAIT waits for the window to count it. */
export const INBOX_FIRST: Plan = { record: [goodRun(1), goodRun(2)] };
export const INBOX_WAIT: Plan = { waitFor: { runs: 3, timeoutMs: 20_000 } };

/** A run as `agent-learning record` reads it on stdin. */
export function cliRunLine(n: number): string {
  const run = goodRun(100 + n);
  return JSON.stringify({
    ...run,
    taskSlug: `e2e-cli-${n}`,
    modelId: 'cli-model',
    promptId: 'default',
    role: 'coder',
  });
}

/** The checks every successful plan passes: the API answered, in version 1, with a prompt and a model. */
export function assertPlanOk(
  result: PlanResult,
): asserts result is PlanResult & { stats: NonNullable<PlanResult['stats']> } {
  assert.equal(result.ok, true, `the agent's plan failed: ${result.error ?? '(no error reported)'}`);
  assert.equal(result.apiVersion, 1);
  for (const key of API_V1_KEYS) assert.ok(result.apiKeys.includes(key), `the API lacks ${key}`);
  assert.ok(result.prompt?.id, 'selectPrompt() returned no prompt id');
  assert.ok(result.model?.id, 'selectModel() returned no model id');
  assert.equal(result.model?.tier, 'medium');
  assert.ok(result.stats, 'getStats() returned nothing');
}

/** FIVE_RUNS as seen by the agent: five ids, rewards in order, the verdict raised the bad run's reward. */
export function assertFiveRunsRecorded(result: PlanResult): void {
  assertPlanOk(result);
  assert.equal(result.runs.length, 5);
  const ids = result.runs.map((r) => r.id);
  assert.equal(new Set(ids).size, 5, `run ids are not unique: ${ids.join(', ')}`);
  for (const run of result.runs) {
    assert.match(run.id, /\S/, 'recordRun() returned an empty id');
    assert.notEqual(run.recorded, false, 'recordRun() says the run was not recorded');
  }
  const [good1, bad1, good2, bad2, good3] = result.runs.map((r) => r.reward) as number[];
  for (const good of [good1!, good2!, good3!]) assert.ok(good >= 0.9, `a good run got reward ${good}`);
  for (const bad of [bad1!, bad2!]) assert.ok(bad < 0.3, `a bad run got reward ${bad}`);
  assert.equal(result.feedback.length, 1);
  assert.equal(result.feedback[0]!.id, ids[1]);
  assert.ok(
    (result.feedback[0]!.reward ?? 0) > bad1!,
    `accepting a bad run did not raise its reward (${bad1} → ${result.feedback[0]!.reward})`,
  );
  assert.deepEqual(
    result.recordEvents.map((e) => e.id),
    ids,
    'onDidRecordRun did not fire once per run, in order',
  );
  assert.equal(result.stats.totals.runs, 5);
  assert.equal(result.stats.totals.byRole.coder, 5);
  const recent = new Set(result.stats.recentRuns.map((r) => r.id));
  for (const id of ids) assert.ok(recent.has(id), `getStats().recentRuns lacks ${id}`);
}

/** One line of `.agent/sft/coder_sft.jsonl` in the chat `messages` format. */
export interface SftLine {
  messages: { role: string; content: string }[];
}

/** The export holds exactly the good runs of `plan`, matched by their input and output. */
export function assertExportedGoodRuns(jsonl: string, plan: Plan): void {
  const lines = jsonl
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SftLine);
  const good = (plan.record ?? []).filter((r) => r.taskSlug.includes('-good-'));
  assert.equal(lines.length, good.length, `expected ${good.length} examples, got ${lines.length}`);
  const pairs = lines.map((l) => {
    const user = l.messages.find((m) => m.role === 'user')?.content;
    const assistant = l.messages.find((m) => m.role === 'assistant')?.content;
    return `${user}\n${assistant}`;
  });
  for (const run of good) {
    const pair = `${String(run.result.input)}\n${String(run.result.output)}`;
    assert.ok(pairs.includes(pair), `the export lacks ${run.taskSlug}`);
  }
}

/** After INBOX_WAIT: the window counts the CLI's run among its three, without a reload. */
export function assertInboxRunSeen(result: PlanResult, cliRunId: string): void {
  assertPlanOk(result);
  assert.equal(result.stats.totals.runs, 3);
  assert.ok(
    result.stats.recentRuns.some((r) => r.id === cliRunId),
    `getStats().recentRuns lacks the CLI's run ${cliRunId}`,
  );
}
