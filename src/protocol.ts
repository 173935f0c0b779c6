// The messages between the extension host and its webviews (sidebar, dashboard, run view): one definition for both sides.
// Host → webview messages carry plain data; webview → host messages are validated with zod on arrival.

import * as z from 'zod';

export const PROTOCOL_VERSION = 1;

export type Verdict = 'accept' | 'reject';

export interface RunRow {
  id: string;
  createdAt: number;
  taskSlug: string;
  role: string;
  modelId: string;
  promptId: string;
  reward: number;
  human: Verdict | null;
}

export interface RoleProgressView {
  role: string;
  runs: number;
  highQualitySinceExport: number;
  exportThreshold: number;
  exportedExamples: number;
  trainThreshold: number;
  lastExport: { at: number; count: number; file: string } | null;
}

export interface ArmView {
  id: string;
  avgReward: number;
  count: number;
  /** 95% interval of the mean reward (normal approximation), clamped to [0, 1]. */
  low: number;
  high: number;
}

/** The arm with the best mean so far; `separated`: its interval is clear of every other's (else "leading, not yet sure"). */
export interface BestArmView extends ArmView {
  separated: boolean;
}

export interface SidebarState {
  version: typeof PROTOCOL_VERSION;
  workspaceName: string;
  /** False until the database is open. */
  ready: boolean;
  trusted: boolean;
  kpis: {
    runs: number;
    avgReward: number;
    /** Average reward of the 100 runs before the last 100, for the trend; null with fewer than 200 runs. */
    previousAvgReward: number | null;
    /** Tokens per run over the last 100 runs; null when none of them reported a cost. */
    avgCost: number | null;
    /** Milliseconds per run over the last 100 runs; null when none of them reported a duration. */
    avgDuration: number | null;
  };
  roles: RoleProgressView[];
  bestModel: BestArmView | null;
  bestPrompt: BestArmView | null;
  recentRuns: RunRow[];
  /** Problems the user should see (invalid config, a database set aside). */
  problems: string[];
}

/**
 * Reward and choices over run order across roles (src/core/learning/history.ts), in at most ~500 windows: x is the
 * number of runs (all roles) at the end of each window.
 */
export interface HistoryView {
  runs: number[];
  /** The latest run time by the end of each window. */
  at: number[];
  roles: {
    role: string;
    /** Mean reward per window; null where the role had no run. */
    reward: (number | null)[];
    /** Rolling mean over the last 20 windows; null before the role's first run. */
    mean: (number | null)[];
    /** Mean reward of the role's first `runs` runs: what it started from. */
    baseline: { reward: number; runs: number } | null;
  }[];
  /** Share of the runs per prompt and per model in coarser windows ending at run numbers `runs`; id null: others. */
  choices: {
    runs: number[];
    prompts: { id: string | null; share: number[] }[];
    models: { id: string | null; share: number[] }[];
  };
}

export interface ModelView extends ArmView {
  /** Null when none of its runs reported a cost. */
  avgCostTokens: number | null;
  /** USD per 1,000 tokens from model_variants.json; null for models not listed there. */
  costPer1kTokens: number | null;
}

export interface PromptView extends ArmView {
  /** The variant the bandit would exploit now. */
  preferred: boolean;
}

export interface AutomationView {
  role: string;
  autoExport: boolean;
  autoTrain: boolean;
  autoDeploy: boolean;
  exportProgress: { current: number; threshold: number };
  trainProgress: { current: number; threshold: number };
  lastExport: { at: number; count: number; file: string } | null;
  /** Why training cannot run with the interpreter in use ("torch is missing"); null when it can, or not yet known. */
  trainBlocked: string | null;
  /** The role's adapter: none trained, `trained` after the last deploy (not deployed yet), or `deployed`. */
  adapter: 'none' | 'trained' | 'deployed';
}

export interface EventView {
  id: number;
  at: number;
  kind: string;
  role: string | null;
  message: string;
  /** Where it goes on the history's run axis; null with no runs. */
  run: number | null;
}

export interface TrainingProgress {
  role: string;
  step: number;
  total: number;
  loss: number | null;
  etaS: number | null;
}

export interface DashboardState {
  version: typeof PROTOCOL_VERSION;
  workspaceName: string;
  ready: boolean;
  trusted: boolean;
  totalRuns: number;
  history: HistoryView;
  models: ModelView[];
  prompts: PromptView[];
  bestModel: BestArmView | null;
  bestPrompt: BestArmView | null;
  automation: AutomationView[];
  events: EventView[];
  training: TrainingProgress | null;
}

/** One term of a run's reward (src/core/learning/reward.ts's RewardTerm). */
export interface RewardTermView {
  signal: 'compile' | 'tests' | 'errors' | 'human' | 'kept';
  score: number;
  weight: number;
  share: number;
  contribution: number;
}

