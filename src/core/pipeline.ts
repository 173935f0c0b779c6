// LearningPipeline: the seed's API (selectPrompt, selectModel, recordRun, recordFeedback, getStats,
// fetchWebKnowledge, close) as a facade: it checks arguments and wires the stages, whose modules hold the logic
// (ConfigFiles, MirrorWriter, Selector, Exporter, the stats projections, the durable store).

import * as path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ConfigError, InvalidInputError, LearningError, describe } from './errors';
import { Emitter, type Event } from './events';
import { agentDirOf, databaseFile, knowledgeDir, sftDir } from './workspace/agentDir';
import { removeStaleTempFiles } from './workspace/atomicFile';
import type { LearningConfig } from './workspace/config';
import { ConfigFiles } from './workspace/configFiles';
import { MirrorWriter } from './workspace/mirrors';
import type { ModelVariant } from './workspace/variants';
import { checkRole, isRole } from './workspace/names';
import { DurableStore } from './store/durableStore';
import { isProcessAlive } from './store/lock';
import { computeReward, rewardBreakdown, type RewardTerm, type RewardWeights } from './learning/reward';
import {
  checkRunSource,
  checkSignal,
  withObserved,
  type ObservedSignal,
  type RunSource,
  type SignalInput,
} from './learning/signals';
import type { RunCursor, RunFilter, RunOrder, RunPage } from './store/store';
import {
  checkVerdict,
  checkComplexity,
  newRunId,
  toRunRecord,
  validateRunArgs,
  type Complexity,
  type RunRecord,
  type RunResult,
  type Verdict,
} from './learning/runResult';
import { checkRunChange, type RunChange } from './learning/runChange';
import { Selector, type SelectedModel, type SelectedPrompt } from './learning/selection';
import { RunHistory } from './learning/history';
import { insights, learningStats, type Insights, type LearningStats } from './learning/stats';
import { Exporter, type TrainingDue } from './dataset/exporter';
import type { ExportResult } from './dataset/sftExport';
import { WebKnowledgeFetcher, type WebKnowledge } from './web/webKnowledge';
import type { AutomationPort } from './automation/port';

export type { SelectedModel, SelectedPrompt } from './learning/selection';
export type { TrainingDue } from './dataset/exporter';
export type { Insights, LearningStats, RoleProgress } from './learning/stats';
export type { RunHistoryView } from './learning/history';

export type { RunCursor, RunFilter, RunOrder, RunPage } from './store/store';
export type { RewardTerm } from './learning/reward';
export type { ObservedSignal, RunSource, SignalInput, SignalKind } from './learning/signals';

/**
 * One run as the run view shows it: every stored field, its texts, the signals observed after it, and its reward's
 * terms under today's weights.
 */
export interface RunDetail extends RunRecord {
  source: RunSource | null;
  /** Why `input` and `output` are empty: their record in .agent/texts/ cannot be read (the run is kept). */
  textsUnavailable: string | null;
  signals: ObservedSignal[];
  breakdown: RewardTerm[];
  /** The files the run changed and their diff, as the editor saw them; null when none was observed. */
  change: RunChange | { at: number; unavailable: string } | null;
}

/** How a run reached `recordRun`, beyond its result. */
export interface RecordOptions {
  /** Default `api`; the gateway says `gateway`, the editor's chat models `chat`. */
  source?: RunSource;
  /**
   * For a caller that does not wait on the run (the gateway records a completion after answering it): the run's
   * journal fdatasync is shared with the runs recorded meanwhile and runs off the event loop (group commit), so
   * many runs at once cost one fdatasync per group and the event loop goes on. The promise still resolves only
   * once the run is on disk. Default: the run's own fdatasync, at once (the quickest for one caller that awaits).
   */
  groupCommit?: boolean;
  /**
   * The workspace files the run changed (absolute, or relative to the workspace), for the editor to observe
   * (diagnostics, tasks, whether the change is kept, and the diff shown with the run: `recordChange`). Not stored
   * with the run: they reach `onDidRecordRun` only.
   */
  files?: string[];
}

/** What `onDidRecordRun` tells: the run, and how it came (RecordOptions). */
export interface RecordedRunEvent extends RecordedRun {
  role: string;
  taskSlug: string;
  source: RunSource;
  files: string[];
}

