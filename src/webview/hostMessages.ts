// Reads what the extension host posts (src/protocol.ts's HostMessage): a message that does not match the protocol
// is reported and dropped, never cast.

import type {
  AutomationView,
  BestArmView,
  DashboardState,
  EventView,
  HistoryView,
  HostMessage,
  ModelView,
  PageState,
  PROTOCOL_VERSION,
  PromptView,
  RoleProgressView,
  RewardTermView,
  ObservedSignalView,
  RunDetailView,
  RunChangeView,
  ChangedFileView,
  RunRow,
  RunViewState,
  SidebarState,
  TrainingProgress,
} from '../protocol';
import {
  arrayOf,
  isBoolean,
  isNumber,
  isRecord,
  isString,
  literal,
  nullable,
  object,
  type Check,
} from './guards';

const isVersion: Check<typeof PROTOCOL_VERSION> = literal(1);

const isLastExport = nullable(
  object<{ at: number; count: number; file: string }>({ at: isNumber, count: isNumber, file: isString }),
);

const isRunRow = object<RunRow>({
  id: isString,
  createdAt: isNumber,
  taskSlug: isString,
  role: isString,
  modelId: isString,
  promptId: isString,
  reward: isNumber,
  human: nullable(literal('accept', 'reject')),
});

const isRoleProgress = object<RoleProgressView>({
  role: isString,
  runs: isNumber,
  highQualitySinceExport: isNumber,
  exportThreshold: isNumber,
  exportedExamples: isNumber,
  trainThreshold: isNumber,
  lastExport: isLastExport,
});

const armShape = { id: isString, avgReward: isNumber, count: isNumber, low: isNumber, high: isNumber };
const isBestArm = nullable(object<BestArmView>({ ...armShape, separated: isBoolean }));

export const isSidebarState = object<SidebarState>({
  version: isVersion,
  workspaceName: isString,
  ready: isBoolean,
  trusted: isBoolean,
  kpis: object<SidebarState['kpis']>({
    runs: isNumber,
    avgReward: isNumber,
    previousAvgReward: nullable(isNumber),
    avgCost: nullable(isNumber),
    avgDuration: nullable(isNumber),
  }),
  roles: arrayOf(isRoleProgress),
  bestModel: isBestArm,
  bestPrompt: isBestArm,
  recentRuns: arrayOf(isRunRow),
  problems: arrayOf(isString),
});

/** A state as a page embeds and saves it (src/protocol.ts's PageState). */
export function pageStateOf<S>(isState: Check<S>): Check<PageState<S>> {
  return object<PageState<S>>({ pageId: nullable(isString), state: isState });
}

export const isTrainingProgress = object<TrainingProgress>({
  role: isString,
  step: isNumber,
  total: isNumber,
  loss: nullable(isNumber),
  etaS: nullable(isNumber),
});

const isProgress = object<{ current: number; threshold: number }>({ current: isNumber, threshold: isNumber });

const isChoiceSeries = object<HistoryView['choices']['prompts'][number]>({
  id: nullable(isString),
  share: arrayOf(isNumber),
});