/** One run, everything the run view shows; every string in it is run data, shown as text. */
export interface RunDetailView {
  id: string;
  createdAt: number;
  taskSlug: string;
  role: string;
  modelId: string;
  promptId: string;
  complexity: string | null;
  input: string;
  output: string;
  /** Why the input and output are empty: their record in .agent/texts/ cannot be read (the run is kept). */
  textsUnavailable: string | null;
  compile: boolean | null;
  testsPassed: number | null;
  testsTotal: number | null;
  lintErrors: number | null;
  typeErrors: number | null;
  schemaErrors: number | null;
  boundaryErrors: number | null;
  human: Verdict | null;
  humanAt: number | null;
  reward: number;
  breakdown: RewardTermView[];
  costTokens: number | null;
  durationMs: number | null;
  iterations: number | null;
  /** Where the run came from (api, cli, inbox, gateway, chat); null for runs recorded before sources were kept. */
  source: string | null;
  /** Signals observed after the run (src/core/learning/signals.ts), oldest first. */
  signals: ObservedSignalView[];
  /**
   * The files the run changed and their unified diff, as the editor saw them (src/core/learning/runChange.ts); null
   * when none was observed. Absent in a state saved before changes were shown.
   */
  change?: RunChangeView | null;
}

/** One file of a run's change; `before`: whether the editor knew its text before (`new`: it did not exist). */
export interface ChangedFileView {
  path: string;
  added: number;
  removed: number;
  before: 'seen' | 'new' | 'unseen';
}

/** A run's change, or why it cannot be read (its record in .agent/texts/ is damaged). */
export type RunChangeView =
  { at: number; files: ChangedFileView[]; patch: string } | { at: number; unavailable: string };

/** One signal observed after a run: its kind, value, who observed it and when. */
export interface ObservedSignalView {
  kind: string;
  value: number;
  source: string;
  at: number;
}

export interface RunViewState {
  version: typeof PROTOCOL_VERSION;
  runId: string;
  /** Null when the store has no run with this id (any more). */
  run: RunDetailView | null;
  /** What Undo would restore: the verdict before the last one given here; absent when there is nothing to undo. */
  undo: { verdict: Verdict | null } | null;
}

/**
 * A state as a page keeps it: embedded in the page's HTML for its first paint (src/extension/webviewHtml.ts), and
 * saved with setState. `pageId` is fresh for every HTML the host renders, so a saved state with the page's own id
 * is newer than the embedded one (VS Code re-creates a hidden view from the same HTML), while one with another id,
 * or none, is older (a state restored after a reload of the window).
 */
export interface PageState<S> {
  pageId: string | null;
  state: S;
}

/**
 * The run id in what a run view saved (its PageState), as VS Code hands it to the panel serializer after a reload:
 * input like any page's message, so only a well-formed id is taken; undefined otherwise.
 */
export function savedRunId(saved: unknown): string | undefined {
  return savedRunPageSchema.safeParse(saved).data?.state.runId;
}

const savedRunPageSchema = z.object({ state: z.object({ runId: z.string().min(1).max(200) }) });

/** Host → webview. */
export type HostMessage =
  | { type: 'sidebar'; state: SidebarState }
  | { type: 'dashboard'; state: DashboardState }
  | { type: 'run'; state: RunViewState }
  | { type: 'training'; progress: TrainingProgress | null };

export const WEBVIEW_COMMANDS = [
  'export',
  'train',
  'deploy',
  'openDashboard',
  'openConfig',
  'showLog',
] as const;
export type WebviewCommand = (typeof WEBVIEW_COMMANDS)[number];

/** Webview → host, validated on arrival: a webview is a page, and a page's messages are input. */
export const webviewMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({
    type: z.literal('feedback'),
    runId: z.string().min(1).max(200),
    verdict: z.enum(['accept', 'reject']),
  }),
  z.object({ type: z.literal('command'), command: z.enum(WEBVIEW_COMMANDS) }),
  z.object({ type: z.literal('openRun'), runId: z.string().min(1).max(200) }),
  /** The run view: take the verdict back (Clear), restore the one before (Undo), go to the queue's next run. */
  z.object({ type: z.literal('clearVerdict'), runId: z.string().min(1).max(200) }),
  z.object({ type: z.literal('undoVerdict'), runId: z.string().min(1).max(200) }),
  z.object({ type: z.literal('navigate'), direction: z.enum(['next', 'previous']) }),
  /** A code block's Copy button: the host writes the clipboard (a webview's own clipboard access may be denied). */
  z.object({ type: z.literal('copy'), text: z.string().min(1).max(10_000) }),
]);
export type WebviewMessage = z.infer<typeof webviewMessageSchema>;
