// The durable, multi-process store: one process owns `.agent/experience.db` (lock file) and saves it atomically
// in batches; every recorded run or verdict is first appended to an fsync'ed inbox journal, so it survives a
// crash the moment recordRun resolves. Other processes journal into the inbox and the owner ingests their files.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { SqlJsStatic } from 'sql.js';
import { TEMP_MARKER, writeFileAtomic, writeFileAtomicSync } from '../workspace/atomicFile';
import { prepareFolder } from '../workspace/links';
import {
  CorruptDatabaseError,
  DatabaseTooLargeError,
  DuplicateRunError,
  LearningError,
  NewerSchemaError,
  byteSize,
  describe,
} from '../errors';
import {
  INBOX_LIMITS,
  InboxWriter,
  readInboxFile,
  writerMayAppend,
  type InboxCursor,
  type InboxEntry,
  type InboxLimits,
  type InboxLine,
} from './inbox';
import { lockHolder, WriterLock } from './lock';
import { checkRole } from '../workspace/names';
import { fileKind } from '../workspace/regularFile';
import {
  corruptDatabaseFile,
  databaseChecksumFile,
  databaseFile,
  inboxDir,
  lockFile,
  textsDir,
} from '../workspace/agentDir';
import type { RewardSignals } from '../learning/reward';
import { checkRunChange, type RunChange } from '../learning/runChange';
import {
  checkVerdict,
  toRunRecord,
  validateRunArgs,
  type RunRecord,
  type ValidRunResult,
  type Verdict,
} from '../learning/runResult';
import {
  checkRunSource,
  checkSignal,
  withObserved,
  type ObservedSignal,
  type RunSource,
} from '../learning/signals';
import { loadSqlJs } from './sqljs';
import {
  emptyImage,
  SCHEMA_VERSION,
  Store,
  type InboxProgress,
  type OpenProblem,
  type StoreReader,
} from './store';
import { EventLog } from './eventLog';
import {
  ImageTooLargeError,
  readImageWithRoom,
  readImageWithRoomSync,
  withRoom,
  type Growth,
  type ImageReadOptions,
} from './imageRoom';
import {
  imageSum,
  imageSumSliced,
  matchesSum,
  readImageSum,
  writeImageSum,
  writeImageSumAsync,
  type ImageSum,
} from './imageSum';
import type { ImageToSave } from './liveImage';
import { boundText, sameText, wellFormed } from './storedText';
import { TextSegments, type TextRecord, type TextRef } from './textSegments';

export interface DurableStoreOptions {
  agentDir: string;
  now: () => number;
  log: (line: string) => void;
  /** A run's reward from its signals (learning/reward.ts, under the config's weights at the time). */
  reward: (run: RewardSignals) => number;
  /** How often to ingest the inbox and, when not the owner, try to become it. 0: only when asked. */
  pollIntervalMs: number;
  /** Shortest pause between saves (ms); the pause grows with the time a save takes. Default 1000. */
  saveDelayMs?: number;
  /** The most bytes each of a run's input and output keeps (`storage.maxTextBytes`, read at each run). */
  maxTextBytes: () => number;
  /** Above this size saves are paced by the journal's bytes (see saveMayWait). Default 1 MiB; smaller in tests. */
  pacedSaveBytes?: number;
  /** The largest database file that is saved (and read). Default MAX_IMAGE_BYTES; smaller in tests. */
  maxImageBytes?: number;
  /**
   * Called after entries written by other processes were applied. `more`: a sliced read goes on (it tells at most
   * once a second); the call with `more` false ends what one read applied.
   */
  onExternalChange?: (runs: number, verdicts: number, more?: boolean) => void;
  /** Workspace Trust: while false, an `.agent/` or inbox link out of the workspace is refused. Default: true. */
  trusted?: () => boolean;
  /** Bounds on reading inbox files (tests make them small). Default `INBOX_LIMITS`. */
  inboxLimits?: InboxLimits;
  /** The least room after the owner's database for it to grow into (imageRoom.ts). Default 64 MiB; less in tests. */
  leastRoomBytes?: number;
  /** What a save under way may hold copied before a sliced read waits for fewer. Default IMPORT_COPIES_BYTES. */
  importCopiesBytes?: number;
}

export type RunEntry = Extract<InboxEntry, { type: 'run' }>;

/** A run whose arguments were checked: by the pipeline for its own, by `journalRun` for another process's. */
export interface ValidRun {
  id: string;
  createdAt: number;
  taskSlug: string;
  modelId: string;
  promptId: string;
  role: string;
  result: ValidRunResult;
  /** Where the run came from; journalled with it. */
  source?: RunSource;
}

interface InboxFileState extends InboxProgress {
  size: number;
  mtimeMs: number;
  /** The last read reached the end of the data. */
  complete: boolean;
  /** Lines before `offset`, and the fingerprint of the bytes before it (see `InboxCursor`). */
  line?: number;
  mark?: string;
}

const LOCK_TOUCH_MS = 30_000;

/**
 * Crash tests: `AGENT_LEARNING_CRASH_POINT=name:n` kills this process with SIGKILL the n-th time it passes the
 * named point, so tests can put a crash exactly between two steps of a save or an append; `name:n:exit` calls
 * `process.exit(0)` there instead (a script that exits while a close is still saving).
 */
const crashAt = /^([a-z-]+):(\d+)(:exit)?$/.exec(process.env.AGENT_LEARNING_CRASH_POINT ?? '');
let crashCountdown = crashAt ? Number(crashAt[2]) : 0;
function crashPoint(name: string): void {
  if (!crashAt || crashAt[1] !== name || --crashCountdown !== 0) return;
  if (crashAt[3]) process.exit(0);
  process.kill(process.pid, 'SIGKILL');
}
/** A database in smaller pages is rebuilt in 8 KiB ones at open up to this size (a VACUUM of 1 MiB: ~10 ms). */
const ADOPT_PAGE_SIZE_MAX_BYTES = 1024 * 1024;
/** Own journal entries after which a save is started at once, bounding replay after a crash (~0.2 ms each). */
const MAX_UNSAVED_ENTRIES = 5_000;
/**
 * One slice of a poll reads batches until SLICE_MS have passed, then lets the event loop run: a batch of 2,000 runs
 * took 0.4–0.7 s to apply, which froze the editor that long at each slice of an import. A batch is applied in one
 * go, so its size follows what lines cost so far (the first ones cost 5–10 ms each, before the code is warm).
 */
const SLICE_MS = 12;
/**
 * Free pages one slice of compactSliced gives back (about 25 µs each where texts were moved out). Each slice also
 * truncates the file, which sql.js carries out by copying the whole image: fewer, larger slices.
 */
const VACUUM_PAGES = 256;
/** How often a sliced read tells its listeners (the sidebar, notifications, auto-export) of what it applied. */
const NOTIFY_MS = 1_000;
const SLICE_LINES = { first: 2, min: 1, max: 500 };
const SLICE_BATCH_BYTES = 1024 * 1024;
/** What a save under way may hold copied (see liveImage.ts) before a sliced read waits for fewer (ingestInboxSliced). */
const IMPORT_COPIES_BYTES = 8 * 1024 * 1024;
/** Skipped lines of one inbox file that are logged one by one; the rest are counted in one line per poll. */
const LOGGED_SKIPS = 20;
/** Verdicts for runs that never arrived are dropped after this long. */
const PENDING_FEEDBACK_MS = 30 * 24 * 3_600_000;
/**
 * Above this size a save waits until the journal has taken as many bytes as the save will write (or the longest
 * pause passed): a save writes the whole database, so saving a big one every second wrote ~20× each run's size.
 */
const PACED_SAVE_BYTES = 2 ** 20;
/** What a verdict, a signal or an event adds to the journal, about. */
const SMALL_ENTRY_BYTES = 256;
/** The longest pause between saves while runs come in. */
const MAX_SAVE_DELAY_MS = 5 * 60_000;
/**
 * The largest file `fs.readFileSync` reads (ERR_FS_FILE_TOO_LARGE above): a bigger database could be saved but
 * never opened again, so it is not saved.
 */
export const MAX_IMAGE_BYTES = 2 ** 31 - 1;
/** Runs whose texts one step of a save moves out of the database into .agent/texts/. */
const TEXT_MOVE_BATCH = 2_000;
/**
 * Runs read from the inbox whose texts are moved out before more are read: an import of a large inbox (an agent's
 * backlog, a first open) then never holds more than about this many runs' texts, rather than all of them until its
 * first save. Few: texts held across several slices outlive V8's young generation, which then grows to its largest
 * and promotes them to be collected later. 2,000 (a save's batch) took the 1M import's peak to 516 MiB, 250 to 475
 * (at 100k: 244-251 against 205-210 MiB), in the same time here. Each move ends with an fdatasync of its segment:
 * a disk slow to sync makes an import that much longer (4,000 of them at 1M runs).
 */
