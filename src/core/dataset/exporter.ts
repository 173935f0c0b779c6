// When and how a role's SFT dataset is exported: on demand, or once enough high-quality runs arrived since the last
// export; each export is recorded (an event, the last-export file) so the next one counts from it.

import * as path from 'node:path';
import { exportSft, type ExportResult } from './sftExport';
import { describe } from '../errors';
import { Emitter } from '../events';
import type { Complexity } from '../learning/runResult';
import type { DurableStore } from '../store/durableStore';
import { adapterKey, lastExportFile, sftDir, sftFile } from '../workspace/agentDir';
import { writeFileAtomicSync } from '../workspace/atomicFile';
import { prepareFolder } from '../workspace/links';
import type { LearningConfig } from '../workspace/config';

export interface TrainingDue {
  role: string;
  dataset: string;
  examples: number;
}

/** What an export reads and records: the runs, the timeline, and whether this process owns them. */
export type ExportStore = Pick<DurableStore, 'db' | 'events' | 'isOwner'>;

export interface ExporterOptions {
  agentDir: string;
  now: () => number;
  /** Where the seed's log lines go. */
  log: (line: string) => void;
  config: () => LearningConfig;
  /** Workspace Trust: while false, an `.agent/` or `sft` link out of the workspace is refused. */
  trusted: () => boolean;
  /** The text of a prompt variant: the system message of the examples recorded with it. */
  promptText: (promptId: string) => string;
  /** Told after each export, which changed the data. */
  changed: () => void;
}

export class Exporter {
  private readonly didExport = new Emitter<ExportResult>();
  private readonly trainingDue = new Emitter<TrainingDue>();

  /** Fired after each export of a role's dataset (not of a tier's). */
  readonly onDidExport = this.didExport.event;
  /** Fired when an export reaches `autoTrain.minExamples` and auto-train is on. */
  readonly onTrainingDue = this.trainingDue.event;

  constructor(private readonly options: ExporterOptions) {}

  /** Exports the role's dataset if its high-quality runs since the last export reach `autoExport.minRuns`. */
  maybeAutoExport(store: ExportStore, role: string): void {
    const { enabled, autoExport } = this.options.config();
    // Only the owner: its export event is saved, and two windows must not both export (and train).
    if (!store.isOwner || !enabled || !autoExport.enabled) return;
    const watermark = store.events.last('export', role)?.data.watermarkPk ?? 0;
    if (store.db.countHighQuality(role, autoExport.minReward, watermark) < autoExport.minRuns) return;
    this.options.log(`📦 Auto-exporting SFT dataset for ${role}...`);
    try {
      this.export(store, role);
    } catch (err) {
      this.options.log(`❌ Export for ${role} failed: ${describe(err)}`);
    }
  }

  /**
   * Writes a role's dataset, or with a tier the curriculum dataset of that tier's runs. A tier's export has its own
   * files and event kind, so the role's export progress and auto-train trigger are not reset by it.
   */
  export(store: ExportStore, role: string, tier?: Complexity): ExportResult {
    const { agentDir, now, log } = this.options;
    const { autoExport, autoTrain, enabled } = this.options.config();
    const key = adapterKey(role, tier);
    const file = sftFile(agentDir, role, tier);
    prepareFolder(sftDir(agentDir), path.dirname(agentDir), this.options.trusted());
    const result = exportSft(store.db, {
      role,
      ...(tier && { tier }),
      minReward: autoExport.minReward,
      maxExamples: autoExport.maxExamples,
      systemPrompt: this.options.promptText,
      file,
    });
    const rel = path.relative(path.dirname(agentDir), file).split(path.sep).join('/');
    const at = now();
    // Atomic, so a link planted in its place (a cloned repository may ship one) is replaced, never written through.
    writeFileAtomicSync(
      lastExportFile(agentDir, role, tier),
      `${new Date(at).toISOString()}\n${result.count} examples\n${rel}\n`,
    );
    // Saved with the next save. Lost in a crash, it costs one repeated export, which writes the same file.
    store.events.add(
      at,
      tier ? 'export-tier' : 'export',
      role,
      `Exported ${result.count} ${key} examples to ${rel}`,
      {
        ...(tier && { tier }),
        count: result.count,
        file: rel,
        watermarkPk: result.watermarkPk,
        minReward: result.minReward,
        duplicatesSkipped: result.duplicatesSkipped,
        secretsRedacted: result.secretsRedacted,
      },
    );
    log(`✅ Exported ${result.count} ${key} examples to ${rel}`);
    if (result.secretsRedacted > 0) log(`   🔒 ${result.secretsRedacted} secrets replaced by placeholders`);
    if (tier) {
      this.options.changed();
      return result;
    }
    this.didExport.fire(result);
    this.options.changed();
    if (enabled && autoTrain.enabled && result.count >= autoTrain.minExamples) {
      this.trainingDue.fire({ role, dataset: file, examples: result.count });
    }
    return result;
  }

  dispose(): void {
    this.didExport.dispose();
    this.trainingDue.dispose();
  }
}