/** The most a page of runs holds, whatever a caller asks for: a page is for a screen, not an export. */
export const MAX_RUN_PAGE = 500;

export interface PipelineOptions {
  /** Clock in ms since the epoch. */
  now?: () => number;
  /** Uniform [0, 1) randomness for the bandit and router. */
  random?: () => number;
  /** Where the seed's log lines go. Default: console.log. */
  log?: (line: string) => void;
  /** How often to pick up runs other processes wrote to the inbox (ms); 0 turns polling off. Default 1000. */
  pollIntervalMs?: number;
  /** Shortest pause between saves of experience.db (ms); runs are safe in the journal meanwhile. Default 1000. */
  saveDelayMs?: number;
  /**
   * Workspace Trust: while false, no folder under `.agent/` that a link leads out of the workspace is written
   * (workspace/links.ts). Default: trusted (CLI, scripts).
   */
  trusted?: () => boolean;
}

export interface RecordedRun {
  /** '' when nothing was recorded (learning disabled). */
  id: string;
  reward: number;
  /** False when learning is disabled in the config: the reward is computed but nothing is stored. */
  recorded?: boolean;
}

/** Each pipeline's automation port, kept here so that its members stay off `LearningPipeline`'s public surface. */
const ports = new WeakMap<LearningPipeline, AutomationPort>();

export class LearningPipeline {
  readonly agentDir: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  private readonly pollIntervalMs: number;
  private readonly saveDelayMs: number | undefined;
  private readonly trusted: () => boolean;

  private readonly files: ConfigFiles;

  private durable: DurableStore | undefined;
  /** The store while open() takes its counts, before it is `durable`: for close(), a config change, runsStored. */
  private opening: DurableStore | undefined;
  private readonly ready: Promise<void>;
  private closed = false;
  /** Runs a long inbox read applied that onDidIngestRuns has not told of yet (see onExternalChange). */
  private ingestedUntold = 0;
  /**
   * Runs in the store that onDidRecordRun or onDidIngestRuns told of, or are about to; set once the store is open.
   * A read that starts again from a saved database (taking over from an owner that died, a reader loading the
   * owner's newer save) applies runs this process already told of: only the store's count says which are new.
   */
  private runsTold: number | undefined;
  /** The close under way (see close). */
  private closing: Promise<void> | undefined;
  /** Set once closeOpen ran: by the close, or by the process exiting before the close was done. */
  private closedOpen = false;
  private readonly webKnowledge: WebKnowledgeFetcher;
  private readonly mirrors: MirrorWriter;
  private readonly selector: Selector;
  private readonly exporter: Exporter;
  private disabledLogged = false;
  /** Reward and choices over run order, kept up to date a few runs at a time (getRunHistory). */
  private readonly history = new RunHistory();

  private readonly didRecordRun = new Emitter<RecordedRunEvent>();
  /** `config`: the config or variants files changed on disk and were read again. */
  private readonly didChange = new Emitter<{ source: 'local' | 'inbox' | 'config' }>();
  private readonly problem = new Emitter<LearningError>();
  private readonly didIngestRuns = new Emitter<number>();

  /** Fired after each run this process records. */
  readonly onDidRecordRun = this.didRecordRun.event;
  /** Fired with their number after runs other processes wrote (the CLI, an agent's inbox file) were ingested. */
  readonly onDidIngestRuns = this.didIngestRuns.event;
  /**
   * Fired after any change to the data (a run, a verdict, an export, entries ingested from the inbox) or to the
   * config and variants files, once read again.
   */
  readonly onDidChange = this.didChange.event;
  readonly onDidExport: Event<ExportResult>;
  /** Fired when an export reaches `autoTrain.minExamples` and auto-train is on. */
  readonly onTrainingDue: Event<TrainingDue>;
  /** Invalid config, a corrupt database set aside, a failed save. */
  readonly onProblem = this.problem.event;