const IMPORT_MOVE_RUNS = 250;
/** A save moves texts until fewer than this many wait in memory; those go into its image (run_texts). */
const KEPT_IN_IMAGE_TEXTS = 256;
/** Runs with unreadable texts reported one by one; after that, one line for the rest. */
const REPORTED_UNAVAILABLE = 20;
/** Fractions of MAX_IMAGE_BYTES at which a growing database is reported, each once per process. */
const GROWTH_WARNINGS = [0.5, 0.75, 0.9];

/** The saved database as read for loadSnapshot. */
interface Snapshot {
  /** The file's stamp before it was read: a later change is noticed (sync). */
  before: string;
  bytes?: Uint8Array;
  tooLarge?: Error;
  /** Whether `bytes` match experience.db.sum; undefined: not checked yet. */
  verified?: boolean;
  /** Zeroed bytes after `bytes` in their buffer, for the database to grow into (imageRoom.ts). */
  room?: number;
}

/** A save between its image and its rename. */
interface PendingSave {
  image: ImageToSave;
  sealedNow: string[];
  /** The agents' inbox files read to their end, as this save's image holds them (see endSave). */
  finished: [string, InboxFileState][];
  /** How far this save's image holds each inbox file read. */
  progress: Map<string, InboxProgress>;
  started: number;
  generation: number;
}

/** Thrown inside a background save that closeSync overtook; never reaches a caller. */
class SupersededSave extends Error {}

/** What a run id taken by a different run means, for the caller: the same run again, or another one. */
type RunOutcome = 'inserted' | 'same' | 'conflict';

export class DurableStore {
  /** Non-fatal problems met while opening (a corrupt database moved aside), for the caller to show. */
  readonly problems: LearningError[] = [];

  private store: Store;
  private readonly lock: WriterLock;
  private readonly writer: InboxWriter;
  private readonly dbFile: string;
  private readonly sumFile: string;
  private readonly inboxDir: string;
  private readonly segments: TextSegments;
  /** Runs whose unreadable texts were reported, so that each is reported once. */
  private unavailableReported = new Set<string>();
  /** The last failure to write texts to .agent/texts/, logged once until it changes. */
  private lastTextsFailure = '';
  /** Inbox files seen (by name from the directory listing), how far they are read, and what they looked like. */
  private files = new Map<string, InboxFileState>();
  /** The last problem logged for each inbox file, so a file that stays broken is not reported at every poll. */
  private reported = new Map<string, string>();
  /** Progress from the saved database, consulted only for names the directory actually lists. */
  private savedProgress = new Map<string, InboxProgress>();
  /** This process's rotated journal files, removed once the save that contains their entries is on disk. */
  private sealed: string[] = [];
  /** Sealed journals of ours that a save has made redundant, being removed: not someone else's inbox files. */
  private readonly removing = new Set<string>();
  /** The removals of the agents' inbox files read (removeReadFiles), one after another: resolves once all are done. */
  private removingRead: Promise<void> | undefined;
  /** How far the image on disk holds each inbox file (the owner's): what was loaded, then what each save wrote. */
  private imageHolds = new Map<string, InboxProgress>();
  /** A removal of read files is under way or waits for one (removeLater). */
  private removalPending = false;
  /** Files a removal failed on (a permission changed), as they were then: not tried again at every poll. */
  private notRemovable = new WeakSet<InboxFileState>();
  private dirty = false;
  private unsavedEntries = 0;
  /** Journal bytes (ours and other processes') taken since the last save, and when the first came. */
  private unsavedBytes = 0;
  private firstUnsavedAt: number | undefined;
  /** The size of the last image saved or loaded: what the next save will write, about. */
  private lastImageBytes = 0;
  /** An event (export, training, deploy…) waits for the next save: events are not journalled. */
  private eventsUnsaved = false;
  private saving: Promise<void> | undefined;
  /** The move of texts to .agent/texts/ under way, if any (see moveTextsOut). */
  private moving: Promise<void> | undefined;
  /** When moving texts last failed (a read-only or full disk): imports and saves stop retrying for a while. */
  private textsMoveFailedAt: number | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  /** The poll in progress (slices with the event loop let run between them), and what it applied. */
  private polling: Promise<number> | undefined;
  /** The slice that just ran stopped because its time was up, not because everything was read. */
  private sliceCut = false;
  /** Only while one slice of a sliced read runs (never across an await): when its time is up, and its batches. */
  private slice: { ends: number; batches: number } | undefined;
  /** The most lines the next batch of a sliced read takes (see paceSlices). */
  private sliceLines = SLICE_LINES.first;
  /** Skipped lines logged per inbox file, and those not logged since the last summary. */
  private skipsLogged = new Map<string, number>();
  private skipsUnlogged = new Map<string, number>();
  private lastSaveMs = 50;
  /** Counts saves begun: a background save whose number is no longer the latest must not rename its image. */
  private saveGeneration = 0;
  private lastTouch = 0;
  private snapshotStamp = '';
  private closed = false;
  private readonly maxImageBytes: number;
  /** How many GROWTH_WARNINGS were given. */
  private growthWarnings = 0;

  private constructor(
    private readonly SQL: SqlJsStatic,
    private readonly opts: DurableStoreOptions,
  ) {
    this.dbFile = databaseFile(opts.agentDir);
    this.sumFile = databaseChecksumFile(opts.agentDir);
    this.inboxDir = inboxDir(opts.agentDir);
    this.segments = new TextSegments(textsDir(opts.agentDir));
    this.lock = new WriterLock(lockFile(opts.agentDir), opts.log);
    this.writer = new InboxWriter(this.inboxDir, opts.now);
    this.maxImageBytes = opts.maxImageBytes ?? MAX_IMAGE_BYTES;
    this.store = undefined as unknown as Store;
  }

  static async open(opts: DurableStoreOptions): Promise<DurableStore> {
    const SQL = await loadSqlJs();
    prepareFolder(inboxDir(opts.agentDir), path.dirname(opts.agentDir), opts.trusted?.() ?? true);
    prepareFolder(textsDir(opts.agentDir), path.dirname(opts.agentDir), opts.trusted?.() ?? true);
    const ds = new DurableStore(SQL, opts);
    try {
      if (ds.lock.tryAcquire()) {
        ds.removeTempFiles();
        ds.loadSnapshot(true, await ds.readSnapshot(true));
        void ds.writer.prepare(); // the session's first entry then waits for its own fdatasync only
        ds.savedProgress = ds.imageHolds = ds.store.inboxProgress();
        await new Promise((resolve) => setImmediate(resolve)); // the load and the first slice: two stalls, not one
        // A small database from before 8 KiB pages moves to them now, while that is cheap (see Store.migrate).
        if (ds.store.adoptPageSize(ADOPT_PAGE_SIZE_MAX_BYTES)) {
          ds.dirty = true;
          await new Promise((resolve) => setImmediate(resolve));
        }
        // Indexes no query needs any more: dropped one a turn, their pages left free for SQLite to fill again (see
        // Store.freePagesWorthReleasing). The next save takes the drop.
        while (ds.store.dropIndexNotNeeded()) {
          ds.dirty = true;
          await new Promise((resolve) => setImmediate(resolve));
        }
        const applied = await ds.ingestInboxSliced();
        // A database from before version 3 has its texts inside: the first save moves them out.
        if (applied > 0 || !fs.existsSync(ds.dbFile) || ds.store.textsToMove(1).length > 0) {
          ds.dirty = true;
          // A failed save is not fatal: everything is still in the journals, and the next save retries.
          await ds.save().catch((err) => ds.saveFailed(err));
        }
      } else {
        ds.loadSnapshot(false, await ds.readSnapshot(false));
        await ds.ingestInboxSliced();
      }
    } catch (err) {
      ds.lock.release();
      // The journal file made ready holds nothing yet: not left behind, with a descriptor, for each failed open.
      ds.writer.close();
      fs.rmSync(ds.writer.currentFile, { force: true });
      throw err;
    }
    if (opts.pollIntervalMs > 0) {
      ds.pollTimer = setInterval(() => {
        if (ds.polling) return; // the last poll is still reading, a slice at a time
        ds.syncSliced().catch((err) => opts.log(`⚠️ ${describe(err)}`));
      }, opts.pollIntervalMs);
      ds.pollTimer.unref();
    }
    return ds;
  }

  /** The store's questions; writes go through `record`, `feedback` and `events`. */
  get db(): StoreReader {
    return this.store;
  }

