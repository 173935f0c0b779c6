// When and how a role's SFT dataset is exported: on demand, or once enough high-quality runs arrived since the last
// export; each export is recorded (an event, the last-export file) so the next one counts from it.

import * as path from 'node:path';
import { ExportMemo, FinishedMeanwhile, SftExport, type ExportResult } from './sftExport';
import { LearningError, describe } from '../errors';
import { Emitter } from '../events';
import type { Complexity } from '../learning/runResult';
import type { DurableStore } from '../store/durableStore';
import { adapterKey, exportMemoFile, lastExportFile, sftDir, sftFile } from '../workspace/agentDir';
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

/** How long one slice of a queued auto-export may hold the event loop. */
const EXPORT_SLICE_MS = 8;

/** The runs seed counts in one turn of the event loop, about (4 ms): smaller roles together, larger ones apart. */
const SEED_TURN_RUNS = 50_000;

/** A role of at most this many runs has its high-quality runs counted in one query by seed (8 ms at 100k). */
const SEED_QUERY_RUNS = 100_000;

/** The pks of a larger role seed counts per turn of the event loop (10 ms at 1M runs). */
const SEED_WINDOW_PKS = 50_000;

function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

export class Exporter {
  private readonly didExport = new Emitter<ExportResult>();
  private readonly trainingDue = new Emitter<TrainingDue>();
  /** Roles whose auto-export is due and waits for the queue, each once however many runs asked for it. */
  private readonly queued = new Map<string, ExportStore>();
  private draining: Promise<void> | undefined;
  /** Exports being taken a slice at a time, which drainNow finishes at once. */
  private readonly inFlight = new Set<() => void>();
  /** The end of the last sliced export begun (see oneAtATime). */
  private lastTurn: Promise<void> = Promise.resolve();
  private disposed = false;
  /** The latest seed begun: an earlier one still counting stops. */
  private seeding = 0;
  private readonly memos = new Map<string, ExportMemo>();

  /** Fired after each export of a role's dataset (not of a tier's). */
  readonly onDidExport = this.didExport.event;
  /** Fired when an export reaches `autoTrain.minExamples` and auto-train is on. */
  readonly onTrainingDue = this.trainingDue.event;

  constructor(private readonly options: ExporterOptions) {}

  /** Exports the role's dataset now if its high-quality runs since the last export reach `autoExport.minRuns`. */
  maybeAutoExport(store: ExportStore, role: string): void {
    if (!this.autoExportDue(store, role)) return;
    this.options.log(`📦 Auto-exporting SFT dataset for ${role}...`);
    try {
      this.export(store, role);
    } catch (err) {
      this.options.log(`❌ Export for ${role} failed: ${describe(err)}`);
    }
  }

  /**
   * Queues the role's auto-export if it is due, to run after the caller (a recordRun resolves once its run is
   * durable, not once a dataset is written): one export at a time, each role once however often it was queued.
   * Whether it is due is asked again when its turn comes (a manual export may have been made meanwhile).
   */
  queueAutoExport(store: ExportStore, role: string): void {
    if (this.disposed || !this.autoExportDue(store, role)) return;
    this.queued.set(role, store);
    this.startDrain();
  }