  /** Starts opening `.agent/` under `repoRoot`; selection works at once, recording waits until it is open. */
  constructor(repoRoot: string, options: PipelineOptions = {}) {
    this.agentDir = agentDirOf(repoRoot);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? ((line) => console.log(line));
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.saveDelayMs = options.saveDelayMs;
    this.trusted = options.trusted ?? (() => true);
    this.webKnowledge = new WebKnowledgeFetcher(
      knowledgeDir(this.agentDir),
      this.now,
      this.log,
      this.trusted,
    );
    this.files = new ConfigFiles(this.agentDir, {
      log: this.log,
      onProblem: (err) => this.problem.fire(err),
      onChange: () => {
        if (this.closed) return;
        this.configRead();
        this.didChange.fire({ source: 'config' });
      },
    });
    this.selector = new Selector({ random: this.random, files: this.files, store: () => this.durable?.db });
    this.mirrors = new MirrorWriter({
      agentDir: this.agentDir,
      files: this.files,
      now: this.now,
      log: this.log,
      store: () => this.durable?.db,
      isOwner: () => this.isOwner,
    });
    this.exporter = new Exporter({
      agentDir: this.agentDir,
      now: this.now,
      log: this.log,
      config: () => this.files.config,
      trusted: this.trusted,
      promptText: (id) => this.files.promptVariants.find((p) => p.id === id)?.text ?? '',
      changed: () => this.afterChange('local'),
    });
    this.onDidExport = this.exporter.onDidExport;
    this.onTrainingDue = this.exporter.onTrainingDue;
    ports.set(this, this.makePort());
    this.ready = this.open();
    // Failures surface from recordRun/ready; an unobserved rejection must not crash the host.
    this.ready.catch(() => undefined);
  }

  /** Opens the pipeline and waits until the database is ready. */
  static async open(repoRoot: string, options: PipelineOptions = {}): Promise<LearningPipeline> {
    const p = new LearningPipeline(repoRoot, options);
    await p.whenReady();
    return p;
  }

  async whenReady(): Promise<void> {
    await this.ready;
  }

  get isOwner(): boolean {
    return this.durable?.isOwner ?? false;
  }

  /** The configuration in force (the last valid one) and the current file's error, if any. */
  getConfig(): { config: LearningConfig; error: ConfigError | undefined } {
    this.files.maybeReload();
    return { config: this.files.config, error: this.files.error };
  }

  // ---- selection ----

  selectPrompt(role?: string): SelectedPrompt {
    if (role !== undefined) checkRole(role);
    this.files.maybeReload();
    return this.selector.selectPrompt(role);
  }

  /**
   * A model for the complexity tier whose cost is at most `maxCostPerToken` (USD per 1,000 tokens; default
   * `modelRouter.maxCostPerToken`). Among equally rewarded models the cheaper one wins.
   */
  selectModel(complexity: Complexity = 'medium', maxCostPerToken?: number, role?: string): SelectedModel {
    checkComplexity(complexity);
    if (role !== undefined) checkRole(role);
    this.files.maybeReload();
    return this.selector.selectModel(complexity, maxCostPerToken, role);
  }

  // ---- recording ----

  /**
   * Records a run; once the promise resolves the run is on disk and survives a crash. Queues an auto-export when
   * the role's high-quality runs since the last export reach `autoExport.minRuns`; it runs after this call.
   */
  async recordRun(
    taskSlug: string,
    modelId: string,
    promptId: string,
    result: RunResult,
    role = 'coder',
    options: RecordOptions = {},
  ): Promise<RecordedRun> {
    const args = validateRunArgs(taskSlug, modelId, promptId, result);
    checkRole(role);
    const source = checkRunSource(options.source ?? 'api');
    const files = checkFiles(options.files);
    const durable = await this.openStore();
    this.files.maybeReload();
    if (!this.files.config.enabled) {
      // Switched off by the user: the agent keeps working, nothing is recorded or learned.
      if (!this.disabledLogged)
        this.log('⏸️ Learning is disabled ("enabled": false): runs are not recorded.');
      this.disabledLogged = true;
      const reward = computeReward(
        toRunRecord({ id: '', createdAt: 0, taskSlug, role, modelId, promptId }, args.result),
        this.weights(),
      );
      return { id: '', reward, recorded: false };
    }
    this.disabledLogged = false;
    const id = newRunId(this.now());
    const valid = {
      id,
      createdAt: this.now(),
      taskSlug: args.taskSlug,
      modelId: args.modelId,
      promptId: args.promptId,
      role,
      result: args.result,
      source,
    };
    let run: RunRecord;
    let count: number;
    if (options.groupCommit === true) {
      // Nothing below (the log line, the event, the promise) says the run is recorded before it is on disk.
      const shared = durable.recordShared(valid);
      run = shared.record;
      count = durable.db.maxPk();
      this.toldOfOwnRun();
      await shared.durable;
    } else {
      run = durable.record(valid);
      count = durable.db.maxPk();
      this.toldOfOwnRun();
    }
    this.log(`✅ Recorded run ${count} (reward: ${run.reward.toFixed(2)})`);
    // Closed while the run went to disk: it is in the journal and in the save close() made; nothing to refresh.
    if (!this.closed) this.afterChange('local');
    this.didRecordRun.fire({ id, reward: run.reward, role, taskSlug: args.taskSlug, source, files });
    if (!this.closed) this.exporter.queueAutoExport(durable, role);
    return { id, reward: run.reward, recorded: true };
  }