  /** The timeline. Events are not journalled: they are saved with the next save. */
  readonly events = new EventLog(
    () => this.store,
    (kind) => {
      // Not journalled: saved at the next save, which pacing must not put off, except for an export's (lost, it
      // costs one repeated export, which writes the same file; kept, it would make every export save a big file).
      if (kind !== 'export' && kind !== 'export-tier') this.eventsUnsaved = true;
      this.changed();
    },
  );

  get isOwner(): boolean {
    return this.lock.isHeld;
  }

  /**
   * Applies the run and journals it, or throws and keeps nothing: a reward that is not a number, a different run
   * under the same id (DuplicateRunError). The same run sent again is stored once. Texts over
   * `storage.maxTextBytes` are cut, with a marker and a log line.
   */
  record(run: ValidRun): RunRecord {
    return this.applyAndJournal(run, (entry) =>
      this.writer.append(entry, () => crashPoint('append-partial')),
    );
  }

  /**
   * `record`, with the journal's fdatasync shared with the runs recorded meanwhile and run off the event loop
   * (group commit): the run is applied and written now (or refused, as by `record`), and on disk once `durable`
   * resolves, which the caller awaits before it tells anyone the run is recorded. Many runs at once (a gateway's
   * streams) cost one fdatasync per group instead of one each, and the event loop goes on meanwhile. `durable`
   * rejects when the fdatasync fails: the run stays in the database (questions may count it meanwhile, and the
   * next save keeps it), though its caller is told it failed.
   */
  recordShared(run: ValidRun): { record: RunRecord; durable: Promise<void> } {
    // The same run sent again is written again: its first write may still wait for its fdatasync, or that fdatasync
    // may have failed, and no later one vouches for it (InboxWriter.failed). A replay stores it once.
    const record = this.applyAndJournal(
      run,
      (entry) => this.writer.write(entry, () => crashPoint('append-partial')),
      true,
    );
    return { record, durable: this.writer.whenDurable() };
  }

  private applyAndJournal(
    run: ValidRun,
    journal: (entry: InboxEntry) => void,
    journalSame = false,
  ): RunRecord {
    this.assertOpen();
    const storable = this.storable(run, `Run ${run.id}`);
    // Applied first, in a savepoint, so that a run the store would refuse is never journalled (a replay would
    // then store a run its caller was told failed); a failed write rolls it back.
    const { record, outcome } = this.store.transaction(() => {
      const applied = this.applyRun(storable);
      if (applied.outcome === 'conflict') throw new DuplicateRunError(storable.id);
      if (applied.outcome === 'inserted' || (journalSame && applied.outcome === 'same'))
        journal({ type: 'run', ...storable });
      return applied;
    });
    if (outcome === 'inserted') {
      const { input, output } = storable.result;
      this.changed(Buffer.byteLength(input) + Buffer.byteLength(output) + SMALL_ENTRY_BYTES);
    }
    return record;
  }

  /**
   * Journals the verdict (null: clear it), then applies it. The new reward, or undefined when the run is not known
   * (yet).
   */
  feedback(runId: string, verdict: Verdict | null, at: number): number | undefined {
    this.assertOpen();
    // Applied first, like a run, so that a verdict the store refuses is never journalled.
    const reward = this.store.transaction(() => {
      const reward = this.applyFeedback(runId, verdict, at);
      this.writer.append({ type: 'feedback', runId, verdict, at });
      return reward;
    });
    this.changed();
    return reward;
  }

  /**
   * Journals a signal observed after the run (see `feedback`), then applies it. The new reward, or undefined when
   * the run is not known (yet): the signal waits for it.
   */
  signal(runId: string, signal: ObservedSignal): number | undefined {
    this.assertOpen();
    const reward = this.store.transaction(() => {
      const reward = this.applySignal(runId, signal);
      this.writer.append({ type: 'signal', runId, ...signal });
      return reward;
    });
    this.changed();
    return reward;
  }

  /**
   * Journals a run's change to the workspace, then keeps it (moved to .agent/texts/ at the next save). False when
   * the run is not stored or a change as new is: nothing is journalled then.
   */
  change(runId: string, change: RunChange): boolean {
    this.assertOpen();
    const kept = this.store.transaction(() => {
      const kept = this.store.setChange(runId, change);
      if (kept) this.writer.append({ type: 'change', runId, change });
      return kept;
    });
    if (kept) this.changed(SMALL_ENTRY_BYTES + change.patch.length);
    return kept;
  }

  /** Reads what other processes (and agents) wrote to the inbox since last time and applies it, all of it now. */
  ingestInbox(): number {
    this.sliceCut = false;
    const { runs, verdicts } = this.ingestSome(true);
    this.logSkipSummary();
    return runs + verdicts;
  }

