// What the automation needs from the learning pipeline, and nothing more.

import type { ExportResult } from '../dataset/sftExport';
import type { Event } from '../events';
import type { Complexity } from '../learning/runResult';
import type { TrainingDue } from '../pipeline';
import type { EventData, EventKind, TypedEvent } from '../store/eventLog';
import type { LearningConfig } from '../workspace/config';
import type { ModelVariant } from '../workspace/variants';

/**
 * The members of the pipeline that `Automation` and its `DriftWatch` use: `LearningPipeline` has them all, so hosts
 * pass the pipeline as it is. Several exist on `LearningPipeline` for the automation alone
 * (`recordEvent`, `lastEvent`, `rewards`, `lastRunPk`, `highQualityRunsSince`, `addModelVariant`,
 * `withdrawModelVariant`, `setEvaluating`); the next step is to take them off its public surface and hand the
 * automation this port instead.
 */
export interface AutomationPort {
  readonly agentDir: string;
  /** True once this process owns `.agent/experience.db` (another window or the CLI may). */
  readonly isOwner: boolean;
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