  /** A human verdict, now or later; the run's reward and everything derived from it follow. */
  async recordFeedback(runId: string, verdict: Verdict): Promise<RecordedRun> {
    const v = checkVerdict(verdict);
    if (typeof runId !== 'string' || runId === '') throw new LearningError('recordFeedback needs a run id.');
    const durable = await this.openStore();
    if (!durable.db.getRun(runId)) {
      durable.sync(); // it may still be waiting in another process's journal
      if (!durable.db.getRun(runId)) throw new LearningError(`No run with id ${runId}.`);
    }
    return this.applyFeedback(durable, runId, v);
  }

  /** Takes the human verdict back (Undo of a first verdict, or Clear in the run view); the reward follows. */
  async clearFeedback(runId: string): Promise<RecordedRun> {
    if (typeof runId !== 'string' || runId === '') throw new LearningError('clearFeedback needs a run id.');
    const durable = await this.openStore();
    if (!durable.db.getRun(runId)) throw new LearningError(`No run with id ${runId}.`);
    return this.applyFeedback(durable, runId, null);
  }

  /**
   * A signal observed after the run (diagnostics, a task's exit code, whether the change was kept): the run's reward
   * and everything derived from it follow, as with late feedback. What the agent reported itself wins over it.
   */
  async recordSignal(runId: string, signal: SignalInput): Promise<RecordedRun> {
    if (typeof runId !== 'string' || runId === '') throw new LearningError('recordSignal needs a run id.');
    const s = checkSignal(signal, this.now());
    const durable = await this.openStore();
    if (!durable.db.getRun(runId)) {
      durable.sync(); // it may still be waiting in another process's journal
      if (!durable.db.getRun(runId)) throw new LearningError(`No run with id ${runId}.`);
    }
    const reward = durable.signal(runId, s)!;
    this.log(
      `📡 Signal for run ${runId}: ${s.kind} ${s.value} from ${s.source} (reward: ${reward.toFixed(2)})`,
    );
    this.afterChange('local');
    const run = durable.db.getRun(runId);
    // Queued like a recordRun's: an export being taken a slice at a time must not be overtaken by this one.
    if (run && !this.closed) this.exporter.queueAutoExport(durable, run.role);
    return { id: runId, reward };
  }

  /**
   * Keeps a run's change to the workspace (its files and their diff, as the editor saw them), shown with the run.
   * False when a change as new is already kept.
   */
  async recordChange(runId: string, change: RunChange): Promise<boolean> {
    if (typeof runId !== 'string' || runId === '') throw new LearningError('recordChange needs a run id.');
    const c = checkRunChange(change);
    const durable = await this.openStore();
    if (!durable.db.getRun(runId)) {
      durable.sync();
      if (!durable.db.getRun(runId)) throw new LearningError(`No run with id ${runId}.`);
    }
    const kept = durable.change(runId, c);
    if (kept) {
      const lines = c.files.reduce((n, f) => n + f.added + f.removed, 0);
      this.log(
        `🧾 Change for run ${runId}: ${count(c.files.length, 'file')}, ${count(lines, 'changed line')}`,
      );
      this.afterChange('local');
    }
    return kept;
  }

