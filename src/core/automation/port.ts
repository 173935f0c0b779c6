// What the automation needs from the learning pipeline, and nothing more.

import type { ExportResult } from '../dataset/sftExport';
import type { Event } from '../events';
import type { Complexity } from '../learning/runResult';
import type { TrainingDue } from '../pipeline';
import type { EventData, EventKind, TypedEvent } from '../store/eventLog';
import type { LearningConfig } from '../workspace/config';
import type { ModelVariant } from '../workspace/variants';

/**
 * What `Automation` and its `DriftWatch` work through: the pipeline builds it (`automationPort(pipeline)` in
 * pipeline.ts), so the members the automation alone needs (events, rewards, model variants, routing under
 * evaluation) are not part of `LearningPipeline`'s public surface.
 */
export interface AutomationPort {
  readonly agentDir: string;
  /** True once this process owns `.agent/experience.db` (another window or the CLI may). */
  isOwner(): boolean;
  whenReady(): Promise<void>;
  getConfig(): { config: LearningConfig };
  /** Roles that have runs. */
  roles(): string[];

  readonly onTrainingDue: Event<TrainingDue>;
  /** Any change to the data or the config files: the drift watch looks again. */
  readonly onDidChange: Event<unknown>;

  exportDataset(role: string, tier?: Complexity): Promise<ExportResult>;
  lastRunPk(): number;
  highQualityRunsSince(role: string, afterPk: number, tier?: string): number;
  rewards(
    role: string,
    model: string | undefined,
    tier: string | undefined,
    range: { afterPk: number; limit: number } | { atMostPk: number; limit: number },
  ): number[];

  recordEvent<K extends EventKind>(kind: K, role: string, message: string, data: EventData<K>): void;
  lastEvent<K extends EventKind>(kind: K, role: string, key?: string): TypedEvent<K> | undefined;

  addModelVariant(variant: ModelVariant): void;
  withdrawModelVariant(id: string): boolean;
  /** Sends the role's (tier's) runs to `model` while it is evaluated; `undefined` ends that. */
  setEvaluating(role: string, tier: string | undefined, model: string | undefined): void;
}