  private startDrain(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      if (this.queued.size > 0 && !this.disposed) this.startDrain(); // queued as the last turn ended
    });
  }

  /** Resolves once every queued auto-export has run. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Runs the queued auto-exports now, synchronously (closing: the process may exit right after). */
  drainNow(): void {
    for (const complete of [...this.inFlight]) complete();
    for (const [role, store] of this.queued) {
      this.queued.delete(role);
      this.runQueued(store, role);
    }
  }

  /**
   * Counts each role's high-quality runs since its last export once (the store keeps the count from then on), so
   * that no recordRun has to: at open, after a config change, after the database was reloaded. Roles are counted
   * SEED_TURN_RUNS runs a turn of the event loop, about, and a role of over SEED_QUERY_RUNS runs SEED_WINDOW_PKS a
   * turn: at 1M runs of one role never exported, the count in one query held the loop 70–77 ms. Resolves once every
   * role's count is kept; `stop`, a later seed (the config changed again) or another database (reloaded) ends it
   * sooner.
   */
  async seed(store: ExportStore, stop: () => boolean = () => false): Promise<void> {
    const db = store.db;
    const seeding = ++this.seeding;
    const { minReward } = this.options.config().autoExport;
    const watermark = (role: string) => store.events.last('export', role)?.data.watermarkPk ?? 0;
    const ended = () => this.disposed || stop() || store.db !== db || seeding !== this.seeding;
    let inTurn = 0; // runs counted in this turn
    for (const [role, runs] of db.runsPerRole()) {
      if (inTurn > 0 && inTurn + Math.min(runs, SEED_TURN_RUNS) > SEED_TURN_RUNS) {
        await nextTurn();
        if (ended()) return;
        inTurn = 0;
      }
      if (runs <= SEED_QUERY_RUNS) {
        db.countHighQuality(role, minReward, watermark(role));
        inTurn += runs;
        continue;
      }
      while (!db.countHighQualityStep(role, minReward, watermark(role), SEED_WINDOW_PKS)) {
        await nextTurn();
        if (ended()) return;
      }
      inTurn = SEED_TURN_RUNS; // the last window: the next role in a turn of its own
    }
    // Every role again, in the turn of the last count (kept: no query), and any that came meanwhile.
    for (const role of db.runsPerRole().keys()) db.countHighQuality(role, minReward, watermark(role));
    db.countNewRoles(minReward);
  }

  private async drain(): Promise<void> {
    for (;;) {
      await nextTurn();
      const next = this.queued.entries().next();
      if (next.done || this.disposed) return;
      const [role, store] = next.value;
      this.queued.delete(role);
      await this.runQueuedSliced(store, role);
    }
  }

  private runQueued(store: ExportStore, role: string): void {
    try {
      this.maybeAutoExport(store, role);
    } catch (err) {
      // Not the export (maybeAutoExport logs its failures): the question before it. The queue goes on.
      this.options.log(`❌ Export for ${role} failed: ${describe(err)}`);
    }
  }

  /** A queued auto-export, if it is still due when its turn comes, taken a slice at a time (see `sliced`). */
  private runQueuedSliced(store: ExportStore, role: string): Promise<void> {
    return this.oneAtATime(async () => {
      try {
        if (!this.autoExportDue(store, role)) return;
        this.options.log(`📦 Auto-exporting SFT dataset for ${role}...`);
        await this.sliced(store, role, undefined);
      } catch (err) {
        this.options.log(`❌ Export for ${role} failed: ${describe(err)}`);
      }
    });
  }

  /**
   * Runs sliced exports one after another, auto and asked-for alike: two taken at once would write the same file
   * in turn, and the later event could carry the lower watermark.
   */
  private oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.lastTurn.then(fn);
    this.lastTurn = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /**
   * Writes a role's dataset like `export`, taken a slice at a time: reading a thousand runs' texts and scrubbing
   * them takes a few hundred milliseconds, which in one piece would freeze the editor.
   */
  exportSliced(store: ExportStore, role: string, tier?: Complexity): Promise<ExportResult> {
    return this.oneAtATime(async () => {
      const result = await this.sliced(store, role, tier);
      if (!result) throw new LearningError('The learning pipeline was closed before the export was written.');
      return result;
    });
  }

  /**
   * Takes the export EXPORT_SLICE_MS at a time, with the event loop let run between slices. Closing meanwhile
   * (drainNow) finishes it at once; disposed without that, it is dropped (undefined), and the next open exports.
   */
  private async sliced(
    store: ExportStore,
    role: string,
    tier: Complexity | undefined,
  ): Promise<ExportResult | undefined> {
    // The runs recorded while the memo is read wait for the next export, as they would if it had begun at once.
    const upToPk = store.db.maxPk();
    let job: SftExport | undefined;
    let settled = false;
    let result: ExportResult | undefined;
    let failure: unknown;
    const complete = () => {
      if (settled) return;
      settled = true;
      this.inFlight.delete(complete);
      try {
        job ??= this.start(store, role, tier, upToPk);
        job.step(Infinity);
        result = this.finishExport(store, role, tier, job.finish());
      } catch (err) {
        failure = err;
      }
    };
    this.inFlight.add(complete);
    try {
      // What the last export left on disk (the memo and the dataset), read first, off the event loop.
      await this.memoOf(role, tier).load(store.db.lineage());
      if (!settled && !this.disposed) job = this.start(store, role, tier, upToPk);
      while (job && !settled && !job.done && !this.disposed) {
        job.step(EXPORT_SLICE_MS);
        await nextTurn();
      }
    } catch (err) {
      settled = true;
      failure = err;
    }
    if (job && !settled && !this.disposed) {
      // Written off the event loop; closing meanwhile (drainNow) writes it at once instead, and this write is dropped.
      try {
        const written = await job.finishAsync();
        if (written && !settled) {
          settled = true;
          this.inFlight.delete(complete);
          result = this.finishExport(store, role, tier, written);
        }
      } catch (err) {
        if (!settled && !(err instanceof FinishedMeanwhile)) {
          settled = true;
          failure = err;
        }
      }
    }
    if (!settled && !this.disposed) complete();
    this.inFlight.delete(complete);
    if (failure !== undefined) throw failure;
    return result;
  }

  private autoExportDue(store: ExportStore, role: string): boolean {
    const { enabled, autoExport } = this.options.config();
    // Only the owner: its export event is saved, and two windows must not both export (and train).
    if (!store.isOwner || !enabled || !autoExport.enabled) return false;
    const watermark = store.events.last('export', role)?.data.watermarkPk ?? 0;
    return store.db.countHighQuality(role, autoExport.minReward, watermark) >= autoExport.minRuns;
  }

  /**
   * Writes a role's dataset, or with a tier the curriculum dataset of that tier's runs. A tier's export has its own
   * files and event kind, so the role's export progress and auto-train trigger are not reset by it.
   */
  export(store: ExportStore, role: string, tier?: Complexity): ExportResult {
    const job = this.start(store, role, tier);
    job.step(Infinity);
    return this.finishExport(store, role, tier, job.finish());
  }

  private start(store: ExportStore, role: string, tier?: Complexity, upToPk?: number): SftExport {
    const { agentDir } = this.options;
    const { autoExport } = this.options.config();
    prepareFolder(sftDir(agentDir), path.dirname(agentDir), this.options.trusted());
    return new SftExport(() => store.db, {
      role,
      ...(tier && { tier }),
      minReward: autoExport.minReward,
      maxExamples: autoExport.maxExamples,
      systemPrompt: this.options.promptText,
      file: sftFile(agentDir, role, tier),
      memo: this.memoOf(role, tier),
      ...(upToPk !== undefined && { upToPk }),
    });
  }

  /** Each dataset's memo (see ExportMemo), kept while this exporter lives and beside the dataset. */
  private memoOf(role: string, tier: Complexity | undefined): ExportMemo {
    const key = adapterKey(role, tier);
    let memo = this.memos.get(key);
    if (!memo) {
      const { agentDir } = this.options;
      memo = new ExportMemo({
        dataset: sftFile(agentDir, role, tier),
        memo: exportMemoFile(agentDir, role, tier),
      });
      this.memos.set(key, memo);
    }
    return memo;
  }

  /** What follows a written dataset: the last-export file, the event, the count from the new watermark, the log. */
  private finishExport(
    store: ExportStore,
    role: string,
    tier: Complexity | undefined,
    result: ExportResult,
  ): ExportResult {
    const { agentDir, now, log } = this.options;
    const { autoExport, autoTrain, enabled } = this.options.config();
    const key = adapterKey(role, tier);
    const file = result.file;
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
    // The store keeps the role's count from the new watermark on (only runs recorded while the export was taken
    // are after it: a bounded count).
    if (!tier) store.db.countHighQuality(role, autoExport.minReward, result.watermarkPk);
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
    this.disposed = true;
    this.queued.clear();
    this.didExport.dispose();
    this.trainingDue.dispose();
  }
}