  private applyFeedback(durable: DurableStore, runId: string, v: Verdict | null): RecordedRun {
    const reward = durable.feedback(runId, v, this.now())!;
    this.log(`👍 Feedback for run ${runId}: ${v ?? 'cleared'} (reward: ${reward.toFixed(2)})`);
    this.afterChange('local');
    const run = durable.db.getRun(runId);
    if (run) this.exporter.queueAutoExport(durable, run.role);
    return { id: runId, reward };
  }

  // ---- reading runs (the run view and the review queue) ----

  /** One run with its texts and its reward's breakdown, or undefined when there is none with this id. */
  getRun(id: string): RunDetail | undefined {
    const db = this.durable?.db;
    const run = db?.getRun(id);
    const texts = run && db?.runTexts(id);
    if (!run || !texts) return undefined;
    const signals = db!.signalsOf(id);
    const { terms } = rewardBreakdown(withObserved(run, signals), this.weights());
    const { unavailable, ...both } = texts;
    return {
      ...run,
      ...both,
      textsUnavailable: unavailable ?? null,
      source: run.source ?? null,
      signals,
      breakdown: terms,
      change: db!.runChange(id) ?? null,
    };
  }

  /**
   * A page of runs (no texts) matching `filter`, newest or lowest-confidence first; pass the returned `next` to get
   * the page after it. Keyset paging: a page costs about `limit` rows, not the history (see Store.runPage).
   */
  listRuns(
    filter: RunFilter = {},
    options: { order?: RunOrder; limit?: number; after?: RunCursor } = {},
  ): RunPage {
    const db = this.durable?.db;
    if (!db) return { runs: [], next: undefined };
    const limit = Math.max(1, Math.min(MAX_RUN_PAGE, Math.floor(options.limit ?? 100)));
    return db.runPage(filter, options.order ?? 'newest', limit, options.after);
  }

  /** The id of the most recent run, for "accept last run". */
  lastRunId(): string | undefined {
    return this.durable?.db.lastRunId();
  }

  // ---- export ----

  /** Writes `.agent/sft/{role}_sft.jsonl` now; with a tier, `{role}-{tier}_sft.jsonl` of that tier's runs only. */
  async exportDataset(role = 'coder', tier?: Complexity): Promise<ExportResult> {
    checkRole(role);
    if (tier !== undefined) checkComplexity(tier);
    // After any auto-export under way or queued (exports run one at a time): this one's file is the one that stays.
    const durable = await this.openStore();
    await this.exporter.idle();
    return this.exporter.exportSliced(durable, role, tier);
  }

  /**
   * Roles that have runs, and that datasets and adapters can be named for: a run an older version recorded under a
   * role now refused (`coder-large`) stays in the stats but starts no export, training or deploy.
   */
  roles(): string[] {
    return [...(this.durable?.db.runsPerRole().keys() ?? [])].filter(isRole).sort();
  }

  /** The models the router picks from (`model_variants.json`), deployed tuned models included. */
  modelVariants(): readonly ModelVariant[] {
    return this.files.modelVariants;
  }

  // ---- stats ----

  getStats(): LearningStats {
    return learningStats(this.durable, this.files.config);
  }

  /**
   * Intervals, trends and reward series for the dashboard; computed from aggregates, the series downsampled in the
   * store. The series reads every run's reward (~80 ms of this call's ~90 ms at 100k runs): pass 0 points to skip
   * it (the sidebar does not show it).
   */
  getInsights(maxPointsPerRole = 500): Insights {
    const { config, modelVariants } = this.files;
    const preferredPrompt = () => this.selector.preferredPrompt();
    return insights(this.durable?.db, { config, modelVariants, preferredPrompt }, maxPointsPerRole);
  }

  /**
   * Reward per role and the share of each prompt and model over run order (all roles), and where an event goes on
   * that axis: for the dashboard. Each call reads only the runs recorded since the last (learning/history.ts).
   */
  getRunHistory(): Pick<RunHistory, 'view' | 'positionOf' | 'totalRuns'> {
    const db = this.durable?.db;
    if (!db) return new RunHistory();
    this.history.update(db);
    return this.history;
  }

  // ---- for the automation (train, deploy, drift): the owner process only, through automationPort() ----