  /**
   * `ingestInbox` a slice at a time (SLICE_MS each), letting the event loop run between slices, so that a file of
   * millions of lines never blocks the process for long. Resolves once everything there was is read. Listeners hear
   * of what was applied at most once a NOTIFY_MS, and at the end.
   */
  private async ingestInboxSliced(): Promise<number> {
    let applied = 0;
    const unheard = { runs: 0, verdicts: 0 };
    let heardAt = performance.now();
    let told = false;
    const tell = (more: boolean) => {
      const { runs, verdicts } = unheard;
      unheard.runs = unheard.verdicts = 0;
      heardAt = performance.now();
      // The last call ends the read (when anything was told before it, even with nothing new).
      if (runs + verdicts > 0 || (!more && told)) this.opts.onExternalChange?.(runs, verdicts, more);
      told ||= runs + verdicts > 0;
    };
    try {
      for (;;) {
        this.sliceCut = false;
        this.slice = { ends: performance.now() + SLICE_MS, batches: 0 };
        let some;
        try {
          some = this.ingestSome(false);
        } finally {
          this.slice = undefined; // never left set across an await: a synchronous read meanwhile reads everything
        }
        applied += some.runs + some.verdicts;
        unheard.runs += some.runs;
        unheard.verdicts += some.verdicts;
        if (!this.sliceCut || this.closed) return applied; // a slice that ran out of work: all read
        if (performance.now() - heardAt >= NOTIFY_MS) tell(true);
        if (this.isOwner && this.mayRetryTextMove() && this.store.textsPendingAtLeast(IMPORT_MOVE_RUNS)) {
          await this.moveTextsOut();
          if (this.closed) return applied;
        }
        // A save under way copies each block of the image a slice writes before the save has taken it. Read on, a
        // big import writes all over the image meanwhile: at 1M runs, up to 50 MiB of copies at once, which the
        // allocator kept once freed. Past IMPORT_COPIES_BYTES the read waits for the save to take them (not for its
        // write to end: the copies go as the save takes their blocks).
        const most = this.opts.importCopiesBytes ?? IMPORT_COPIES_BYTES;
        if (this.store.imageCopiesHeld() > most) {
          await this.store.imageCopiesAtMost(most);
          if (this.closed) return applied;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.sliceCut = false;
      if (!this.closed) tell(false);
      this.logSkipSummary();
    }
  }

  /**
   * What the poll timer does (see `sync`), with the inbox read a slice at a time. A poll already running is
   * waited for first, so that what was in the inbox when this was called is read when it resolves.
   */
  async syncSliced(): Promise<number> {
    while (this.polling) await this.polling.catch(() => 0);
    this.polling = this.pollSliced().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollSliced(): Promise<number> {
    if (this.closed) return 0;
    if (this.isOwner) {
      this.touchLock();
      const applied = await this.ingestInboxSliced();
      this.removeHeldFiles();
      return applied;
    }
    if (this.lock.tryAcquire()) return this.promote();
    if (stamp(this.dbFile) !== this.snapshotStamp) {
      this.loadSnapshot(false);
      const applied = await this.ingestInboxSliced();
      if (applied === 0) this.opts.onExternalChange?.(0, 0);
      return applied;
    }
    return this.ingestInboxSliced();
  }

  /**
   * Reads the inbox until nothing is left, or a slice's time is up (`sliceCut` is then set). `notify`: tell the
   * listeners of what was applied (a sliced read tells them itself, less often).
   */
  private ingestSome(notify: boolean): { runs: number; verdicts: number } {
    const applied = { runs: 0, verdicts: 0 };
    if (this.closed) return applied;
    let names: string[];
    try {
      names = fs.readdirSync(this.inboxDir).filter((n) => n.endsWith('.jsonl'));
    } catch {
      return applied;
    }
    names.sort();
    const own = new Set([
      path.basename(this.writer.currentFile),
      ...[...this.sealed, ...this.removing].map((f) => path.basename(f)),
    ]);
    const listed = new Set(names);
    for (const name of [...this.files.keys()]) if (!listed.has(name)) this.files.delete(name);
    for (const name of [...this.reported.keys()]) if (!listed.has(name)) this.reported.delete(name);
    for (const name of [...this.skipsLogged.keys()]) if (!listed.has(name)) this.skipsLogged.delete(name);
    for (const name of names) {
      if (this.sliceCut) break; // the next slice goes on from the saved cursors
      if (this.isOwner && own.has(name)) continue;
      // One file's trouble (unreadable, replaced by a directory or a FIFO) must not stop the others or a save.
      try {
        this.ingestFile(name, applied);
      } catch (err) {
        this.reportOnce(
          name,
          `⚠️ Could not read inbox/${name}: ${describe(err)} The other inbox files are read.`,
        );
      }
    }
    const { runs, verdicts } = applied;
    if (runs + verdicts > 0) {
      if (this.isOwner) this.scheduleSave();
      if (notify) this.opts.onExternalChange?.(runs, verdicts);
    }
    return applied;
  }

  private ingestFile(name: string, applied: { runs: number; verdicts: number }): void {
    const file = path.join(this.inboxDir, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch {
      return;
    }
    if (!st.isFile()) {
      this.reportOnce(
        name,
        `⚠️ Skipped inbox/${name}: it is ${fileKind(st)}, not a file. Only files are read from .agent/inbox/; move it elsewhere.`,
      );
      return;
    }
    const known = this.files.get(name) ?? this.savedProgress.get(name);
    const sameFile = known !== undefined && known.ino === st.ino && known.birth === st.birthtimeMs;
    const previous = this.files.get(name);
    if (previous && sameFile && previous.size === st.size && previous.mtimeMs === st.mtimeMs) return; // unchanged
    const identity = { ino: st.ino, birth: st.birthtimeMs };
    const writerGone = !writerMayAppend(name, st.mtimeMs, this.opts.now());
    // Line and mark are known only for files read by this process; saved progress has just the offset.
    let cursor: InboxCursor = sameFile
      ? { offset: known.offset, line: previous?.line, mark: previous?.mark }
      : { offset: 0 };
    for (let first = true; ; first = false) {
      if (this.sliceCut) return; // size -1 below: the next look goes on from here
      // A slice always reads one batch (it would never get anywhere on a slow disk otherwise), then more in its time.
      if (this.slice && this.slice.batches > 0 && performance.now() >= this.slice.ends) {
        this.sliceCut = true; // this slice's time is up: the next one goes on from here
        return;
      }
      if (this.slice) this.slice.batches++;
      const read = readInboxFile(file, cursor, writerGone, this.readLimits());
      if (first && known && known.offset > 0 && (!sameFile || read.rewound)) {
        this.opts.log(`⚠️ inbox/${name} was replaced or rewritten; reading it again from the start.`);
      }
      if (read.tornTail) {
        // Its writer is gone mid-line (killed during an append): that entry never resolved, so nothing is lost.
        this.opts.log(
          `⚠️ Ignored an incomplete last line in inbox/${name} line ${read.next.line} (its writer stopped mid-write).`,
        );
      }
      const applying = performance.now();
      if (read.lines.length > 0) this.applyLines(name, identity, read.lines, applied);
      if (this.slice) this.paceSlices(performance.now() - applying);
      this.files.set(name, {
        offset: read.endOffset,
        line: read.next.line,
        mark: read.next.mark,
        ...identity,
        // Until the last batch is in, the file must not look unchanged to the next poll (were this one cut short).
        size: read.more ? -1 : st.size,
        mtimeMs: st.mtimeMs,
        complete: read.endOffset >= read.dataEnd,
      });
      if (this.isOwner && (read.endOffset !== cursor.offset || read.rewound)) {
        this.dirty = true;
        this.unsavedBytes += Math.max(0, read.endOffset - cursor.offset);
        this.firstUnsavedAt ??= this.opts.now();
      }
      this.reported.delete(name);
      if (!read.more) return;
      cursor = read.next;
    }
  }

  /** A sliced read takes small batches (a batch is applied in one go); others take the configured ones. */
  private readLimits(): InboxLimits | undefined {
    if (!this.slice) return this.opts.inboxLimits;
    const limits = { ...INBOX_LIMITS, ...this.opts.inboxLimits };
    return {
      ...limits,
      batchLines: Math.min(limits.batchLines, this.sliceLines),
      batchBytes: Math.min(limits.batchBytes, SLICE_BATCH_BYTES),
    };
  }

  /**
   * Sizes the next sliced batch from what applying this one took, for about half a slice's time: twice as many lines
   * after a quick one (blank lines, warm code), fewer in proportion after a slow one. Reading is left out: its cost
   * per batch is fixed (open, mark), and on a slow disk it would shrink every batch to one line.
   */
  private paceSlices(ms: number): void {
    const target = SLICE_MS / 2;
    if (ms < target / 2) this.sliceLines = Math.min(SLICE_LINES.max, this.sliceLines * 2);
    else if (ms > target)
      this.sliceLines = Math.max(SLICE_LINES.min, Math.floor((this.sliceLines * target) / ms));
  }

  private applyLines(
    name: string,
    identity: { ino: number; birth: number },
    lines: InboxLine[],
    applied: { runs: number; verdicts: number },
  ): void {
    const now = this.opts.now();
    this.store.transaction(() => {
      for (const line of lines) {
        const where = `line ${line.lineNumber}`;
        if (line.error || !line.entry) {
          this.logSkip(name, `⚠️ Skipped inbox/${name} ${where}: ${line.error}`);
          continue;
        }
        try {
          if (line.entry.type === 'run') {
            const id = line.entry.id ?? derivedId(name, identity, line.offset, line.text);
            const run = this.storable(journalRun(line.entry, id, this.opts.now), `inbox/${name} ${where}`);
            if (this.applyJournalRun(run, `inbox/${name} ${where}`) === 'inserted') applied.runs++;
          } else if (line.entry.type === 'change') {
            const change = checkRunChange(line.entry.change);
            if (!this.store.getRun(line.entry.runId)) {
              this.logSkip(
                name,
                `⚠️ Skipped inbox/${name} ${where}: a change for run ${line.entry.runId}, which is not stored ` +
                  '(write the run before its change).',
              );
            } else this.store.setChange(line.entry.runId, change);
          } else if (line.entry.type === 'signal') {
            const { runId, kind, value, source, at } = line.entry;
            this.applySignal(runId, checkSignal({ kind, value, source, at }, now));
            applied.verdicts++;
          } else {
            // A verdict written without a time counts from when it is first read.
            const verdict = line.entry.verdict === null ? null : checkVerdict(line.entry.verdict);
            this.applyFeedback(line.entry.runId, verdict, line.entry.at ?? now);
            applied.verdicts++;
          }
        } catch (err) {
          this.logSkip(name, `⚠️ Skipped inbox/${name} ${where}: ${describe(err)}`);
        }
      }
    });
  }

  /** Logs a skipped line: the first `LOGGED_SKIPS` of a file one by one, the others counted for the summary. */
  private logSkip(name: string, message: string): void {
    const logged = this.skipsLogged.get(name) ?? 0;
    if (logged < LOGGED_SKIPS) {
      this.skipsLogged.set(name, logged + 1);
      this.opts.log(message);
    } else this.skipsUnlogged.set(name, (this.skipsUnlogged.get(name) ?? 0) + 1);
  }

  /** One line per file for the skipped lines not logged one by one, at the end of each poll. */
  private logSkipSummary(): void {
    for (const [name, count] of this.skipsUnlogged) {
      this.opts.log(
        `⚠️ … and ${count.toLocaleString('en-US')} more line${count === 1 ? '' : 's'} skipped in inbox/${name}.`,
      );
    }
    this.skipsUnlogged.clear();
  }

  /** Logs a problem with one inbox file once, not at every poll, until the file changes or is read again. */
  private reportOnce(name: string, message: string): void {
    if (this.reported.get(name) === message) return;
    this.reported.set(name, message);
    this.opts.log(message);
  }

  /** Stops reading the inbox on a timer (closing: what is left is read once more by the close). */
  stopPolling(): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /** Saves now if anything changed (the owner only). Resolves when the file is on disk. */
  async save(): Promise<void> {
    while (this.saving) await this.saving;
    if (!this.dirty || !this.isOwner) return;
    this.saving = this.doSave().finally(() => (this.saving = undefined));
    await this.saving;
    await this.removingRead;
  }

  /**
   * Rebuilds the database file (Store.rebuild) and saves it, for `agent-learning compact`: everything recorded so far
   * is saved first, so the rebuild holds nothing that is not also in the file it replaces. Only the owner may; a
   * process that is not gets an error that says which one is.
   */
  async rebuild(): Promise<{ beforeBytes: number; afterBytes: number }> {
    // Opening it found the database unreadable and set it aside: what is open is the fresh one, nothing to rebuild.
    const setAside = this.problems.find((p) => p instanceof CorruptDatabaseError);
    if (setAside) throw new LearningError(`${setAside.message} Nothing was rebuilt.`);
    if (!this.isOwner) {
      const holder = lockHolder(lockFile(this.opts.agentDir));
      throw new LearningError(
        `${this.dbFile} is in use by ${holder ? `process ${holder.pid} on ${holder.host}` : 'another process'}: ` +
          'close the VS Code windows and agents that have this folder open, then run agent-learning compact again.',
      );
    }
    // A save that finds the lock taken over writes nothing: the rebuild is then not on disk, and says so.
    const stillOwned = () => {
      if (!this.lock.verify())
        throw new LearningError(
          `Another process took over ${this.dbFile} meanwhile: nothing was rebuilt. Close the VS Code windows and ` +
            'agents that have this folder open, then run agent-learning compact again.',
        );
    };
    this.dirty = true; // the file gets everything so far, texts moved out, before it is rebuilt
    await this.save();
    stillOwned();
    const beforeBytes = fs.statSync(this.dbFile).size;
    this.store.rebuild();
    this.dirty = true;
    await this.save();
    stillOwned();
    return { beforeBytes, afterBytes: fs.statSync(this.dbFile).size };
  }

  /** Closes, saving first (see closeSync). */
  close(): Promise<void> {
    this.closeSync();
    return Promise.resolve();
  }

  /**
   * Ingests the inbox, saves what changed and releases the database, all before it returns: a process that exits
   * right after (the seed's `learning.close(); process.exit(0)`) leaves a complete experience.db. A save still
   * being written in the background is superseded by this one.
   */
  closeSync(): void {
    if (this.closed) return;
    clearInterval(this.pollTimer);
    clearTimeout(this.saveTimer);
    if (this.isOwner) {
      try {
        this.ingestInbox();
      } catch (err) {
        // What was not ingested stays in the inbox for the next owner; the save and the release go ahead.
        this.opts.log(`⚠️ ${describe(err)}`);
      }
      try {
        this.saveSync(); // only when something changed: at 100k runs a save writes ~0.5 GB
      } catch (err) {
        this.saveFailed(err); // the journal stays and is replayed on the next open
      }
      try {
        this.writer.close();
        if (!this.dirty) fs.rmSync(this.writer.currentFile, { force: true });
      } finally {
        this.lock.release();
      }
    }
    // What is still in our journals (a reader's runs, or a failed save's) is left for the next owner, marked
    // closed so it can be removed once ingested even while this process lives on.
    this.writer.finish();
    for (const file of this.sealed) {
      try {
        fs.renameSync(file, file.replace(/\.jsonl$/, '.closed.jsonl'));
      } catch {
        // already gone
      }
    }
    this.writer.close();
    this.closed = true;
    this.store.close();
    this.segments.close();
  }

  // ---- applying entries ----

  /**
   * Inserts the run, unless its id is taken: by the same run ('same': a replay, or an agent sending it twice) or by
   * a different one ('conflict'); nothing changes then. Throws when the run cannot be stored (see Store.insertRun).
   */
  private applyRun(run: ValidRun): { record: RunRecord; outcome: RunOutcome } {
    const { result, ...ids } = run;
    const record = toRunRecord(ids, result);
    const existing = this.store.getRun(run.id);
    if (existing) {
      const same = sameContent(existing, record) && sameTexts(this.store.runTexts(run.id), record);
      return same
        ? { record: { ...record, ...existing, input: record.input, output: record.output }, outcome: 'same' }
        : { record, outcome: 'conflict' };
    }
    return this.store.transaction(() => {
      const pending = this.store.takePendingFeedback(run.id);
      if (pending && (record.humanAt === null || pending.at >= record.humanAt)) {
        record.human = pending.verdict;
        record.humanAt = pending.at;
      }
      record.reward = this.opts.reward(withObserved(record, this.store.signalsOf(run.id)));
      if (!this.store.insertRun(record)) throw new LearningError(`Run ${run.id} was not stored.`); // checked above
      return { record, outcome: 'inserted' as const };
    });
  }

  /**
   * A run another process or an agent journalled. A different run under a stored id is kept under an id derived
   * from its content (so that reading the line again finds it stored), and the line is named in the log.
   */
  private applyJournalRun(run: ValidRun, where: string): RunOutcome {
    const { outcome } = this.applyRun(run);
    if (outcome !== 'conflict') return outcome;
    const id = conflictId(run);
    const second = this.applyRun({ ...run, id }).outcome;
    if (second === 'inserted') {
      this.opts.log(
        `⚠️ ${where}: a different run is already stored with id ${JSON.stringify(run.id)}; kept this one as ${id}.`,
      );
    } else if (second === 'conflict') {
      this.opts.log(
        `⚠️ Skipped ${where}: runs with ids ${JSON.stringify(run.id)} and ${id} are already stored.`,
      );
    }
    return second;
  }

  /**
   * The run as the store keeps it: valid Unicode in every text (a lone surrogate becomes U+FFFD), and its input and
   * output cut to `storage.maxTextBytes` with a marker, logged. Journalled like that, so a replay finds it the same.
   */
  private storable(run: ValidRun, where: string): ValidRun {
    const max = this.opts.maxTextBytes();
    const result = { ...run.result };
    for (const field of ['input', 'output'] as const) {
      const bounded = boundText(wellFormed(result[field]), max);
      if (bounded.truncatedFrom !== undefined) {
        this.opts.log(
          `⚠️ ${where}: its ${field} is ${byteSize(bounded.truncatedFrom)}; kept the first ${byteSize(max)} ` +
            'with a marker saying so (storage.maxTextBytes in .agent/learning-config.json).',
        );
      }
      result[field] = bounded.text;
    }
    return {
      ...run,
      id: wellFormed(run.id),
      taskSlug: wellFormed(run.taskSlug),
      modelId: wellFormed(run.modelId),
      promptId: wellFormed(run.promptId),
      result,
    };
  }

  private applyFeedback(runId: string, verdict: Verdict | null, at: number): number | undefined {
    const run = this.store.getRun(runId);
    if (!run) {
      // Cleared before its run arrived: no verdict waits for it any more.
      if (verdict === null) this.store.takePendingFeedback(runId);
      else this.store.addPendingFeedback(runId, verdict, at);
      return undefined;
    }
    if (run.humanAt !== null && at < run.humanAt) return run.reward;
    const reward = this.opts.reward(withObserved({ ...run, human: verdict }, this.store.signalsOf(runId)));
    this.store.setVerdict(runId, verdict, at, reward);
    return reward;
  }

  /** Keeps the signal (an older one than stored changes nothing) and recomputes the run's reward, if it is here. */
  private applySignal(runId: string, signal: ObservedSignal): number | undefined {
    this.store.upsertSignal(runId, signal);
    const run = this.store.getRun(runId);
    if (!run) return undefined;
    const reward = this.opts.reward(withObserved(run, this.store.signalsOf(runId)));
    this.store.setReward(runId, reward); // the arm sums follow by trigger
    return reward;
  }

  // ---- saving ----

  private changed(bytes = SMALL_ENTRY_BYTES): void {
    if (!this.isOwner) return;
    this.dirty = true;
    this.unsavedEntries++;
    this.unsavedBytes += bytes;
    this.firstUnsavedAt ??= this.opts.now();
    if (this.unsavedEntries >= MAX_UNSAVED_ENTRIES) void this.save().catch((e) => this.saveFailed(e));
    else this.scheduleSave();
  }

  /**
   * Saving costs about as much as the database is big (a synchronous export: ~1.5 s at 100k runs), so the pause
   * between saves grows with it, keeping saves under ~5% of the time. The journal keeps runs safe meanwhile.
   */
  private scheduleSave(): void {
    if (this.saveTimer || this.closed) return;
    const min = this.opts.saveDelayMs ?? 1_000;
    const delay = Math.min(Math.max(MAX_SAVE_DELAY_MS, min), Math.max(min, this.lastSaveMs * 20));
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      if (this.saveMayWait()) this.scheduleSave();
      else this.save().catch((e) => this.saveFailed(e));
    }, delay);
    this.saveTimer.unref();
  }

  /**
   * Whether a big database's save can wait: until the journal took as many bytes as the save will write, which
   * keeps the bytes written per run near the run's own size, or until MAX_SAVE_DELAY_MS passed. The journal holds
   * every run meanwhile (a crash replays it), other processes read it too, and close() saves what is pending.
   */
  saveMayWait(): boolean {
    return (
      !this.eventsUnsaved &&
      this.lastImageBytes > (this.opts.pacedSaveBytes ?? PACED_SAVE_BYTES) &&
      this.unsavedBytes < this.lastImageBytes &&
      this.firstUnsavedAt !== undefined &&
      this.opts.now() - this.firstUnsavedAt < MAX_SAVE_DELAY_MS
    );
  }

  private saveFailed(err: unknown): void {
    this.opts.log(`❌ Could not save ${this.dbFile}: ${describe(err)}. Runs stay safe in .agent/inbox/.`);
  }

  private async doSave(): Promise<void> {
    await this.moveTextsOut();
    // An import reading the inbox meanwhile may have added many more: moved too, a few rounds at most, so that few
    // are left for the image to hold (put into sql.js's file in one piece, 2,000 runs' texts took 150 ms).
    for (
      let round = 0;
      round < 8 &&
      !this.closed &&
      this.mayRetryTextMove() &&
      this.store.textsPendingAtLeast(KEPT_IN_IMAGE_TEXTS);
      round++
    ) {
      await this.moveTextsOut();
    }
    if (this.closed) return; // closeSync saved meanwhile, and released the lock
    const save = this.beginSave();
    if (!save) return;
    // The image is taken, summed and written a slice at a time (a slice per turn; see liveImage.ts).
    try {
      void this.writer.prepare(); // the journal file the next entry goes to, made while this save is written
      await writeFileAtomic(this.dbFile, save.image.slices(), () => {
        crashPoint('save-before-rename');
        // closeSync saved a newer image meanwhile: this older one must not replace it.
        if (save.generation !== this.saveGeneration) throw new SupersededSave();
      });
    } catch (err) {
      // Superseded: by its generation check, or by closeSync removing its temp file under a queued rename.
      // Or closed meanwhile, which stops the image being taken (Store.close).
      if (err instanceof SupersededSave || save.generation !== this.saveGeneration || this.closed) return;
      this.dirty = true;
      throw err;
    } finally {
      save.image.release();
    }
    if (save.generation !== this.saveGeneration) return; // closeSync saved a newer image (and its sum) meanwhile
    const sum = save.image.sum();
    if (!sum) throw new Error('the image written was not summed'); // slices() sums every byte it gives
    // The sum and the removal of our sealed journals and of the agents' files read go off the event loop (an unlink
    // waits for the file system's journal: up to 100 ms seen, for a 36-byte file too). Left behind by an exit
    // meanwhile, the journals are read again at the next open, as after a crash at 'save-renamed': every entry in
    // them is a replay; a sum not written costs that open an integrity check; an agent's file is known read.
    const { sealed, finished } = this.endSave(save, sum, true);
    for (const file of sealed) this.removing.add(file);
    const removed = await Promise.allSettled([
      writeImageSumAsync(this.sumFile, sum),
      ...sealed.map((file) => fs.promises.rm(file, { force: true })),
    ]);
    for (const file of sealed) this.removing.delete(file);
    // Not removed (a permission changed under it): the image holds its entries, so the save stands; the file stays
    // ours, for the next save to remove.
    const kept = sealed.filter((_, i) => removed[i + 1]?.status === 'rejected');
    if (kept.length > 0) {
      this.sealed.unshift(...kept);
      this.opts.log(
        `⚠️ Could not remove ${kept.map((f) => path.basename(f)).join(', ')} from ${this.inboxDir} after a save ` +
          `(${describe((removed.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason)}); the next save tries again.`,
      );
    }
    // The agents' files go once this save is over, so that a close meanwhile need not save again.
    this.removeLater(finished);
  }

  /** Saves now, synchronously, if anything changed or a save is still being written (the owner only). */
  private saveSync(): void {
    if (!this.isOwner || (!this.dirty && !this.saving)) return;
    const superseded = this.saving !== undefined;
    this.dirty = true; // a save in flight is superseded: its image goes again, in this one
    this.moveTextsOutSync();
    const save = this.beginSave();
    if (!save) return;
    // The image's bytes as sql.js holds them (no copy when its file is watched), written before anything changes them.
    const image = save.image.whole();
    // The superseded save's temp file, removed before this image is renamed into place: its rename may already be
    // queued in the thread pool (past its generation check), and must fail rather than land on this newer file.
    // Removed, it is not left behind either if the process exits right after.
    if (superseded) this.removeTempFiles(`${process.pid}-`);
    try {
      writeFileAtomicSync(this.dbFile, image, () => crashPoint('save-before-rename'));
    } catch (err) {
      this.dirty = true;
      throw err;
    }
    this.endSave(save, imageSum(image));
  }

  /**
   * Moves the texts still in the database to .agent/texts/ (fsync'ed there before the database names them), so
   * that the image a save writes holds numbers only. Compression and the write run off the event loop. A failure
   * leaves the texts where they are, saved with the image as before, and is logged.
   */
  private moveTextsOut(): Promise<void> {
    // One at a time: a save's and an import's would take the same rows, and the rows one named the other would have
    // written again, or left behind while the image was taken. With none under way it starts now (synchronously up
    // to its first write), as a save expects.
    const move = this.moving ? this.moving.then(() => this.moveTextsOutNow()) : this.moveTextsOutNow();
    const settled = move.catch(() => undefined);
    this.moving = settled;
    void settled.then(() => {
      if (this.moving === settled) this.moving = undefined;
    });
    return move;
  }

  private async moveTextsOutNow(): Promise<void> {
    const store = this.store;
    for (const take of textBatches(store)) {
      for (;;) {
        if (this.closed || store !== this.store) return; // closeSync moved the rest, or the database was reloaded
        const { batch, named } = take();
        if (batch.length === 0) break;
        // Only the owner appends: a process that lost the lock (paused past its staleness) must not write at ranges
        // the new owner hands out.
        if (!this.lock.verify()) return;
        let refs;
        try {
          refs = await this.segments.append(batch);
        } catch (err) {
          this.textsNotMoved(err);
          return;
        }
        crashPoint('texts-written');
        // closeSync moved (and saved) them meanwhile, or the database was reloaded: these bytes are never named.
        if (this.closed || store !== this.store || !this.isOwner) return;
        named(refs);
        this.textsMoveFailedAt = undefined;
        if (batch.length < TEXT_MOVE_BATCH) break;
      }
    }
    await this.compactSliced(store);
  }

  /**
   * compact, VACUUM_PAGES pages at a time with the event loop let run between (30 ms for 1,000 runs' texts); only
   * when the free pages are worth it (Store.freePagesWorthReleasing), as in compact.
   */
  private async compactSliced(store: Store): Promise<void> {
    if (!store.freePagesWorthReleasing()) return;
    while (!this.closed && store === this.store && this.isOwner) {
      if (store.releaseSomeFreePages(VACUUM_PAGES) !== 'more') return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private moveTextsOutSync(): void {
    for (const take of textBatches(this.store)) {
      for (;;) {
        const { batch, named } = take();
        if (batch.length === 0 || !this.lock.verify()) break;
        try {
          named(this.segments.appendSync(batch));
        } catch (err) {
          this.textsNotMoved(err);
          return;
        }
        if (batch.length < TEXT_MOVE_BATCH) break;
      }
    }
    this.compact();
  }

  private compact(): void {
    if (!this.store.freePagesWorthReleasing()) return;
    const before = Date.now();
    const vacuumed = this.store.releaseFreePages();
    const ms = Date.now() - before;
    if (vacuumed && ms > 100)
      this.opts.log(`🗜️ Gave back the pages of moved texts in ${this.dbFile} (${ms} ms).`);
  }

  /** Whether a move of texts beyond the one each save makes may be tried: not within a minute of a failed one. */
  private mayRetryTextMove(): boolean {
    return this.textsMoveFailedAt === undefined || Date.now() - this.textsMoveFailedAt > 60_000;
  }

  private textsNotMoved(err: unknown): void {
    this.textsMoveFailedAt = Date.now();
    const message = describe(err);
    if (message === this.lastTextsFailure) return;
    this.lastTextsFailure = message;
    this.opts.log(
      `⚠️ Could not write run texts to ${textsDir(this.opts.agentDir)}: ${message}. They stay in ` +
        `${path.basename(this.dbFile)} until a later save can move them.`,
    );
  }

  private textsUnavailable(id: string, reason: string): void {
    if (this.unavailableReported.has(id) || this.unavailableReported.size > REPORTED_UNAVAILABLE) return;
    this.unavailableReported.add(id);
    this.opts.log(
      this.unavailableReported.size > REPORTED_UNAVAILABLE
        ? '⚠️ More runs have texts that cannot be read; the runs and their numbers are kept.'
        : `⚠️ Run ${id}: its texts cannot be read (${reason}); the run and its numbers are kept.`,
    );
  }

  /** The first, synchronous half of a save: the image, with every journal entry so far in it. */
  private beginSave(): PendingSave | undefined {
    if (!this.lock.verify()) {
      this.opts.log(
        '⚠️ Another process took over the experience database; this one now writes to the inbox.',
      );
      return undefined;
    }
    const started = Date.now();
    // Everything journalled so far is in the image below; later entries go to a fresh journal file.
    this.sealed.push(this.writer.rotate());
    const sealedNow = [...this.sealed];
    const finished = this.finishedInboxFiles();
    const progress = new Map(
      [...this.files].map(([name, f]) => [name, { offset: f.offset, ino: f.ino, birth: f.birth }]),
    );
    this.store.setInboxProgress(progress);
    this.store.prunePendingFeedback(this.opts.now() - PENDING_FEEDBACK_MS);
    this.store.pruneOrphanSignals(this.opts.now() - PENDING_FEEDBACK_MS);
    const image = this.store.imageToSave();
    this.warnIfLarge(image.size);
    if (image.size > this.maxImageBytes) {
      // Still dirty; the sealed journals and inbox files stay until a save succeeds.
      image.release();
      this.lastSaveMs = Date.now() - started;
      throw new DatabaseTooLargeError(this.dbFile, image.size, this.maxImageBytes);
    }
    this.dirty = false;
    this.unsavedEntries = 0;
    this.unsavedBytes = 0;
    this.firstUnsavedAt = undefined;
    this.eventsUnsaved = false;
    this.lastImageBytes = image.size;
    crashPoint('save-exported');
    return { image, sealedNow, finished, progress, started, generation: ++this.saveGeneration };
  }

  /**
   * The second half, once the image is renamed into place: what it holds is removed from our journals. With
   * `later`, the caller writes the sum and removes our sealed journals and the agents' inbox files read to their end
   * (returned) instead, off the event loop.
   */
  private endSave(
    { sealedNow, finished, progress, started }: PendingSave,
    sum: ImageSum,
    later = false,
  ): { sealed: string[]; finished: [string, InboxFileState][] } {
    this.snapshotStamp = stamp(this.dbFile);
    this.imageHolds = progress;
    crashPoint('save-renamed');
    if (!later) {
      writeImageSum(this.sumFile, sum);
      for (const file of sealedNow) fs.rmSync(file, { force: true });
    }
    this.sealed = this.sealed.filter((f) => !sealedNow.includes(f));
    this.lastSaveMs = Date.now() - started;
    // The agents' files, closing (not `later`): left for the next owner's first poll (removeHeldFiles), since this
    // image holds them; unlinking an imported backlog of gigabytes held the loop 0.25 s per 1.3 GB.
    if (!later) return { sealed: [], finished: [] };
    // A file read again since the image was taken (a writer that came back after a minute) holds entries the image
    // does not: it stays, and the next save, which holds them, removes it.
    const done = finished.filter(([name, kept]) => this.unchangedSince(name, kept));
    return { sealed: sealedNow, finished: done };
  }

  /** Logs once per process each time the database passes another of GROWTH_WARNINGS, well before it is refused. */
  private warnIfLarge(size: number): void {
    const passed = GROWTH_WARNINGS.filter((f) => size > f * this.maxImageBytes).length;
    if (passed <= this.growthWarnings) return;
    this.growthWarnings = passed;
    this.opts.log(
      `⚠️ ${this.dbFile} is ${byteSize(size)}, ${Math.floor((size / this.maxImageBytes) * 100)}% of the ` +
        `${byteSize(this.maxImageBytes)} it can be saved at. Close every window and move experience.db aside (any ` +
        'SQLite tool still reads it, and its texts stay in .agent/texts/) to begin a fresh one; or first run ' +
        '`agent-learning compact` there, which rebuilds it smaller.',
    );
  }

  /** Inbox files read to their end whose writers are gone: to be removed once this save is on disk. */
  private finishedInboxFiles(): [string, InboxFileState][] {
    const now = this.opts.now();
    return [...this.files].filter(([name, f]) => f.complete && !writerMayAppend(name, f.mtimeMs, now));
  }

  /**
   * Whether the agent's inbox file `name` is still as the save that read it to its end left it: not read again
   * since (a read makes a new state), and neither written nor replaced on disk. Only then are all its entries in
   * that save's image, and may it be removed.
   */
  private unchangedSince(name: string, kept: InboxFileState): boolean {
    const st = statOrUndefined(path.join(this.inboxDir, name));
    return (
      this.files.get(name) === kept &&
      st !== undefined &&
      st.size === kept.size &&
      st.mtimeMs === kept.mtimeMs &&
      st.ino === kept.ino
    );
  }

  /**
   * Removes, off the event loop, the agents' inbox files read to their end that the image on disk holds whole, once
   * their writers are done: a file whose writer's minute had not passed at the last save (an import just written)
   * stayed until a save with changes came, which may be days. Not while a save is under way or changes wait for one
   * (that save removes them).
   */
  private removeHeldFiles(): void {
    if (!this.isOwner || this.closed || this.dirty || this.saving || this.removalPending) return;
    const now = this.opts.now();
    const held = [...this.files].filter(([name, f]) => {
      const holds = this.imageHolds.get(name);
      return (
        f.complete &&
        holds?.offset === f.offset &&
        holds.ino === f.ino &&
        holds.birth === f.birth &&
        !this.notRemovable.has(f) &&
        !writerMayAppend(name, f.mtimeMs, now)
      );
    });
    if (held.length > 0) this.removeLater(held);
  }

  /** Removes read files (removeReadFiles) once the removals begun before are done: `removingRead` waits for all. */
  private removeLater(files: [string, InboxFileState][]): void {
    const removal = (this.removingRead ?? Promise.resolve())
      .then(() => this.removeReadFiles(files))
      .catch(() => undefined); // a file not removed is known read, for the next save to remove
    this.removingRead = removal;
    this.removalPending = true;
    void removal.then(() => {
      if (this.removingRead === removal) this.removalPending = false;
    });
  }

  /**
   * Removes the agents' inbox files a save holds (endSave) off the event loop, each checked again just before:
   * unlinking a file of gigabytes (an imported backlog) held the event loop 0.25 s per 1.3 GB while the file system
   * freed its blocks. One not removed stays known as read to its end (the image holds where it ends), for the next
   * save to remove.
   */
  private async removeReadFiles(files: [string, InboxFileState][]): Promise<void> {
    for (const [name, kept] of files) {
      // Another process owns the database now (it took over a lock it found stale): the file is its to remove.
      if (this.closed || !this.lock.verify()) return;
      if (!this.unchangedSince(name, kept)) continue;
      try {
        await fs.promises.rm(path.join(this.inboxDir, name), { force: true });
      } catch {
        this.notRemovable.add(kept); // the next save, or a change to the file, tries again
        continue;
      }
      if (this.files.get(name) === kept) this.files.delete(name);
    }
  }

  // ---- ownership and snapshots ----

  /**
   * What the poll timer does, also callable directly: the owner ingests the inbox; any other process takes over
   * a database nobody owns any more, or reloads the saved file when it changed and reads the inbox on top.
   * Returns the number of entries applied.
   */
  sync(): number {
    if (this.closed) return 0;
    if (this.isOwner) {
      this.touchLock();
      const applied = this.ingestInbox();
      this.removeHeldFiles();
      return applied;
    }
    if (this.lock.tryAcquire()) return this.promote();
    if (stamp(this.dbFile) !== this.snapshotStamp) {
      this.loadSnapshot(false);
      const applied = this.ingestInbox();
      if (applied === 0) this.opts.onExternalChange?.(0, 0);
      return applied;
    }
    return this.ingestInbox();
  }

  private touchLock(): void {
    if (Date.now() - this.lastTouch > LOCK_TOUCH_MS) {
      this.lock.touch();
      this.lastTouch = Date.now();
    }
  }

  /** The previous owner has gone: load what it saved, ingest everything (our own journal too), and save. */
  private promote(): number {
    this.opts.log('🔒 This process now owns the experience database.');
    this.removeTempFiles();
    this.loadSnapshot(true);
    this.savedProgress = this.imageHolds = this.store.inboxProgress();
    this.files = new Map();
    // Our journal so far is read like any other file this once, then removed with the save.
    const former = this.writer.rotate();
    const applied = this.ingestInbox();
    // The views refresh with the database now loaded, even when the inbox had nothing more (as after a reload).
    if (applied === 0) this.opts.onExternalChange?.(0, 0);
    this.files.delete(path.basename(former));
    this.sealed.push(former);
    this.dirty = true;
    void this.save().catch((e) => this.saveFailed(e));
    return applied;
  }

  /** (Re)loads the saved database. The owner moves a corrupt file aside; a reader just starts empty. */
  private loadSnapshot(asOwner: boolean, read: Snapshot = this.readSnapshotSync(asOwner)): void {
    const { bytes, tooLarge, before } = read;
    if (bytes) this.warnIfLarge(bytes.length);
    this.lastImageBytes = bytes?.length ?? 0;
    const verified =
      bytes !== undefined &&
      this.sumTrusted() &&
      (read.verified ?? matchesSum(bytes, readImageSum(this.sumFile)));
    // Taken before the open: sql.js keeps `bytes` as its file, and a migration at open writes into them.
    const sum = asOwner && bytes && !verified ? imageSum(bytes) : undefined;
    let opened: Store | OpenProblem = tooLarge
      ? { kind: 'corrupt', cause: tooLarge }
      : bytes
        ? Store.open(this.SQL, bytes, verified, read.room)
        : this.newStore(asOwner);
    // Checked just now (written by an older release, or edited by another SQLite tool): the next open need not.
    if (sum && opened instanceof Store) writeImageSum(this.sumFile, sum);
    if (!(opened instanceof Store)) {
      if (opened.kind === 'newer') {
        if (asOwner) this.lock.release();
        throw new NewerSchemaError(this.dbFile, opened.version, SCHEMA_VERSION);
      }
      const cause = opened.cause;
      if (asOwner) {
        const aside = corruptDatabaseFile(this.opts.agentDir, this.opts.now());
        fs.renameSync(this.dbFile, aside);
        const problem = new CorruptDatabaseError(this.dbFile, aside, cause);
        this.problems.push(problem);
        this.opts.log(`❌ ${problem.message}`);
      } else {
        this.opts.log(`⚠️ ${this.dbFile} is unreadable (${describe(cause)}); its owner will set it aside.`);
      }
      opened = this.newStore(asOwner);
    }
    this.store?.close();
    this.store = opened;
    this.store.useTextSegments(this.segments, (id, reason) => this.textsUnavailable(id, reason));
    this.snapshotStamp = before;
    if (!asOwner) this.files = new Map();
  }

  /**
   * What the owner's database is given room for (imageRoom.ts), besides a quarter of itself: the inbox files it is
   * about to import, so that a backlog of agents' runs (or a workspace from before the journal) is imported into
   * the file sql.js was given, not into copies of it an eighth bigger each time. Their whole sizes, before the
   * saved progress is known: an upper bound (a file read to its end but not yet removed counts too), and address
   * space until written, kept until the database is next opened.
   */
  private growth(): Growth {
    let incoming = 0;
    try {
      for (const entry of fs.readdirSync(this.inboxDir, { withFileTypes: true })) {
        if (!entry.isFile() || !entry.name.endsWith('.jsonl')) continue;
        incoming += statOrUndefined(path.join(this.inboxDir, entry.name))?.size ?? 0;
      }
    } catch {
      // no inbox to read: room for the database alone
    }
    return { incoming, ...(this.opts.leastRoomBytes !== undefined && { least: this.opts.leastRoomBytes }) };
  }

  /**
   * A new database. The owner's starts from an empty file of ours with room after it, so that its saves too are
   * taken from the file in slices (liveImage.ts); sql.js would make a file of its own.
   */
  private newStore(asOwner: boolean): Store {
    if (!asOwner) return Store.open(this.SQL, undefined) as Store;
    const { image, room } = withRoom(emptyImage(this.SQL), this.growth());
    return Store.open(this.SQL, image, true, room) as Store;
  }

  /**
   * The saved file's bytes, or why they are not read (too large), and its stamp from before the read. With room
   * for the database to grow into for its owner (imageRoom.ts); a reader never writes it.
   */
  private readSnapshotSync(asOwner: boolean): Snapshot {
    const before = stamp(this.dbFile);
    try {
      const { image, room } = readImageWithRoomSync(this.dbFile, this.readOptions(asOwner));
      return { before, bytes: image, room };
    } catch (err) {
      return this.unread(err, before);
    }
  }

  /**
   * readSnapshotSync with the read and the check against experience.db.sum off the event loop (or a slice at a
   * time): at open, 40 ms of a 35 MB file's read and 10 ms of its CRC no longer hold it.
   */
  private async readSnapshot(asOwner: boolean): Promise<Snapshot> {
    const before = stamp(this.dbFile);
    try {
      const { image: bytes, room } = await readImageWithRoom(this.dbFile, this.readOptions(asOwner));
      const sum = this.sumTrusted() ? readImageSum(this.sumFile) : undefined;
      const verified =
        sum !== undefined && sum.size === bytes.length && (await imageSumSliced(bytes)).crc32 === sum.crc32;
      return { before, bytes, verified, room };
    } catch (err) {
      return this.unread(err, before);
    }
  }

  /** How the saved file is read: with room for its owner only (a reader never writes it), up to the largest size. */
  private readOptions(asOwner: boolean): ImageReadOptions {
    return { room: asOwner, ...(asOwner && { growth: this.growth() }), maxBytes: this.maxImageBytes };
  }

  /** A snapshot whose file was not read: too large, or missing (a new database); any other error is thrown. */
  private unread(err: unknown, before: string): Snapshot {
    if (err instanceof ImageTooLargeError) return { before, tooLarge: this.tooLargeToRead(err.size) };
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return { before };
  }

  /**
   * Whether experience.db.sum may stand for the integrity check: not in a workspace the user has not trusted (a cloned
   * repository's .agent/ may ship a damaged or crafted database with its matching sum).
   */
  private sumTrusted(): boolean {
    return this.opts.trusted?.() ?? true;
  }

  private tooLargeToRead(size: number): Error {
    return new Error(
      `it is ${byteSize(size)}, more than the ${byteSize(this.maxImageBytes)} it can be read at`,
    );
  }

  /** Removes the database's temp files: every one (a new owner's), or those whose name goes on with `of`. */
  private removeTempFiles(of = ''): void {
    const base = path.basename(this.dbFile) + TEMP_MARKER + of;
    for (const name of fs.readdirSync(this.opts.agentDir)) {
      if (name.startsWith(base)) fs.rmSync(path.join(this.opts.agentDir, name), { force: true });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new LearningError('The learning pipeline is closed.');
  }
}

/**
 * Stable id for an entry an agent wrote without one: the same line of the same file always gets the same id (so
 * replays never duplicate it), and a new file under a reused name gets new ones.
 */
function derivedId(name: string, file: { ino: number; birth: number }, offset: number, text: string): string {
  const key = `${name}\0${file.ino}\0${file.birth}\0${offset}\0${text}`;
  return 'in-' + createHash('sha256').update(key).digest('hex').slice(0, 24);
}

/** The fields that make a run the same run: not its time, and not its verdict or reward, which feedback changes. */
const CONTENT_FIELDS = [
  'taskSlug',
  'role',
  'modelId',
  'promptId',
  'complexity',
  'compile',
  'testsPassed',
  'testsTotal',
  'lintErrors',
  'typeErrors',
  'schemaErrors',
  'boundaryErrors',
  'costTokens',
  'durationMs',
  'iterations',
] as const;

function sameContent(stored: Omit<RunRecord, 'input' | 'output'>, run: RunRecord): boolean {
  return CONTENT_FIELDS.every((f) => stored[f] === run[f]);
}

function sameTexts(
  stored: { input: string; output: string; unavailable?: string } | undefined,
  run: RunRecord,
): boolean {
  if (stored?.unavailable !== undefined) return true; // unreadable now: nothing says the run differs
  return stored !== undefined && sameText(stored.input, run.input) && sameText(stored.output, run.output);
}

/** The id a different run journalled under a taken id is kept as: the same for the same content, every time. */
function conflictId(run: ValidRun): string {
  const { taskSlug, modelId, promptId, role, result } = run;
  const key = JSON.stringify({ taskSlug, modelId, promptId, role, result });
  return `${run.id.slice(0, 170)}~${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

function stamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'missing';
  }
}

/** A run another process journalled: any agent may write the inbox, so it is checked as the API checks a run. */
function journalRun(entry: RunEntry, id: string, now: () => number): ValidRun {
  const { taskSlug, modelId, promptId, result } = validateRunArgs(
    entry.taskSlug,
    entry.modelId,
    entry.promptId,
    entry.result,
  );
  const role = checkRole(entry.role ?? 'coder');
  const source = entry.source === undefined ? 'inbox' : checkRunSource(entry.source);
  return { id, createdAt: entry.createdAt ?? now(), taskSlug, modelId, promptId, role, result, source };
}

/**
 * What a save moves out of the database into .agent/texts/, one batch at a time: new runs' texts, then changes
 * observed after runs (each batch with how to name where it went).
 */
function textBatches(
  store: Store,
): (() => { batch: TextRecord[]; named: (refs: ReadonlyMap<number, TextRef>) => void })[] {
  return [
    () => ({ batch: store.textsToMove(TEXT_MOVE_BATCH), named: (refs) => store.textsMoved(refs) }),
    () => {
      const batch = store.changesToMove(TEXT_MOVE_BATCH);
      return { batch, named: (refs) => store.changesMoved(refs, batch) };
    },
  ];
}