export const isDashboardState = object<DashboardState>({
  version: isVersion,
  workspaceName: isString,
  ready: isBoolean,
  trusted: isBoolean,
  totalRuns: isNumber,
  history: object<HistoryView>({
    runs: arrayOf(isNumber),
    at: arrayOf(isNumber),
    roles: arrayOf(
      object<HistoryView['roles'][number]>({
        role: isString,
        reward: arrayOf(nullable(isNumber)),
        mean: arrayOf(nullable(isNumber)),
        baseline: nullable(object<{ reward: number; runs: number }>({ reward: isNumber, runs: isNumber })),
      }),
    ),
    choices: object<HistoryView['choices']>({
      runs: arrayOf(isNumber),
      prompts: arrayOf(isChoiceSeries),
      models: arrayOf(isChoiceSeries),
    }),
  }),
  models: arrayOf(
    object<ModelView>({
      ...armShape,
      avgCostTokens: nullable(isNumber),
      costPer1kTokens: nullable(isNumber),
    }),
  ),
  prompts: arrayOf(object<PromptView>({ ...armShape, preferred: isBoolean })),
  bestModel: isBestArm,
  bestPrompt: isBestArm,
  automation: arrayOf(
    object<AutomationView>({
      role: isString,
      autoExport: isBoolean,
      autoTrain: isBoolean,
      autoDeploy: isBoolean,
      exportProgress: isProgress,
      trainProgress: isProgress,
      lastExport: isLastExport,
      trainBlocked: nullable(isString),
      adapter: literal('none', 'trained', 'deployed'),
    }),
  ),
  events: arrayOf(
    object<EventView>({
      id: isNumber,
      at: isNumber,
      kind: isString,
      role: nullable(isString),
      message: isString,
      run: nullable(isNumber),
    }),
  ),
  training: nullable(isTrainingProgress),
});

const isCount = nullable(isNumber);

const isChangedFiles = arrayOf(
  object<ChangedFileView>({
    path: isString,
    added: isNumber,
    removed: isNumber,
    before: literal('seen', 'new', 'unseen'),
  }),
);

const isRunChange = (value: unknown): value is RunChangeView =>
  isRecord(value) &&
  isNumber(value.at) &&
  (isString(value.unavailable) || (isChangedFiles(value.files) && isString(value.patch)));

const isRunDetail = object<RunDetailView>({
  id: isString,
  createdAt: isNumber,
  taskSlug: isString,
  role: isString,
  modelId: isString,
  promptId: isString,
  complexity: nullable(isString),
  input: isString,
  output: isString,
  textsUnavailable: nullable(isString),
  compile: nullable(isBoolean),
  testsPassed: isCount,
  testsTotal: isCount,
  lintErrors: isCount,
  typeErrors: isCount,
  schemaErrors: isCount,
  boundaryErrors: isCount,
  human: nullable(literal('accept', 'reject')),
  humanAt: isCount,
  reward: isNumber,
  breakdown: arrayOf(
    object<RewardTermView>({
      signal: literal('compile', 'tests', 'errors', 'human', 'kept'),
      score: isNumber,
      weight: isNumber,
      share: isNumber,
      contribution: isNumber,
    }),
  ),
  costTokens: isCount,
  durationMs: isCount,
  iterations: isCount,
  source: nullable(isString),
  signals: arrayOf(
    object<ObservedSignalView>({ kind: isString, value: isNumber, source: isString, at: isNumber }),
  ),
  change: (value): value is RunDetailView['change'] =>
    value === undefined || value === null || isRunChange(value),
});

export const isRunViewState = object<RunViewState>({
  version: isVersion,
  runId: isString,
  run: nullable(isRunDetail),
  undo: nullable(
    object<{ verdict: RunDetailView['human'] }>({ verdict: nullable(literal('accept', 'reject')) }),
  ),
});

/** The message if it is one the protocol defines, else undefined (with a warning naming its type). */
export function readHostMessage(data: unknown): HostMessage | undefined {
  if (isRecord(data)) {
    if (data.type === 'sidebar' && isSidebarState(data.state)) return { type: 'sidebar', state: data.state };
    if (data.type === 'dashboard' && isDashboardState(data.state))
      return { type: 'dashboard', state: data.state };
    if (data.type === 'run' && isRunViewState(data.state)) return { type: 'run', state: data.state };
    if (data.type === 'training' && nullable(isTrainingProgress)(data.progress)) {
      return { type: 'training', progress: data.progress };
    }
  }
  const type = isRecord(data) && isString(data.type) ? `"${data.type}"` : typeof data;
  console.warn(`Agent Learning: ignoring a message that is not in the protocol (type ${type.slice(0, 80)})`);
  return undefined;
}