  /** What `Automation` works through; built once, handed out by `automationPort()`, not part of the library API. */
  private makePort(): AutomationPort {
    return {
      agentDir: this.agentDir,
      isOwner: () => this.isOwner,
      whenReady: () => this.whenReady(),
      getConfig: () => this.getConfig(),
      roles: () => this.roles(),
      onTrainingDue: this.onTrainingDue,
      onDidChange: this.onDidChange,
      exportDataset: (role, tier) => this.exportDataset(role, tier),
      recordEvent: (kind, role, message, data) => {
        this.ownerStore().events.add(this.now(), kind, role, message, data);
        this.afterChange('local');
      },
      lastEvent: (kind, role, key) => this.ownerStore().events.last(kind, role, key),
      rewards: (role, model, tier, range) => this.ownerStore().db.rewards(role, model, tier, range),
      lastRunPk: () => this.ownerStore().db.maxPk(),
      highQualityRunsSince: (role, afterPk, tier) =>
        this.ownerStore().db.countHighQuality(role, this.files.config.autoExport.minReward, afterPk, tier),
      addModelVariant: (variant) => {
        this.files.modelVariants = [...this.files.modelVariants.filter((m) => m.id !== variant.id), variant];
        this.mirrors.writeModels();
      },
      withdrawModelVariant: (id) => {
        const before = this.files.modelVariants.length;
        const rest = this.files.modelVariants.filter((m) => m.id !== id);
        if (rest.length === before || rest.length === 0) return false;
        this.files.modelVariants = rest;
        this.mirrors.writeModels();
        return true;
      },
      setEvaluating: (role, tier, model) => this.selector.setEvaluating(role, tier, model),
    };
  }

  private ownerStore(): DurableStore {
    if (!this.durable) throw new LearningError('The experience database is not open yet.');
    return this.durable;
  }

  // ---- web knowledge ----

  /** Documentation for `library` to put in the agent's prompt. Never throws: failures give empty text. */
  async fetchWebKnowledge(designCard: unknown, query: string, library: string): Promise<WebKnowledge> {
    try {
      this.files.maybeReload();
      const card = designCard as { name?: unknown } | undefined;
      const q = [typeof card?.name === 'string' ? card.name : '', String(query ?? '')]
        .filter(Boolean)
        .join(' ');
      return await this.webKnowledge.fetch(this.files.config.webKnowledge, q, String(library ?? ''));
    } catch (err) {
      this.log(`⚠️ Web knowledge: ${describe(err)}`);
      return { text: '', source: null, fromCache: false, error: describe(err) };
    }
  }

  /**
   * Picks up what other processes wrote to the inbox now, and takes over the database if its owner has gone
   * (both are also done every `pollIntervalMs`), and resolves once the auto-exports that made due have run.
   * Returns the number of entries applied.
   */
  async ingestInbox(): Promise<number> {
    const durable = await this.openStore();
    const applied = await durable.syncSliced(); // a slice at a time: a huge inbox file never blocks for long
    await this.exporter.idle();
    return applied;
  }

  /** Problems met while opening (e.g. a corrupt database set aside). */
  problems(): LearningError[] {
    return [...(this.durable?.problems ?? []), ...(this.files.error ? [this.files.error] : [])];
  }

  /**
   * Runs the queued auto-exports, and saves experience.db and the mirror files now (the owner only; otherwise the
   * owner saves).
   */
  async flush(): Promise<void> {
    const durable = await this.openStore();
    await this.exporter.idle();
    if (!durable.isOwner) return;
    this.mirrors.write();
    await durable.save();
  }

  /**
   * Rebuilds .agent/experience.db in full pages (`agent-learning compact`): what a database grown run by run over
   * many releases takes smaller, in 8 KiB pages, and so cheaper to save. Holds this process about a second at 100k
   * runs, so it is for a terminal, not the editor. Throws, naming the process, when another one owns the database.
   */
  async compactDatabase(): Promise<{ beforeBytes: number; afterBytes: number }> {
    const durable = await this.openStore();
    await this.exporter.idle();
    return durable.rebuild();
  }

