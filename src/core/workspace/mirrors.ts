// Writes the store's bandit statistics into prompt_variants.json and model_variants.json for users to read, leaving
// the part users edit as they wrote it.

import { modelVariantsFile, promptVariantsFile } from './agentDir';
import type { ConfigFiles } from './configFiles';
import { writeModelMirror, writePromptMirror, type ArmSummary } from './variants';
import { describe } from '../errors';

/** The statistics the mirrors show, as the store answers them (workspace/ does not import store/). */
export interface MirrorSource {
  armStats(
    kind: 'prompt' | 'model',
    role: string | undefined,
  ): { arm: string; n: number; rewardSum: number }[];
  runsPerRole(): Map<string, number>;
}

export interface MirrorWriterOptions {
  agentDir: string;
  files: ConfigFiles;
  now: () => number;
  log: (line: string) => void;
  /** The store; undefined until it is open. */
  store: () => MirrorSource | undefined;
  /** Only the process that owns the store writes the mirrors on its own schedule. */
  isOwner: () => boolean;
}

export class MirrorWriter {
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: MirrorWriterOptions) {}

  /** The statistics changed: the mirrors are written within two seconds. */
  changed(): void {
    this.dirty = true;
    // Mirrors are small but still I/O: written at most every two seconds, not per run.
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.dirty && !this.stopped && this.options.isOwner()) this.write();
    }, 2000);
    this.timer.unref();
  }

  /** No more scheduled writes (`write` still writes when asked). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Writes both files now, per role and for all roles (`*`); a file the user left invalid is not touched. */
  write(): void {
    const store = this.options.store();
    if (!store) return;
    this.dirty = false;
    const { files, agentDir } = this.options;
    // Pick up the user's latest edits first: their part of the files is written back as they left it.
    files.reloadIfChanged();
    const summaries = (kind: 'prompt' | 'model'): Record<string, ArmSummary[]> => {
      const out: Record<string, ArmSummary[]> = { '*': summarise(store.armStats(kind, undefined)) };
      for (const role of store.runsPerRole().keys()) out[role] = summarise(store.armStats(kind, role));
      return out;
    };
    const now = this.options.now();
    try {
      if (files.promptFileOk) {
        this.writeFile(promptVariantsFile(agentDir), (file) =>
          writePromptMirror(
            file,
            files.userPromptVariants,
            files.promptVariants,
            files.config.promptBandit.algorithm,
            summaries('prompt'),
            now,
          ),
        );
      }
      if (files.modelFileOk) {
        this.writeFile(modelVariantsFile(agentDir), (file) =>
          writeModelMirror(
            file,
            files.modelVariants,
            files.config.modelRouter.algorithm,
            summaries('model'),
            now,
          ),
        );
      }
    } catch (err) {
      this.options.log(`⚠️ Could not write the variants files: ${describe(err)}`);
    }
  }

  /**
   * Writes model_variants.json at once after the models changed (the automation added or withdrew one), with the
   * all-roles statistics; the per-role ones follow with the next full write.
   */
  writeModels(): void {
    const { files, agentDir } = this.options;
    const store = this.options.store();
    this.writeFile(modelVariantsFile(agentDir), (file) =>
      writeModelMirror(
        file,
        files.modelVariants,
        files.config.modelRouter.algorithm,
        store ? { '*': summarise(store.armStats('model', undefined)) } : {},
        this.options.now(),
      ),
    );
    this.dirty = true;
  }

  /**
   * Writes one file with `write` (false: it left the file as it was) and takes in that file's new stamp only, so
   * the write is not seen as an edit while an edit of another file made meanwhile still is (commit 51ebefc).
   */
  private writeFile(file: string, write: (file: string) => boolean): void {
    if (write(file)) this.options.files.restamp(file);
  }
}

function summarise(stats: { arm: string; n: number; rewardSum: number }[]): ArmSummary[] {
  return stats.map((s) => ({ id: s.arm, n: s.n, meanReward: Number((s.rewardSum / s.n).toFixed(4)) }));
}
