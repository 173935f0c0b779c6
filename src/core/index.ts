// The core as a library: `require('agent-learning/dist/core.js')`.

export { LearningPipeline } from './pipeline';
export type {
  Insights,
  LearningStats,
  PipelineOptions,
  RecordedRun,
  RoleProgress,
  SelectedModel,
  SelectedPrompt,
  TrainingDue,
} from './pipeline';
export { configJsonSchema, defaultConfig, parseConfig, ALGORITHMS } from './config';
export type { LearningConfig, LearningConfigInput, Algorithm } from './config';
export {
  ConfigError,
  ConvertError,
  CorruptDatabaseError,
  InvalidInputError,
  LearningError,
  NewerSchemaError,
  NoEligibleModelError,
} from './errors';
export { computeReward } from './reward';
export { scrubSecrets } from './secrets';
export { ROLE_PATTERN, BUILTIN_ROLES } from './names';
export { COMPLEXITIES } from './runResult';
export type { RunResult, Complexity, Verdict } from './runResult';
export type { ExportResult } from './sftExport';
export type { WebKnowledge } from './webKnowledge';
export type { LearningEvent, RecentRun } from './store';
export { inboxEntrySchema, InboxWriter } from './inbox';
export type { InboxEntry } from './inbox';
export {
  convertLora,
  LORA_ARCHITECTURES,
  LORA_OUT_TYPES,
  type ConvertLoraOptions,
  type ConvertLoraResult,
} from './loraConvert';
export { assessDrift, DRIFT_METHODS, type DriftMethod, type DriftOptions, type DriftVerdict } from './drift';
export {
  Automation,
  StepFailedError,
  type AutomationOptions,
  type DeployOutcome,
  type ProgressEvent,
  type RollbackOutcome,
  type TrainOutcome,
} from './automation';
export { ChildProcessRunner, type Step, type StepOutcome, type StepRunner } from './steps';
export type { Tools, TrainEval, TrainProgress } from './training';
export { knownBaseTags, resolveBaseModel, type BaseModel } from './baseModels';
export { OllamaClient, deployMethodFor, ADAPTER_REMOVED_IN } from './ollama';
export { convertModel, MODEL_ARCHITECTURES, MODEL_OUT_TYPES, type ModelOutType } from './modelConvert';