  /**
   * Runs the queued auto-exports, writes the mirror files, saves everything and releases the database; resolves
   * once experience.db is complete. The export and the save are taken as the rest of the pipeline takes them (in
   * slices, written off the event loop), so closing never freezes the editor. Should the process exit first (the
   * seed's `learning.close(); process.exit(0)`, without await), what is left is done synchronously on the way out,
   * so experience.db is complete then too. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.mirrors.stop();
    // Opened: the exit hook is in place before this returns (closeGently runs up to its first await now).
    const durable = this.durable ?? this.opening;
    this.closing = durable
      ? this.closeGently(durable)
      : this.ready.then(
          () => this.closeGently(this.durable!),
          () => undefined, // never opened: nothing to save
        );
    return this.closing;
  }

  private async closeGently(durable: DurableStore): Promise<void> {
    const onExit = () => {
      try {
        this.closeOpen(durable);
      } catch (err) {
        this.log(`❌ ${describe(err)}`);
      }
    };
    process.once('exit', onExit);
    durable.stopPolling(); // what arrives from now on is read once below, not by a poll that could take over
    try {
      await this.exporter.idle();
      if (durable.isOwner) {
        await durable.syncSliced();
        await this.exporter.idle();
        this.mirrors.write();
        await durable.save();
      }
    } catch (err) {
      // Tried again below, synchronously, where a failure is reported as any close's.
      this.log(`⚠️ ${describe(err)}`);
    } finally {
      process.removeListener('exit', onExit);
    }
    this.closeOpen(durable); // what is left: what arrived meanwhile, if anything
  }

  private closeOpen(durable: DurableStore): void {
    if (this.closedOpen) return;
    this.closedOpen = true;
    try {
      this.exporter.drainNow();
      if (durable.isOwner) this.mirrors.write();
    } finally {
      durable.closeSync();
      for (const e of [this.didRecordRun, this.didChange, this.problem, this.didIngestRuns]) e.dispose();
      this.exporter.dispose();
    }
  }

  // ---- internals ----

  private async open(): Promise<void> {
    const durable = await DurableStore.open({
      agentDir: this.agentDir,
      now: this.now,
      log: this.log,
      reward: (run) => computeReward(run, this.weights()),
      maxTextBytes: () => this.files.config.storage.maxTextBytes,
      pollIntervalMs: this.pollIntervalMs,
      saveDelayMs: this.saveDelayMs,
      trusted: this.trusted,
      onExternalChange: (runs, _verdicts, more) => this.onExternalChange(runs, more ?? false),
    });
    this.opening = durable;
    this.runsTold = this.runsStored(); // the open's own read has told of what it applied
    // Each step in its own turn of the event loop: in a fresh process (the editor starting) each is the first use of
    // its code (SQL paths compiled, schemas built), 5–30 ms apiece, and together they held the loop for 50–90 ms.
    await nextTurn();
    // The high-quality counts are taken (a large role over several turns) before the store is in use: a getStats, a
    // poll's auto-export check or a recordRun meanwhile would count what is not taken yet in one query.
    try {
      if (durable.isOwner && !this.closed) await this.exporter.seed(durable, () => this.closed);
    } catch (err) {
      // Counted when first asked instead; the store is published all the same, for close() to release.
      this.log(`⚠️ ${describe(err)}`);
    }
    this.durable = durable;
    this.opening = undefined;
    for (const p of durable.problems) this.problem.fire(p);
    if (this.closed) return; // close() saves and writes the mirrors itself
    this.removeStaleTempFiles();
    await nextTurn();
    if (this.closed) return;
    if (this.durable.isOwner) this.mirrors.write();
    // The caller's first call (often a recordRun) starts in a turn of its own too.
    await nextTurn();
  }

  /**
   * A process killed mid-write leaves its atomic write's temp file (`prompt_variants.json.tmp-<pid>-…`): removed
   * here once that process is gone. The database's own are left to its owner (the lock holder, which may be in
   * another container); the adapters' to the conversion.
   */
  private removeStaleTempFiles(): void {
    const leave = [path.basename(databaseFile(this.agentDir))];
    for (const dir of [this.agentDir, sftDir(this.agentDir), knowledgeDir(this.agentDir)]) {
      const removed = removeStaleTempFiles(dir, isProcessAlive, { leave });
      if (removed.length > 0)
        this.log(`🧹 Removed ${removed.length} temp file(s) left by stopped processes in ${dir}`);
    }
  }

