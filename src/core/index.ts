// The core as a library: `require('agent-learning/dist/core.js')`.

export { LearningPipeline, automationPort } from './pipeline';
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
export { configJsonSchema, defaultConfig, parseConfig, ALGORITHMS } from './workspace/config';
export type { LearningConfig, LearningConfigInput, Algorithm } from './workspace/config';
export {
  ConfigError,
  ConvertError,
  CorruptDatabaseError,
  DeployGateError,
  InvalidInputError,
  LearningError,
  NewerSchemaError,
  NoEligibleModelError,
} from './errors';
export { computeReward } from './learning/reward';
export { scrubSecrets } from './dataset/secrets';
export { ROLE_PATTERN, BUILTIN_ROLES } from './workspace/names';
export { COMPLEXITIES } from './learning/runResult';
export type { RunResult, Complexity, Verdict } from './learning/runResult';
export type { ExportResult } from './dataset/sftExport';
export type { WebKnowledge } from './web/webKnowledge';
export type { LearningEvent, RecentRun } from './store/store';
export { inboxEntrySchema, InboxWriter } from './store/inbox';
export type { InboxEntry } from './store/inbox';
export {
  convertLora,
  LORA_ARCHITECTURES,
  LORA_OUT_TYPES,
  type ConvertLoraOptions,
  type ConvertLoraResult,
} from './convert/loraConvert';
export {
  assessDrift,
  DRIFT_METHODS,
  type DriftMethod,
  type DriftOptions,
  type DriftVerdict,
} from './automation/drift';
export {
  Automation,
  StepFailedError,
  type AutomationOptions,
  type DeployOutcome,
  type ProgressEvent,
  type RollbackOutcome,
  type TrainOutcome,
} from './automation/automation';
export type { AutomationPort } from './automation/port';
export { ChildProcessRunner, type Step, type StepOutcome, type StepRunner } from './automation/steps';
export type { Tools, TrainEval, TrainProgress } from './automation/training';
export { knownBaseTags, resolveBaseModel, type BaseModel } from './automation/baseModels';
export { OllamaClient, deployMethodFor, ADAPTER_REMOVED_IN } from './automation/ollama';
export {
  convertModel,
  MODEL_ARCHITECTURES,
  MODEL_OUT_TYPES,
  type ModelOutType,
} from './convert/modelConvert';