  /**
   * The reward's weights: `rewardWeights`, and the implicit verdict's from `editorSignals`. Made once per config: a
   * spread with a field added after it costs about half a KiB each time (see toRunRecord), and this runs for every run.
   */
  private weights(): RewardWeights {
    const config = this.files.config;
    if (this.weightsOf?.config !== config) {
      const { rewardWeights, editorSignals } = config;
      this.weightsOf = {
        config,
        weights: Object.freeze({ ...rewardWeights, kept: editorSignals.keptWeight }),
      };
    }
    return this.weightsOf.weights;
  }
  private weightsOf: { config: LearningConfig; weights: Readonly<RewardWeights> } | undefined;

  private async openStore(): Promise<DurableStore> {
    if (this.closed) throw new LearningError('The learning pipeline is closed.');
    await this.ready;
    return this.durable!;
  }

  /**
   * Runs and verdicts from other processes were applied. A long read tells of them as it goes (`more`): the views
   * refresh and auto-exports are checked each time, and onDidIngestRuns (a notification, where the user wants one)
   * fires once with the read's total.
   */
  private onExternalChange(runs: number, more: boolean): void {
    this.afterChange('inbox');
    this.ingestedUntold += runs;
    if (!more) {
      let total = this.ingestedUntold;
      this.ingestedUntold = 0;
      if (this.runsTold !== undefined) {
        // Runs are never deleted; fewer runs means a reader that could not load the saved database and starts empty:
        // the runs it told of are not told of again once it loads one.
        const stored = this.runsStored();
        total = Math.max(0, stored - this.runsTold);
        this.runsTold = Math.max(this.runsTold, stored);
      }
      if (total > 0) this.didIngestRuns.fire(total);
    }
    for (const role of this.roles()) this.exporter.queueAutoExport(this.durable!, role);
  }

  /** The runs in the store (from the per-role counts, a few rows). */
  private runsStored(): number {
    let runs = 0;
    for (const n of (this.durable ?? this.opening)?.db.runsPerRole().values() ?? []) runs += n;
    return runs;
  }

  /** A run this process recorded is in the store; onDidRecordRun tells of it, not onDidIngestRuns. */
  private toldOfOwnRun(): void {
    if (this.runsTold !== undefined) this.runsTold += 1;
  }

  private afterChange(source: 'local' | 'inbox'): void {
    this.mirrors.changed();
    this.didChange.fire({ source });
  }

  /**
   * Re-reads the config and variants files if they changed since the pipeline last read or wrote them, and then
   * tells onDidChange. A file watcher calls it: the pipeline's own mirror writes are no change.
   */
  reloadConfigIfChanged(): boolean {
    return this.files.reloadIfChanged();
  }

  /** Re-reads the config and variants files; an invalid file is reported and the last good values stay. */
  reloadConfig(): ConfigError | undefined {
    const error = this.files.reload();
    this.configRead();
    return error;
  }

  /** A new `autoExport.minReward` is counted once here, not by the next recordRun (nothing when it is the same). */
  private configRead(): void {
    const durable = this.durable ?? this.opening; // a change during the open's counts: counted again, from it
    if (durable?.isOwner && !this.closed)
      this.exporter.seed(durable).catch((err) => this.log(`❌ ${describe(err)}`));
  }
}

/** `recordRun`'s `files`: at most 1,000 paths, each a non-empty string. */
function checkFiles(files: unknown): string[] {
  if (files === undefined) return [];
  if (!Array.isArray(files) || files.length > 1000)
    throw new InvalidInputError('files', 'expected an array of at most 1,000 file paths');
  for (const f of files) {
    if (typeof f !== 'string' || f === '' || f.length > 4096)
      throw new InvalidInputError('files', 'expected each file path to be a non-empty string');
  }
  return [...(files as string[])];
}

/**
 * The members `Automation` needs from a pipeline (events, rewards, model variants, routing under evaluation), for
 * whoever builds one: `new Automation(automationPort(pipeline), options)`.
 */
export function automationPort(pipeline: LearningPipeline): AutomationPort {
  return ports.get(pipeline)!;
}

/** "1 file", "3 files". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
