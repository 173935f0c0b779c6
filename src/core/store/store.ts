// The experience database: schema and migrations, and every SQL statement, as named questions over sql.js.

import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';
import { LearningError } from '../errors';
import type { Complexity, RunRecord, Verdict } from '../learning/runResult';
import type { RunChange } from '../learning/runChange';
import type { ObservedSignal, RunSource, SignalKind } from '../learning/signals';
import { exportedImage, LiveImage, type ImageToSave } from './liveImage';
import { isCut, wellFormed } from './storedText';
import type { TextRecord, TextRef, TextSegments } from './textSegments';

/** `PRAGMA application_id`: "AGLN". A SQLite file without it (and with tables) is someone else's. */
export const APPLICATION_ID = 0x41474c4e;
export const SCHEMA_VERSION = 4;
/** Candidates one query of exportCandidates reads (their texts are read one at a time, as they are taken). */
const EXPORT_PAGE = 64;
/**
 * Indexes of the first schema that no query needs any more (dropIndexNotNeeded): every run query that does not
 * name a role reads one bounded branch per role through the role-led index instead (perRole). Dropped, they were 15%
 * of the image at 100k runs, and every save copies the whole image (a slice at a time since liveImage.ts).
 */
const INDEXES_NOT_NEEDED = ['runs_prompt', 'runs_model'];
/** The part of the file free pages must be before they are given back (see freePagesWorthReleasing). */
const FREE_PAGES_RELEASED = 0.25;
/** What free pages must also come to before a watched file is truncated to give them back (freePagesWorthReleasing). */
const WATCHED_FREE_BYTES_RELEASED = 8 * 2 ** 20;
/** Past this many roles, a query over all of them takes the plain plan (no index) rather than a branch apiece. */
const PER_ROLE_MAX = 32;
/** `PRAGMA auto_vacuum` mode 2. */
const AUTO_VACUUM_INCREMENTAL = 2;
/** `PRAGMA auto_vacuum` mode 1: the file is truncated at every commit. */
const AUTO_VACUUM_FULL = 1;
/** The page size of a database created from now on (see migrate). */
export const PAGE_SIZE = 8_192;

/** Migration N brings a database from version N-1 to N. Append only; never edit a released one. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE runs (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    task_slug TEXT NOT NULL,
    role TEXT NOT NULL,
    model_id TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    complexity TEXT CHECK (complexity IN ('small', 'medium', 'large')),
    compile INTEGER CHECK (compile IN (0, 1)),
    tests_passed INTEGER,
    tests_total INTEGER,
    lint_errors INTEGER,
    type_errors INTEGER,
    schema_errors INTEGER,
    boundary_errors INTEGER,
    human TEXT CHECK (human IN ('accept', 'reject')),
    human_at INTEGER,
    reward REAL NOT NULL,
    cost_tokens INTEGER,
    duration_ms REAL,
    iterations INTEGER
  );
  CREATE INDEX runs_role_pk ON runs (role, pk);
  CREATE INDEX runs_role_reward ON runs (role, reward DESC, pk DESC);
  -- An arm's latest runs, for bandits that learn from a recent window of each arm.
  CREATE INDEX runs_role_prompt ON runs (role, prompt_id, pk);
  CREATE INDEX runs_prompt ON runs (prompt_id, pk);
  CREATE INDEX runs_role_model ON runs (role, model_id, pk);
  CREATE INDEX runs_model ON runs (model_id, pk);

  -- Inputs and outputs live apart so that stats queries never page through them.
  CREATE TABLE run_texts (
    pk INTEGER PRIMARY KEY REFERENCES runs (pk),
    input TEXT NOT NULL,
    output TEXT NOT NULL
  );

  -- Per-arm sums kept by triggers in the same transaction as the runs, so bandit selection is O(arms), not O(runs).
  -- kind 'prompt': tier is '*'. kind 'model': tier is the run's complexity, '*' when it gave none.
  CREATE TABLE arm_stats (
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    tier TEXT NOT NULL,
    arm TEXT NOT NULL,
    n INTEGER NOT NULL,
    reward_sum REAL NOT NULL,
    reward_sq REAL NOT NULL,
    cost_sum REAL NOT NULL,
    -- runs that reported a cost: an average over the others would count them as free
    cost_n INTEGER NOT NULL,
    duration_sum REAL NOT NULL,
    PRIMARY KEY (kind, role, tier, arm)
  ) WITHOUT ROWID;

  CREATE TRIGGER runs_after_insert AFTER INSERT ON runs BEGIN
    INSERT INTO arm_stats VALUES ('prompt', NEW.role, '*', NEW.prompt_id, 1, NEW.reward, NEW.reward * NEW.reward,
        COALESCE(NEW.cost_tokens, 0), NEW.cost_tokens IS NOT NULL, COALESCE(NEW.duration_ms, 0))
      ON CONFLICT DO UPDATE SET n = n + 1, reward_sum = reward_sum + excluded.reward_sum,
        reward_sq = reward_sq + excluded.reward_sq, cost_sum = cost_sum + excluded.cost_sum,
        cost_n = cost_n + excluded.cost_n, duration_sum = duration_sum + excluded.duration_sum;
    INSERT INTO arm_stats VALUES ('model', NEW.role, COALESCE(NEW.complexity, '*'), NEW.model_id, 1, NEW.reward,
        NEW.reward * NEW.reward, COALESCE(NEW.cost_tokens, 0), NEW.cost_tokens IS NOT NULL, COALESCE(NEW.duration_ms, 0))
      ON CONFLICT DO UPDATE SET n = n + 1, reward_sum = reward_sum + excluded.reward_sum,
        reward_sq = reward_sq + excluded.reward_sq, cost_sum = cost_sum + excluded.cost_sum,
        cost_n = cost_n + excluded.cost_n, duration_sum = duration_sum + excluded.duration_sum;
  END;

  CREATE TRIGGER runs_after_reward AFTER UPDATE OF reward ON runs BEGIN
    UPDATE arm_stats SET reward_sum = reward_sum - OLD.reward + NEW.reward,
        reward_sq = reward_sq - OLD.reward * OLD.reward + NEW.reward * NEW.reward
      WHERE (kind = 'prompt' AND role = NEW.role AND tier = '*' AND arm = NEW.prompt_id)
         OR (kind = 'model' AND role = NEW.role AND tier = COALESCE(NEW.complexity, '*') AND arm = NEW.model_id);
  END;

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    role TEXT,
    message TEXT NOT NULL,
    data TEXT
  );
  CREATE INDEX events_kind_role ON events (kind, role, id);

  -- How far each inbox file has been ingested (bytes), saved with the database it was ingested into.
  -- ino/birth identify the file, so one replaced under the same name is read from its start.
  CREATE TABLE inbox_progress (
    file TEXT PRIMARY KEY,
    offset INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    birth REAL NOT NULL
  ) WITHOUT ROWID;

  -- Feedback that arrived before its run (written by another process, not ingested yet).
  CREATE TABLE pending_feedback (run_id TEXT PRIMARY KEY, verdict TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
  `,
  `
  -- Where each run came from (api, cli, inbox, gateway, chat); NULL for runs recorded before version 2.
  ALTER TABLE runs ADD COLUMN source TEXT;

  -- Signals observed after a run was recorded (learning/signals.ts): the latest of each kind from each source.
  -- Keyed by run id, not pk, so that one that arrives before its run waits here for it.
  CREATE TABLE run_signals (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    value REAL NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (run_id, kind, source)
  ) WITHOUT ROWID;
  `,
  `
  -- Where a run's texts are in .agent/texts/ (textSegments.ts), once its owner moved them out of run_texts at a
  -- save: the database then holds every run's numbers and signals, and only the texts not yet moved.
  CREATE TABLE run_text_refs (
    pk INTEGER PRIMARY KEY REFERENCES runs (pk),
    segment INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL
  );
  `,
  `
  -- A run's change to the workspace (learning/runChange.ts), observed by the editor after the run: held here, like a
  -- new run's texts, until the owner's next save moves it to .agent/texts/ (a record whose input is the files as
  -- JSON and whose output is the unified diff) and names it in run_change_refs.
  CREATE TABLE run_changes (
    pk INTEGER PRIMARY KEY REFERENCES runs (pk),
    at INTEGER NOT NULL,
    files TEXT NOT NULL,
    patch TEXT NOT NULL
  );
  CREATE TABLE run_change_refs (
    pk INTEGER PRIMARY KEY REFERENCES runs (pk),
    at INTEGER NOT NULL,
    segment INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL
  );
  `,
];

export type ArmKind = 'prompt' | 'model';

export interface ArmStats {
  arm: string;
  n: number;
  rewardSum: number;
  /** Σ reward², for the spread of the rewards. */
  rewardSq: number;
  costSum: number;
  /** Runs that reported a cost. */
  costN: number;
  durationSum: number;
}

/** The questions the rest of the core may ask the store; writes go through the durable store. */
export type StoreReader = Pick<
  Store,
  | 'getRun'
  | 'lastRunId'
  | 'maxPk'
  | 'recentRuns'
  | 'runPage'
  | 'runTexts'
  | 'lineage'
  | 'runChange'
  | 'signalsOf'
  | 'armStats'
  | 'windowArmStats'
  | 'latestRewards'
  | 'runsPerRole'
  | 'recentStats'
  | 'earlierAvgReward'
  | 'rewardSeries'
  | 'runsAfter'
  | 'rewardEditsSince'
  | 'countHighQuality'
  | 'countHighQualityStep'
  | 'countNewRoles'
  | 'rewards'
  | 'exportCandidates'
  | 'imageIsWatched'
  | 'imageCopiesHeld'
  | 'textsPendingAtLeast'
>;

export interface LearningEvent {
  id: number;
  at: number;
  kind: string;
  role: string | null;
  message: string;
  data: Record<string, unknown> | null;
}

export interface RecentRun {
  id: string;
  createdAt: number;
  taskSlug: string;
  role: string;
  modelId: string;
  promptId: string;
  reward: number;
  human: Verdict | null;
}

/** Which runs a page of the review queue holds; every field narrows it, none is required. */
export interface RunFilter {
  /** 'none': runs without a verdict. */
  verdict?: Verdict | 'none';
  role?: string;
  model?: string;
  prompt?: string;
  minReward?: number;
  maxReward?: number;
}

/**
 * 'newest': by recording order, newest first. 'uncertain': lowest confidence first, where confidence is how far
 * the reward its automatic signals gave is from 0.5 (a run at 0.5 is the one they say least about), newest first
 * among equals.
 */
export type RunOrder = 'newest' | 'uncertain';

/** Where the next page starts: the last run of this one (its pk, and for 'uncertain' its distance from 0.5). */
export interface RunCursor {
  pk: number;
  distance?: number;
}

export interface RunPage {
  runs: RecentRun[];
  /** Undefined on the last page. */
  next: RunCursor | undefined;
}

export interface ExportCandidate {
  pk: number;
  id: string;
  role: string;
  promptId: string;
  reward: number;
  /** Empty when `known` (see exportCandidates): the texts were not read. */
  input: string;
  output: string;
  /** True when the caller said it knows this run already (its texts never change): they were not read. */
  known: boolean;
}

export interface InboxProgress {
  offset: number;
  ino: number;
  birth: number;
}

/** Why a database could not be used as ours. */
export type OpenProblem = { kind: 'corrupt'; cause: unknown } | { kind: 'newer'; version: number };

/**
 * A role's high-quality runs after `afterPk`, kept in step with every insert and verdict (see countHighQuality).
 * Replaced, never mutated, so a transaction can restore the map it began with by a shallow copy.
 */
interface HighQualityTally {
  readonly minReward: number;
  readonly afterPk: number;
  readonly count: number;
}

/** A tally being counted a window of pks at a time (countHighQualityStep): `count` is of the runs up to `upToPk`. */
interface PartialTally extends HighQualityTally {
  readonly upToPk: number;
}

/** A run's reward changed (a verdict, a late signal): what sums kept over runs must move by. */
export interface RewardEdit {
  pk: number;
  role: string;
  before: number;
  after: number;
}

/** Reward edits kept for readers that follow them (learning/history.ts); one further behind reads the runs again. */
const MAX_REWARD_EDITS = 1024;

/** countHighQuality reads runs after the watermark by pk when at most this many follow it (a table read each). */
const COUNT_BY_PK_MAX = 5_000;

/** The questions kept per role (see Store.tallies); an older one asked again is counted again. */
const MAX_TALLIES_PER_ROLE = 4;

export class Store {
  private readonly statements = new Map<string, Statement>();
  /**
   * Per role, the latest answers of countHighQuality (no tier), kept right by insertRun and setVerdict: a few,
   * since auto-export and the stats ask from the last export and the automation from the last training.
   */
  private tallies = new Map<string, readonly HighQualityTally[]>();
  /** Per role, the count countHighQualityStep is taking, kept right by setVerdict like the tallies. */
  private partialTallies = new Map<string, PartialTally>();
  /** Set by countNewRoles: the `minReward` a role's count starts with at its first run. */
  private newRoleMinReward: number | undefined;
  private segments: TextSegments | undefined;
  /**
   * Texts of runs inserted since the last move to .agent/texts/, kept here rather than in table run_texts: sql.js
   * holds its file in WASM memory, which never shrinks, and grows that file by copying it whole; texts written there
   * only to be moved out a second later made every save copy, move and vacuum them (the database's pages freed,
   * the file cut, copied again). `export` puts those not moved by then into run_texts, so that an image holds every
   * text that .agent/texts/ does not. Keyed by pk, in insertion order (pk order).
   */
  private pendingTexts = new Map<number, TextRecord>();
  /** Pks added to pendingTexts inside the open transaction(s), taken out again if it rolls back. */
  private pendingInTransaction: number[] = [];
  private transactionDepth = 0;
  private onUnavailable: ((id: string, reason: string) => void) | undefined;
  /** The latest reward edits, oldest first; the last one is number `editCount` (see rewardEditsSince). */
  private edits: RewardEdit[] = [];
  private editCount = 0;

  private constructor(
    private readonly db: Database,
    /** sql.js's file of this database, watched so that a save need not export it (liveImage.ts). */
    private readonly live: LiveImage = LiveImage.none(),
  ) {}

  /**
   * Opens bytes (or a new empty database); reports a foreign/corrupt file or a newer schema instead of using it.
   * `verified`: the bytes are an image this store saved (they match experience.db.sum), so the integrity check, which
   * reads every page, is skipped. `room`: zeroed bytes that follow `bytes` in their buffer, loaded with them for the
   * database to grow into (imageRoom.ts).
   */
  static open(
    SQL: SqlJsStatic,
    bytes: Uint8Array | undefined,
    verified = false,
    room = 0,
  ): Store | OpenProblem {
    let db: Database | undefined;
    try {
      const loaded = bytes && room > 0 ? LiveImage.load(bytes, room) : undefined;
      db = new SQL.Database(loaded?.bytes ?? bytes);
      const appId = scalar(db, 'PRAGMA application_id');
      const version = scalar(db, 'PRAGMA user_version');
      const tables = scalar(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
      if (tables > 0 && appId !== APPLICATION_ID) {
        db.close();
        return { kind: 'corrupt', cause: new Error('not an Agent Learning database (foreign SQLite file)') };
      }
      if (version > SCHEMA_VERSION) {
        db.close();
        return { kind: 'newer', version };
      }
      if (bytes && bytes.length > 0 && !verified) {
        const check = db.exec('PRAGMA quick_check')[0]?.values[0]?.[0];
        if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
      }
      const store = new Store(db, loaded?.live ?? LiveImage.none());
      store.migrate(version);
      // Full auto-vacuum truncates the file at each commit that frees pages (no release of ours sets it; a file
      // edited by another tool may): such a file is exported at each save.
      if (scalar(db, 'PRAGMA auto_vacuum') === AUTO_VACUUM_FULL) store.live.detach();
      return store;
    } catch (cause) {
      db?.close();
      return { kind: 'corrupt', cause };
    }
  }

  private migrate(from: number): void {
    // The database lives in memory and durability comes from the inbox journal: an on-"disk" rollback journal
    // in sql.js's in-memory file system would only double every write.
    this.db.run('PRAGMA journal_mode = MEMORY');
    // No other connection ever opens this file (sql.js names each database's file afresh). In the default locking
    // mode SQLite takes and drops its file lock around every statement, and each time looks for a hot journal; that
    // look fails in sql.js's file system with a thrown JavaScript error. Kept locked: 8-10% off recordRun at 100k.
    this.db.run('PRAGMA locking_mode = EXCLUSIVE');
    this.db.run('PRAGMA foreign_keys = OFF');
    if (from === 0) {
      // An export of the image (sql.js's db.export(), what a save did before liveImage.ts and still does when the file
      // is not watched) costs by pages as much as by bytes: closing with a 33 MB image held the loop 59–61 ms in
      // 8 KiB pages, 83–91 ms in 4 KiB ones (16 KiB: no better, and an empty database twice the size). An existing
      // database keeps its page size (changing it takes a VACUUM of the whole file). Set first: auto_vacuum fixes it.
      this.db.run(`PRAGMA page_size = ${PAGE_SIZE}`);
      // Set before the first table, so that pages freed later (texts moved out) can be given back (releaseFreePages).
      this.db.run(`PRAGMA auto_vacuum = ${AUTO_VACUUM_INCREMENTAL}`);
    }
    for (let v = from; v < MIGRATIONS.length; v++) {
      this.transaction(() => {
        this.db.run(MIGRATIONS[v]!);
        this.db.run(`PRAGMA user_version = ${v + 1}`);
        this.db.run(`PRAGMA application_id = ${APPLICATION_ID}`);
      });
    }
  }

  close(): void {
    for (const s of this.statements.values()) s.free();
    this.statements.clear();
    this.db.close();
    this.live.close();
  }

  /** The whole database as a SQLite file image, with every text not yet in .agent/texts/ (see pendingTexts). */
  export(): Uint8Array {
    this.keepPendingTexts();
    return this.db.export();
  }

  /**
   * The image a save writes, as `export` gives it: taken from sql.js's file in slices while the database goes on
   * being written when that file is watched (liveImage.ts), otherwise exported in one piece.
   */
  imageToSave(): ImageToSave {
    this.keepPendingTexts();
    const { size, pages } = this.imageGeometry();
    return this.live.watching(size, pages) ? this.live.snapshot(size) : exportedImage(this.db.export());
  }

  /** Bytes a save taking the image in slices holds copied of blocks written meanwhile (liveImage.ts). */
  imageCopiesHeld(): number {
    return this.live.copiesHeld();
  }

  /** Resolves once a save taking the image holds at most `bytes` copied, or is over (liveImage.ts). */
  imageCopiesAtMost(bytes: number): Promise<void> {
    return this.live.copiesAtMost(bytes);
  }

  /** Whether a save now would take sql.js's file in slices (liveImage.ts) rather than export it. */
  imageIsWatched(): boolean {
    const { size, pages } = this.imageGeometry();
    return this.live.watching(size, pages);
  }

  /** The database's pages now, and the bytes they take: its image's size. */
  private imageGeometry(): { size: number; pages: number } {
    const pages = scalar(this.db, 'PRAGMA page_count');
    return { size: pages * scalar(this.db, 'PRAGMA page_size'), pages };
  }

  /** Runs a VACUUM or an incremental one: it may truncate the file, which sql.js then holds in a new array. */
  private vacuum(sql: string): void {
    this.live.detach();
    this.db.run(sql);
  }

  /** Puts the texts waiting for a move into table run_texts, where an image holds them. */
  private keepPendingTexts(): void {
    if (this.pendingTexts.size === 0) return;
    this.transaction(() => {
      for (const [pk, t] of this.pendingTexts) {
        this.run(
          'keepText',
          'INSERT INTO run_texts (pk, input, output) VALUES (?, ?, ?) ON CONFLICT (pk) DO NOTHING',
          [pk, t.input, t.output],
        );
      }
    });
    this.pendingTexts = new Map();
  }

  /** All or nothing; nests (savepoints), so a batch of inserts can wrap inserts that are atomic themselves. */
  transaction<T>(fn: () => T): T {
    const tallies = new Map(this.tallies);
    const partialTallies = new Map(this.partialTallies);
    const editCount = this.editCount;
    const pendingMark = this.pendingInTransaction.length;
    this.db.run('SAVEPOINT tx');
    this.transactionDepth++;
    try {
      const result = fn();
      this.db.run('RELEASE tx');
      return result;
    } catch (err) {
      this.db.run('ROLLBACK TO tx');
      this.db.run('RELEASE tx');
      for (const pk of this.pendingInTransaction.splice(pendingMark)) this.pendingTexts.delete(pk);
      this.tallies = tallies; // the rows are gone again, and so are their counts
      this.partialTallies = partialTallies;
      // and so are the edits made since; a reader that had seen one of them (none can: reads are synchronous
      // and outside) or that is further behind than the kept edits reads the runs again
      this.edits.splice(Math.max(0, this.edits.length - (this.editCount - editCount)));
      this.editCount = editCount;
      throw err;
    } finally {
      if (--this.transactionDepth === 0) this.pendingInTransaction = [];
    }
  }

  integrityCheck(): string {
    return String(this.db.exec('PRAGMA integrity_check')[0]?.values[0]?.[0]);
  }

  // ---- runs ----

  /**
   * Inserts a run unless its id is already there: true when inserted, false when the id was taken (the caller
   * decides whether that is a replay). Anything else that keeps the row out (a reward that is not a finite number,
   * a failed constraint) throws: a run is never dropped without a word.
   */
  insertRun(r: RunRecord): boolean {
    checkReward(r.id, r.reward);
    return this.transaction(() => this.insertRunRows(r));
  }

  private insertRunRows(r: RunRecord): boolean {
    // Only a taken id is ignored; `INSERT OR IGNORE` would also swallow a NOT NULL or CHECK failure.
    this.run(
      'insertRun',
      `INSERT INTO runs (id, created_at, task_slug, role, model_id, prompt_id, complexity, compile,
         tests_passed, tests_total, lint_errors, type_errors, schema_errors, boundary_errors, human, human_at,
         reward, cost_tokens, duration_ms, iterations, source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
      [
        r.id,
        r.createdAt,
        r.taskSlug,
        r.role,
        r.modelId,
        r.promptId,
        r.complexity,
        r.compile === null ? null : r.compile ? 1 : 0,
        r.testsPassed,
        r.testsTotal,
        r.lintErrors,
        r.typeErrors,
        r.schemaErrors,
        r.boundaryErrors,
        r.human,
        r.humanAt,
        r.reward,
        r.costTokens,
        r.durationMs,
        r.iterations,
        r.source ?? null,
      ],
    );
    if (this.db.getRowsModified() === 0) return false;
    const pk = this.one('lastPk', 'SELECT last_insert_rowid()', [])![0] as number;
    const kept = this.tallies.get(r.role);
    if (!kept && this.newRoleMinReward !== undefined && !this.partialTallies.has(r.role)) {
      // The role's first run (see countNewRoles): its count from the start is this run or none.
      const minReward = this.newRoleMinReward;
      this.tallies.set(r.role, [{ minReward, afterPk: 0, count: Number(r.reward >= minReward) }]);
    } else if (kept?.some((t) => r.reward >= t.minReward)) {
      this.moveTallies(r.role, pk, undefined, r.reward);
    }
    this.pendingTexts.set(pk, { pk, id: r.id, input: r.input, output: r.output });
    if (this.transactionDepth > 0) this.pendingInTransaction.push(pk);
    return true;
  }

  /** The run's signals (no texts), or undefined. */
  getRun(id: string): Omit<RunRecord, 'input' | 'output'> | undefined {
    const row = this.one(
      'getRun',
      `SELECT id, created_at, task_slug, role, model_id, prompt_id, complexity, compile, tests_passed, tests_total,
         lint_errors, type_errors, schema_errors, boundary_errors, human, human_at, reward, cost_tokens,
         duration_ms, iterations, source FROM runs WHERE id = ?`,
      [id],
    );
    if (!row) return undefined;
    return {
      id: row[0] as string,
      createdAt: row[1] as number,
      taskSlug: row[2] as string,
      role: row[3] as string,
      modelId: row[4] as string,
      promptId: row[5] as string,
      complexity: row[6] as Complexity | null,
      compile: row[7] === null ? null : row[7] === 1,
      testsPassed: row[8] as number | null,
      testsTotal: row[9] as number | null,
      lintErrors: row[10] as number | null,
      typeErrors: row[11] as number | null,
      schemaErrors: row[12] as number | null,
      boundaryErrors: row[13] as number | null,
      human: row[14] as Verdict | null,
      humanAt: row[15] as number | null,
      reward: row[16] as number,
      costTokens: row[17] as number | null,
      durationMs: row[18] as number | null,
      iterations: row[19] as number | null,
      source: row[20] as RunSource | null,
    };
  }

  /**
   * The run's input and output as stored, or undefined when there is no such run. Texts in .agent/texts/ that
   * cannot be read (a segment missing, truncated or corrupt) come back empty with the reason in `unavailable`.
   */
  runTexts(id: string): { input: string; output: string; unavailable?: string } | undefined {
    const row = this.one(
      'runTexts',
      `SELECT r.pk, t.input, t.output, x.segment, x.offset, x.length FROM runs r
       LEFT JOIN run_texts t ON t.pk = r.pk LEFT JOIN run_text_refs x ON x.pk = r.pk WHERE r.id = ?`,
      [id],
    );
    if (!row) return undefined;
    const pending = this.pendingTexts.get(row[0] as number);
    if (pending) return { input: pending.input, output: pending.output };
    const texts = this.textsOf(id, row, 1);
    return 'unavailable' in texts ? { input: '', output: '', unavailable: texts.unavailable } : texts;
  }

  /** The texts in `row` from column `at` on (input, output, segment, offset, length), from wherever they are. */
  private textsOf(
    id: string,
    row: SqlValue[],
    at: number,
    report = true,
  ): { input: string; output: string } | { unavailable: string } {
    if (row[at] !== null) return { input: row[at] as string, output: row[at + 1] as string };
    if (row[at + 2] === null) return { unavailable: 'no texts were stored for this run' };
    if (!this.segments)
      return { unavailable: 'its texts are in .agent/texts/, which this store does not read' };
    const ref = {
      segment: row[at + 2] as number,
      offset: row[at + 3] as number,
      length: row[at + 4] as number,
    };
    const texts = this.segments.read(ref, id);
    if (report && 'unavailable' in texts) this.onUnavailable?.(id, texts.unavailable);
    return texts;
  }

  /**
   * Whether the texts of an export candidate's row (pk, …, input at 5, segment, offset, length at 7) can still be
   * read, without reading them: a run an export remembers is left out, as one read afresh would be, once its
   * segment is missing or cut short.
   * `sizes`: the segments' sizes as already read for this page of runs (see exportCandidates).
   */
  private textsStillThere(r: SqlValue[], sizes?: Map<number, number>): boolean {
    if (r[5] !== null || this.pendingTexts.has(r[0] as number)) return true;
    if (r[7] === null || !this.segments) return false;
    return this.segments.holds(
      { segment: r[7] as number, offset: r[8] as number, length: r[9] as number },
      sizes,
    );
  }

  /** The first run's id and time: which database this is (a memo of its runs is no use to one begun afresh). */
  lineage(): string {
    const row = this.one('lineage', 'SELECT id, created_at FROM runs ORDER BY pk LIMIT 1', []);
    return row ? `${row[0] as string}@${row[1] as number}` : '';
  }

  /** Where texts moved out of the database are read from (see textSegments.ts), and who hears of one unreadable. */
  useTextSegments(segments: TextSegments, onUnavailable?: (id: string, reason: string) => void): void {
    this.segments = segments;
    this.onUnavailable = onUnavailable;
  }

  /** Whether at least `n` runs' texts are still in the database (a bounded look, not a count). */
  textsPendingAtLeast(n: number): boolean {
    if (this.pendingTexts.size >= n) return true;
    const offset = n - 1 - this.pendingTexts.size;
    return (
      this.one('textsPendingAtLeast', 'SELECT 1 FROM run_texts LIMIT 1 OFFSET ?', [offset]) !== undefined
    );
  }

  /** Texts still in the database, oldest first: what the owner moves to .agent/texts/ at its next save. */
  textsToMove(limit: number): TextRecord[] {
    // Those in run_texts first (an image saved before they could be moved), then those waiting in memory.
    const out = this.all(
      'textsToMove',
      'SELECT t.pk, r.id, t.input, t.output FROM run_texts t JOIN runs r ON r.pk = t.pk ORDER BY t.pk LIMIT ?',
      [limit],
    ).map((r) => ({ pk: r[0] as number, id: r[1] as string, input: r[2] as string, output: r[3] as string }));
    for (const t of this.pendingTexts.values()) {
      if (out.length >= limit) break;
      out.push(t);
    }
    return out;
  }

  /** Names where each run's texts now are, and drops them from the database (already moved ones are skipped). */
  textsMoved(refs: ReadonlyMap<number, TextRef>): void {
    this.transaction(() => {
      for (const [pk, ref] of refs) {
        if (this.pendingTexts.has(pk)) {
          this.run(
            'insertPendingTextRef',
            'INSERT INTO run_text_refs (pk, segment, offset, length) VALUES (?, ?, ?, ?) ON CONFLICT (pk) DO NOTHING',
            [pk, ref.segment, ref.offset, ref.length],
          );
          continue;
        }
        this.run(
          'insertTextRef',
          `INSERT INTO run_text_refs (pk, segment, offset, length) SELECT ?1, ?2, ?3, ?4
           WHERE EXISTS (SELECT 1 FROM run_texts WHERE pk = ?1) ON CONFLICT (pk) DO NOTHING`,
          [pk, ref.segment, ref.offset, ref.length],
        );
        this.run('deleteText', 'DELETE FROM run_texts WHERE pk = ?', [pk]);
      }
    });
    for (const pk of refs.keys()) this.pendingTexts.delete(pk); // once the rows naming them are in
  }

  /**
   * Keeps a run's change unless one as new or newer is stored (a journal replayed after a crash brings it again).
   * False when the run is not stored or nothing changed.
   */
  setChange(runId: string, change: RunChange): boolean {
    const row = this.one(
      'changeAt',
      `SELECT r.pk, COALESCE(c.at, x.at) FROM runs r LEFT JOIN run_changes c ON c.pk = r.pk
       LEFT JOIN run_change_refs x ON x.pk = r.pk WHERE r.id = ?`,
      [runId],
    );
    if (!row || (row[1] !== null && (row[1] as number) >= change.at)) return false;
    const pk = row[0] as number;
    this.transaction(() => {
      this.run('dropChangeRef', 'DELETE FROM run_change_refs WHERE pk = ?', [pk]);
      this.run(
        'upsertChange',
        `INSERT INTO run_changes (pk, at, files, patch) VALUES (?, ?, ?, ?)
         ON CONFLICT (pk) DO UPDATE SET at = excluded.at, files = excluded.files, patch = excluded.patch`,
        [pk, change.at, JSON.stringify(change.files), wellFormed(change.patch)],
      );
    });
    return true;
  }

  /**
   * The run's change, `{ unavailable }` with the reason when its record in .agent/texts/ cannot be read, or
   * undefined when the run has none (or there is no such run).
   */
  runChange(id: string): RunChange | { at: number; unavailable: string } | undefined {
    const row = this.one(
      'runChange',
      `SELECT c.files, c.patch, x.segment, x.offset, x.length, COALESCE(c.at, x.at) FROM runs r
       LEFT JOIN run_changes c ON c.pk = r.pk LEFT JOIN run_change_refs x ON x.pk = r.pk WHERE r.id = ?`,
      [id],
    );
    if (!row || row[5] === null) return undefined;
    const at = row[5] as number;
    // Said in the run view, which asks; the log's line about unreadable texts is about a run's input and output.
    const texts = this.textsOf(id, row, 0, false);
    if ('unavailable' in texts) return { at, unavailable: texts.unavailable };
    try {
      return { at, files: JSON.parse(texts.input) as RunChange['files'], patch: texts.output };
    } catch {
      return { at, unavailable: 'its list of files cannot be read' };
    }
  }

  /** Changes still in the database, oldest first, as records for .agent/texts/ (input: files, output: diff). */
  changesToMove(limit: number): (TextRecord & { at: number })[] {
    return this.all(
      'changesToMove',
      'SELECT c.pk, r.id, c.files, c.patch, c.at FROM run_changes c JOIN runs r ON r.pk = c.pk ORDER BY c.pk LIMIT ?',
      [limit],
    ).map((r) => ({
      pk: r[0] as number,
      id: r[1] as string,
      input: r[2] as string,
      output: r[3] as string,
      at: r[4] as number,
    }));
  }

  /** Names where each change now is, unless a newer one replaced it meanwhile (that one is moved next time). */
  changesMoved(refs: ReadonlyMap<number, TextRef>, moved: readonly { pk: number; at: number }[]): void {
    this.transaction(() => {
      for (const { pk, at } of moved) {
        const ref = refs.get(pk);
        if (!ref) continue;
        this.run(
          'insertChangeRef',
          `INSERT INTO run_change_refs (pk, at, segment, offset, length) SELECT ?1, ?2, ?3, ?4, ?5
           WHERE EXISTS (SELECT 1 FROM run_changes WHERE pk = ?1 AND at = ?2) ON CONFLICT (pk) DO NOTHING`,
          [pk, at, ref.segment, ref.offset, ref.length],
        );
        this.run('deleteMovedChange', 'DELETE FROM run_changes WHERE pk = ? AND at = ?', [pk, at]);
      }
    });
  }

  /**
   * Whether the free pages are worth giving back now: a database without incremental auto-vacuum (releaseFreePages
   * converts it once), or free pages that are FREE_PAGES_RELEASED of the file or more (and, while the file is watched,
   * WATCHED_FREE_BYTES_RELEASED or more). Each give-back truncates the
   * file, and sql.js's file system copies the whole image to shrink it (20 ms and the image's size again in memory at
   * 100k runs, ten times that at 1M), while SQLite reuses free pages for whatever it writes next. So a few free pages
   * (those of two indexes dropped, 15% at 100k runs) wait to be reused; many (texts moved out of a database from
   * before version 3) are given back.
   */
  freePagesWorthReleasing(): boolean {
    try {
      if (scalar(this.db, 'PRAGMA auto_vacuum') !== AUTO_VACUUM_INCREMENTAL) return true;
      const free = scalar(this.db, 'PRAGMA freelist_count');
      const { size, pages } = this.imageGeometry();
      if (free === 0 || free < FREE_PAGES_RELEASED * pages) return false;
      // A watched file (liveImage.ts) stops being watched once truncated: every later save of this session exports
      // the whole image, and sql.js copies it to grow it. A small database with the texts of the runs a save kept
      // (an import's first saves) got there; the runs that follow fill those pages again.
      return !this.live.watching(size, pages) || free * (size / pages) >= WATCHED_FREE_BYTES_RELEASED;
    } catch {
      return false;
    }
  }

  /**
   * Gives back at most `pages` free pages (incremental vacuum), so that a big release can be taken in slices; a
   * database without incremental auto-vacuum gets the whole VACUUM of releaseFreePages at once. 'more': free pages
   * are left.
   */
  releaseSomeFreePages(pages: number): 'more' | 'done' | 'failed' {
    try {
      if (scalar(this.db, 'PRAGMA auto_vacuum') !== AUTO_VACUUM_INCREMENTAL)
        return this.releaseFreePages() ? 'done' : 'failed';
      if (scalar(this.db, 'PRAGMA freelist_count') === 0) return 'done';
      this.vacuum(`PRAGMA incremental_vacuum(${Math.max(1, Math.floor(pages))})`);
      return scalar(this.db, 'PRAGMA freelist_count') > 0 ? 'more' : 'done';
    } catch {
      return 'failed';
    }
  }

  /**
   * Gives back the pages that texts moved out left free: sql.js saves every page, free or not. A database from
   * before version 3 is rebuilt once (VACUUM) to give pages back from then on. False when it could not be done now
   * (a statement is still reading); the next save tries again.
   */
  releaseFreePages(): boolean {
    try {
      if (scalar(this.db, 'PRAGMA auto_vacuum') === AUTO_VACUUM_INCREMENTAL) {
        if (scalar(this.db, 'PRAGMA freelist_count') > 0) this.vacuum('PRAGMA incremental_vacuum');
      } else {
        for (const s of this.statements.values()) s.free();
        this.statements.clear();
        this.db.run(`PRAGMA auto_vacuum = ${AUTO_VACUUM_INCREMENTAL}`);
        this.vacuum('VACUUM');
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A database made in smaller pages (before PAGE_SIZE became the default) is rebuilt in PAGE_SIZE pages while it is
   * at most `maxBytes`: a VACUUM of 1 MiB takes about 10 ms, of 35 MB well over 100. True when it was rebuilt; the
   * caller saves it. False when it needs nothing, is too large, or could not be rebuilt now.
   */
  adoptPageSize(maxBytes: number): boolean {
    try {
      const pageSize = scalar(this.db, 'PRAGMA page_size');
      if (pageSize >= PAGE_SIZE || pageSize * scalar(this.db, 'PRAGMA page_count') > maxBytes) return false;
      for (const s of this.statements.values()) s.free();
      this.statements.clear();
      this.db.run(`PRAGMA page_size = ${PAGE_SIZE}`);
      this.vacuum('VACUUM');
      return scalar(this.db, 'PRAGMA page_size') === PAGE_SIZE;
    } catch {
      return false;
    }
  }

  /**
   * Drops one of INDEXES_NOT_NEEDED, if the database still has one: true when it did (the caller saves, and lets the
   * event loop run before the next: a drop walks the index's pages, 3-30 ms at 100k runs). Not a schema version: the
   * tables are the same, and a release that still has the index in its schema opens the database as before.
   */
  dropIndexNotNeeded(): boolean {
    const left = this.all(
      'indexesNotNeeded',
      `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'runs' AND name IN (${INDEXES_NOT_NEEDED.map(() => '?').join(', ')})`,
      INDEXES_NOT_NEEDED,
    );
    const name = left[0]?.[0] as string | undefined;
    if (name === undefined) return false;
    try {
      // Statements prepared before are prepared again by SQLite at their next use (the schema changed).
      this.db.run(`DROP INDEX IF EXISTS ${name}`);
      return true;
    } catch {
      return false; // kept: the queries do not need it, and one that is there costs only room
    }
  }

  /**
   * Rebuilds the whole database (VACUUM) in PAGE_SIZE pages with incremental auto-vacuum: every page full, none free,
   * each index written in key order (a third smaller than one grown run by run). Holds the event loop about a second
   * at 100k runs: for `agent-learning compact`, which runs outside the editor.
   */
  rebuild(): void {
    for (const st of this.statements.values()) st.free();
    this.statements.clear();
    this.db.run(`PRAGMA page_size = ${PAGE_SIZE}`);
    this.db.run(`PRAGMA auto_vacuum = ${AUTO_VACUUM_INCREMENTAL}`);
    this.vacuum('VACUUM');
  }

  /** `verdict` null clears it; `at` is kept, so that a verdict older than the clearing does not come back. */
  setVerdict(id: string, verdict: Verdict | null, at: number, reward: number): void {
    checkReward(id, reward);
    this.rewardEdited(id, reward);
    this.run('setVerdict', 'UPDATE runs SET human = ?, human_at = ?, reward = ? WHERE id = ?', [
      verdict,
      at,
      reward,
      id,
    ]);
  }

  /** A reward recomputed after a late signal; the arm sums follow (trigger runs_after_reward). */
  setReward(id: string, reward: number): void {
    checkReward(id, reward);
    // A late signal can move a run across autoExport.minReward, like a verdict.
    this.rewardEdited(id, reward);
    this.run('setReward', 'UPDATE runs SET reward = ? WHERE id = ?', [reward, id]);
  }

  /** Run `id`'s reward becomes `reward`: the high-quality tallies follow, and the edit is kept for readers. */
  private rewardEdited(id: string, reward: number): void {
    const row = this.one('rewardOf', 'SELECT pk, role, reward FROM runs WHERE id = ?', [id]);
    if (!row) return;
    const [pk, role, before] = row as [number, string, number];
    this.moveTallies(role, pk, before, reward);
    if (before === reward) return;
    this.edits.push({ pk, role, before, after: reward });
    this.editCount++;
    if (this.edits.length > MAX_REWARD_EDITS) this.edits.splice(0, this.edits.length - MAX_REWARD_EDITS / 2);
  }

  addPendingFeedback(runId: string, verdict: Verdict, at: number): void {
    this.run(
      'addPending',
      `INSERT INTO pending_feedback (run_id, verdict, at) VALUES (?, ?, ?)
       ON CONFLICT (run_id) DO UPDATE SET verdict = excluded.verdict, at = excluded.at WHERE excluded.at >= at`,
      [runId, verdict, at],
    );
  }

  takePendingFeedback(runId: string): { verdict: Verdict; at: number } | undefined {
    const row = this.one('getPending', 'SELECT verdict, at FROM pending_feedback WHERE run_id = ?', [runId]);
    if (!row) return undefined;
    this.run('deletePending', 'DELETE FROM pending_feedback WHERE run_id = ?', [runId]);
    return { verdict: row[0] as Verdict, at: row[1] as number };
  }

  /** Run `pk` of `role` now has reward `after` (`before`: undefined for a new run): each count it is in follows. */
  private moveTallies(role: string, pk: number, before: number | undefined, after: number): void {
    const partial = this.partialTallies.get(role);
    // A new run's pk is past every window counted: the next window reads it. An edited run is counted already
    // when its pk is in the windows read.
    if (partial && pk > partial.afterPk && pk <= partial.upToPk) {
      const delta =
        Number(after >= partial.minReward) - Number(before !== undefined && before >= partial.minReward);
      if (delta !== 0) this.partialTallies.set(role, { ...partial, count: partial.count + delta });
    }
    const kept = this.tallies.get(role);
    if (!kept) return;
    this.tallies.set(
      role,
      kept.map((t) => {
        if (pk <= t.afterPk) return t;
        const delta = Number(after >= t.minReward) - Number(before !== undefined && before >= t.minReward);
        return delta === 0 ? t : { ...t, count: t.count + delta };
      }),
    );
  }

  /** Drops verdicts for runs that never arrived (a mistyped id), once older than `before`. */
  prunePendingFeedback(before: number): void {
    this.run('prunePending', 'DELETE FROM pending_feedback WHERE at < ?', [before]);
  }

  // ---- observed signals ----

  /** Keeps the signal unless a later one of its kind from its source is stored: true when it was kept. */
  upsertSignal(runId: string, s: ObservedSignal): boolean {
    this.run(
      'upsertSignal',
      `INSERT INTO run_signals (run_id, kind, source, value, at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (run_id, kind, source) DO UPDATE SET value = excluded.value, at = excluded.at
       WHERE excluded.at >= at`,
      [runId, s.kind, s.source, s.value, s.at],
    );
    return this.db.getRowsModified() > 0;
  }

  /** A run's observed signals (also of a run not stored yet), oldest first. */
  signalsOf(runId: string): ObservedSignal[] {
    return this.all(
      'signalsOf',
      'SELECT kind, value, source, at FROM run_signals WHERE run_id = ? ORDER BY at, kind, source',
      [runId],
    ).map((r) => ({
      kind: r[0] as SignalKind,
      value: r[1] as number,
      source: r[2] as string,
      at: r[3] as number,
    }));
  }

  /** Drops signals for runs that never arrived (a mistyped id), once older than `before`. */
  pruneOrphanSignals(before: number): void {
    this.run(
      'pruneSignals',
      'DELETE FROM run_signals WHERE at < ? AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = run_signals.run_id)',
      [before],
    );
  }

  lastRunId(): string | undefined {
    return this.one('lastRun', 'SELECT id FROM runs ORDER BY pk DESC LIMIT 1', [])?.[0] as string | undefined;
  }

  maxPk(): number {
    return (this.one('maxPk', 'SELECT COALESCE(MAX(pk), 0) FROM runs', [])?.[0] as number) ?? 0;
  }

  recentRuns(limit: number): RecentRun[] {
    return this.all(
      'recentRuns',
      `SELECT id, created_at, task_slug, role, model_id, prompt_id, reward, human FROM runs
       ORDER BY pk DESC LIMIT ?`,
      [limit],
    ).map((r) => runRow(r, 0));
  }

  /**
   * A page of runs matching `filter`, in `order`, after `cursor` (keyset paging: a page reads from where the last
   * one stopped, never an OFFSET). 'newest' walks pk backwards, through a (role, …, pk) index when a role, model or
   * prompt is filtered (a model or prompt of every role: a branch per role, see perRole), so a page reads about
   * `limit` rows (a role) plus those the other filters skip. 'uncertain' has no
   * index to follow (reward's distance from 0.5): each page is a top-`limit` pass over the runs the filters select.
   */
  runPage(filter: RunFilter, order: RunOrder, limit: number, cursor?: RunCursor): RunPage {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const add = (clause: string, value: SqlValue) => {
      where.push(clause);
      params.push(value);
    };
    if (filter.role !== undefined) add('role = ?', filter.role);
    if (filter.model !== undefined) add('model_id = ?', filter.model);
    if (filter.prompt !== undefined) add('prompt_id = ?', filter.prompt);
    if (filter.verdict === 'none') where.push('human IS NULL');
    else if (filter.verdict !== undefined) add('human = ?', filter.verdict);
    if (filter.minReward !== undefined) add('reward >= ?', filter.minReward);
    if (filter.maxReward !== undefined) add('reward <= ?', filter.maxReward);
    const distance = 'abs(reward - 0.5)';
    if (cursor && order === 'newest') add('pk < ?', cursor.pk);
    if (cursor && order === 'uncertain') {
      where.push(`(${distance} > ? OR (${distance} = ? AND pk < ?))`);
      params.push(cursor.distance ?? 0, cursor.distance ?? 0, cursor.pk);
    }
    const select = `SELECT pk, ${distance} AS distance, id, created_at, task_slug, role, model_id, prompt_id, reward, human
      FROM runs`;
    // A model or a prompt of every role: a branch per role through its (role, model|prompt, pk) index, which reads
    // that arm's runs only (newest first: a page of them).
    const arm: [ArmKind, string] | undefined =
      filter.model !== undefined
        ? ['model', filter.model]
        : filter.prompt !== undefined
          ? ['prompt', filter.prompt]
          : undefined;
    const roles = filter.role === undefined && arm ? this.rolesWith(...arm) : undefined;
    const orderBy = order === 'newest' ? 'pk DESC' : 'distance ASC, pk DESC';
    let sql: string;
    let bound: SqlValue[];
    if (roles?.length === 0) {
      sql = `${select} WHERE 0`;
      bound = [];
    } else if (roles && roles.length <= PER_ROLE_MAX) {
      sql = perRole(`${select} WHERE ${['role = ?', ...where].join(' AND ')}`, roles.length, orderBy);
      bound = [...roles.flatMap((r) => [r, ...params, limit + 1]), limit + 1];
    } else {
      sql = `${select} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${orderBy} LIMIT ?`;
      bound = [...params, limit + 1];
    }
    // One prepared statement per shape of query (which filters, which order): a handful, not one per value.
    const rows = this.all(`runPage:${sql}`, sql, bound);
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      runs: page.map((r) => runRow(r, 2)),
      next:
        more && last
          ? { pk: last[0] as number, ...(order === 'uncertain' ? { distance: last[1] as number } : {}) }
          : undefined,
    };
  }

  // ---- aggregates ----

  /** Arm sums for a kind; for one role or summed over roles; for models, one tier plus untiered runs. */
  armStats(kind: ArmKind, role: string | undefined, tier?: string): ArmStats[] {
    const tierClause = tier === undefined ? '' : `AND tier IN (?, '*')`;
    const roleClause = role === undefined ? '' : 'AND role = ?';
    const params: SqlValue[] = [kind];
    if (role !== undefined) params.push(role);
    if (tier !== undefined) params.push(tier);
    return this.all(
      `armStats:${role === undefined}:${tier === undefined}`,
      `SELECT arm, SUM(n), SUM(reward_sum), SUM(reward_sq), SUM(cost_sum), SUM(cost_n), SUM(duration_sum) FROM arm_stats
       WHERE kind = ? ${roleClause} ${tierClause} GROUP BY arm ORDER BY arm`,
      params,
    ).map((r) => toArmStats(r[0] as string, r.slice(1)));
  }

  /**
   * Sums over each arm's own last `window` runs (of one role, or all; for models, of one tier plus untiered runs).
   * Each arm reads at most `window` rows through its (role, arm, pk) index: O(arms × window), never O(runs).
   */
  windowArmStats(
    kind: ArmKind,
    role: string | undefined,
    tier: string | undefined,
    window: number,
    arms: readonly string[],
  ): ArmStats[] {
    const out: ArmStats[] = [];
    for (const arm of arms) {
      const latest = this.armRuns(kind, role, tier, arm, 'pk, reward, cost_tokens, duration_ms', window);
      const r = this.one(
        `windowArmStats:${latest.name}`,
        `SELECT COUNT(*), COALESCE(SUM(reward), 0), COALESCE(SUM(reward * reward), 0),
           COALESCE(SUM(cost_tokens), 0), COUNT(cost_tokens), COALESCE(SUM(duration_ms), 0) FROM (${latest.sql})`,
        latest.params,
      )!;
      if ((r[0] as number) === 0) continue;
      out.push(toArmStats(arm, r));
    }
    return out;
  }

  /**
   * An arm's latest `limit` runs, newest first, as a subquery selecting `columns` (pk among them): of one role
   * through its (role, arm, pk) index, of all roles a branch per role that has the arm (perRole).
   */
  private armRuns(
    kind: ArmKind,
    role: string | undefined,
    tier: string | undefined,
    arm: string,
    columns: string,
    limit: number,
  ): { name: string; sql: string; params: SqlValue[] } {
    const shape = `${kind}:${tier === undefined}`;
    const where = armRunsWhere(kind, 'one', tier);
    const params = (r: string) => armRunsParams(arm, r, tier);
    if (role !== undefined) {
      return {
        name: `${shape}:role`,
        sql: `SELECT ${columns} FROM runs WHERE ${where} ORDER BY pk DESC LIMIT ?`,
        params: [...params(role), limit],
      };
    }
    const roles = this.rolesWith(kind, arm);
    if (roles.length === 0)
      return { name: `${shape}:none`, sql: `SELECT ${columns} FROM runs WHERE 0`, params: [] };
    if (roles.length > PER_ROLE_MAX) {
      return {
        name: `${shape}:all`,
        sql: `SELECT ${columns} FROM runs WHERE ${armRunsWhere(kind, undefined, tier)} ORDER BY pk DESC LIMIT ?`,
        params: [...armRunsParams(arm, undefined, tier), limit],
      };
    }
    return {
      name: `${shape}:${roles.length}`,
      sql: perRole(`SELECT ${columns} FROM runs WHERE ${where}`, roles.length),
      params: [...roles.flatMap((r) => [...params(r), limit]), limit],
    };
  }

  /** The roles with runs of `arm` (of a kind), from the arm sums: O(arms), never O(runs). */
  private rolesWith(kind: ArmKind, arm: string): string[] {
    return this.all(
      'rolesWith',
      'SELECT DISTINCT role FROM arm_stats WHERE kind = ? AND arm = ? ORDER BY role',
      [kind, arm],
    ).map((r) => r[0] as string);
  }

  /** One arm's latest `limit` rewards, newest first (selected like windowArmStats: bounded by its index). */
  latestRewards(
    kind: ArmKind,
    role: string | undefined,
    tier: string | undefined,
    arm: string,
    limit: number,
  ): number[] {
    const latest = this.armRuns(kind, role, tier, arm, 'pk, reward', limit);
    return this.all(
      `latestRewards:${latest.name}`,
      `SELECT reward FROM (${latest.sql}) ORDER BY pk DESC`,
      latest.params,
    ).map((r) => r[0] as number);
  }

  /** Run counts per role, from the arm sums (O(arms)). */
  runsPerRole(): Map<string, number> {
    return new Map(
      this.all(
        'runsPerRole',
        "SELECT role, SUM(n) FROM arm_stats WHERE kind = 'prompt' GROUP BY role",
        [],
      ).map((r) => [r[0] as string, r[1] as number]),
    );
  }

  /** The latest `limit` runs' averages; `costCount`/`durationCount`: how many reported one (0: the average is 0). */
  recentStats(limit: number): {
    count: number;
    avgReward: number;
    avgCost: number;
    avgDuration: number;
    costCount: number;
    durationCount: number;
  } {
    const r = this.one(
      'recentStats',
      `SELECT COUNT(*), AVG(reward), AVG(cost_tokens), AVG(duration_ms), COUNT(cost_tokens), COUNT(duration_ms)
       FROM (SELECT reward, cost_tokens, duration_ms FROM runs ORDER BY pk DESC LIMIT ?)`,
      [limit],
    )!;
    return {
      count: r[0] as number,
      avgReward: (r[1] as number | null) ?? 0,
      avgCost: (r[2] as number | null) ?? 0,
      avgDuration: (r[3] as number | null) ?? 0,
      costCount: r[4] as number,
      durationCount: r[5] as number,
    };
  }

  /** Average reward of the `limit` runs before the most recent `skip`; null when there are none. */
  earlierAvgReward(skip: number, limit: number): number | null {
    const r = this.one(
      'earlierAvg',
      'SELECT COUNT(*), AVG(reward) FROM (SELECT reward FROM runs ORDER BY pk DESC LIMIT ? OFFSET ?)',
      [limit, skip],
    )!;
    return (r[0] as number) < limit ? null : (r[1] as number);
  }

  /**
   * A role's rewards in run order, averaged over buckets of `bucket` runs: the last run number and time of each
   * bucket and its mean reward. Only these points leave the store, so a long history reaches a chart as a few
   * hundred points.
   */
  rewardSeries(role: string, bucket: number): { run: number; at: number; reward: number }[] {
    // One pass over the role's runs in order, bucketed here: the same result as grouping SQLite's
    // ROW_NUMBER() OVER (ORDER BY pk) by (rn - 1) / size, in a third of the time (about 60 ms against 175 ms for
    // 100,000 runs in sql.js), and the dashboard's first render waits for it.
    const size = Math.max(1, Math.floor(bucket));
    const stmt = this.prepared(
      'rewardSeries',
      'SELECT created_at, reward FROM runs WHERE role = ? ORDER BY pk',
    );
    const series: { run: number; at: number; reward: number }[] = [];
    let run = 0;
    let sum = 0;
    let at = -Infinity;
    try {
      stmt.bind(bindable([role]));
      while (stmt.step()) {
        const [createdAt, reward] = stmt.get() as [number, number];
        run++;
        sum += reward;
        if (createdAt > at) at = createdAt;
        if (run % size === 0) {
          series.push({ run, at, reward: sum / size });
          sum = 0;
          at = -Infinity;
        }
      }
    } finally {
      stmt.reset();
    }
    if (run % size !== 0) series.push({ run, at, reward: sum / (run % size) });
    return series;
  }

  /** Up to `limit` runs after run `afterPk`, in order, as much of each as a chart over run order needs. */
  runsAfter(
    afterPk: number,
    limit: number,
  ): { pk: number; at: number; role: string; modelId: string; promptId: string; reward: number }[] {
    return this.all(
      'runsAfter',
      'SELECT pk, created_at, role, model_id, prompt_id, reward FROM runs WHERE pk > ? ORDER BY pk LIMIT ?',
      [afterPk, limit],
    ).map((r) => ({
      pk: r[0] as number,
      at: r[1] as number,
      role: r[2] as string,
      modelId: r[3] as string,
      promptId: r[4] as string,
      reward: r[5] as number,
    }));
  }

  /**
   * The reward edits (verdicts, late signals) after the first `seen` this store made, oldest first, and how many it
   * made; `edits` is undefined when some of those are no longer kept, and the reader must read the runs again.
   */
  rewardEditsSince(seen: number): { count: number; edits: readonly RewardEdit[] | undefined } {
    const first = this.editCount - this.edits.length;
    const kept = seen >= first && seen <= this.editCount;
    return { count: this.editCount, edits: kept ? this.edits.slice(seen - first) : undefined };
  }

  /**
   * High-quality runs of a role (of one complexity tier, when given) recorded after run `afterPk`. Without a tier
   * the answer is kept per role and updated by every insert and verdict, so asking again with the same
   * `minReward` and `afterPk` (auto-export and the stats do, after each run) reads no rows: only a new question
   * (the first, a new export's watermark, a new `autoExport.minReward`) counts, through the (role, pk) index.
   */
  countHighQuality(role: string, minReward: number, afterPk: number, tier?: string): number {
    if (tier === undefined) {
      const kept = this.tallies.get(role) ?? [];
      const same = kept.find((t) => t.minReward === minReward && t.afterPk === afterPk);
      if (same) return same.count;
      // Asked before countHighQualityStep is through: the rest is counted now.
      const partial = this.partialTallies.get(role);
      const begun = partial?.minReward === minReward && partial.afterPk === afterPk ? partial : undefined;
      if (begun) this.partialTallies.delete(role);
      const count = (begun?.count ?? 0) + this.countAfter(role, minReward, afterPk, begun);
      this.keepTally(role, { minReward, afterPk, count });
      return count;
    }
    return this.one(
      'countHqTier',
      'SELECT COUNT(*) FROM runs WHERE role = ? AND pk > ? AND reward >= ? AND complexity = ?',
      [role, afterPk, minReward, tier],
    )![0] as number;
  }

  /**
   * Takes countHighQuality's count (no tier) through at most `windowPks` more pks of the role, for a caller that
   * spreads a count too long for one turn of the event loop over several: 50k pks of a role took 10 ms at 1M runs,
   * where the count in one query took 65–77 ms. Runs recorded and rewards changed between steps are counted right.
   * True once the answer is kept (countHighQuality then reads no rows).
   */
  countHighQualityStep(role: string, minReward: number, afterPk: number, windowPks: number): boolean {
    if (this.tallies.get(role)?.some((t) => t.minReward === minReward && t.afterPk === afterPk)) return true;
    const partial = this.partialTallies.get(role);
    const begun = partial?.minReward === minReward && partial.afterPk === afterPk ? partial : undefined;
    const from = begun?.upToPk ?? afterPk;
    const last = this.maxPk();
    const upToPk = Math.min(last, from + windowPks);
    const count =
      (begun?.count ?? 0) +
      (this.one(
        'countHqWindow',
        'SELECT COUNT(*) FROM runs WHERE role = ? AND pk > ? AND pk <= ? AND +reward >= ?',
        [role, from, upToPk, minReward],
      )![0] as number);
    if (upToPk < last) {
      this.partialTallies.set(role, { minReward, afterPk, count, upToPk });
      return false;
    }
    this.partialTallies.delete(role);
    this.keepTally(role, { minReward, afterPk, count });
    return true;
  }

  /**
   * The high-quality runs of a role after `afterPk`, counted by a query; only those after its windows when a count by
   * windows is `begun`.
   */
  private countAfter(role: string, minReward: number, afterPk: number, begun?: PartialTally): number {
    // Read through (role, pk), a table read each, when few runs follow: after a recent export, or when the windows
    // read took most of the count (by the share of high-quality runs they met: a run read by pk costs about what two
    // read in the (role, reward) range do). Otherwise that range reads every high-quality run of the role, 10 ms a
    // role at 100k runs even when a handful came after the export, and the tallies are counted at every open.
    const from = begun?.upToPk ?? afterPk;
    const last = this.maxPk();
    const metPerPk = begun && from > afterPk ? begun.count / (from - afterPk) : 0;
    const byPk = last - from <= COUNT_BY_PK_MAX || (last - from) * 2 <= metPerPk * (last - afterPk);
    return this.one(
      byPk ? 'countHqRecent' : 'countHq',
      `SELECT COUNT(*) FROM runs WHERE role = ? AND pk > ? AND ${byPk ? '+reward' : 'reward'} >= ?`,
      [role, from, minReward],
    )![0] as number;
  }

  private keepTally(role: string, tally: HighQualityTally): void {
    this.tallies.set(role, [tally, ...(this.tallies.get(role) ?? [])].slice(0, MAX_TALLIES_PER_ROLE));
  }

  /**
   * From now on, a role's first run starts its high-quality count (for `minReward`, after pk 0), so a new role is
   * not counted by a query either. The caller has asked countHighQuality for every role stored before.
   */
  countNewRoles(minReward: number): void {
    this.newRoleMinReward = minReward;
  }

  /**
   * Rewards of a role's runs, oldest first, for drift detection: one model's (or every model's when `model` is
   * undefined), of one complexity tier or all; the first `limit` after `afterPk`, or the last `limit` up to `atMostPk`.
   */
  rewards(
    role: string,
    model: string | undefined,
    tier: string | undefined,
    range: { afterPk: number; limit: number } | { atMostPk: number; limit: number },
  ): number[] {
    const after = 'afterPk' in range;
    // Numbered parameters: each value is bound once however often the statement uses it.
    const rows = this.all(
      `rewards:${after ? 'after' : 'upto'}`,
      `SELECT reward FROM runs WHERE role = ?1 AND (?2 IS NULL OR model_id = ?2) AND (?3 IS NULL OR complexity = ?3)
       AND ${after ? 'pk > ?4 ORDER BY pk ASC' : 'pk <= ?4 ORDER BY pk DESC'} LIMIT ?5`,
      [role, model ?? null, tier ?? null, after ? range.afterPk : range.atMostPk, range.limit],
    ).map((r) => r[0] as number);
    return after ? rows : rows.reverse();
  }

  /**
   * High-quality runs of a role, best first (ties: newest first), with their texts. A run whose input or output was
   * cut to `storage.maxTextBytes` is left out: half a text and a marker would teach a model the wrong thing.
   * Read a page at a time, holding no statement between pages, so a consumer may pause between candidates (a sliced
   * export) while runs are recorded: only runs up to `atMostPk` (default: the last one now) are candidates. A run
   * whose reward changes meanwhile may be met twice or missed; the export's duplicate check covers the first.
   */
  *exportCandidates(
    role: string,
    minReward: number,
    tier?: string,
    atMostPk = this.maxPk(),
    /** Start after this candidate (its reward and pk): a page read on another Store picks up where one left off. */
    startAfter?: [number, number],
    /** Runs whose texts the caller has from an earlier export: yielded `known`, without reading them again. */
    known?: (pk: number, id: string) => boolean,
  ): Generator<ExportCandidate> {
    const columns = `SELECT r.pk, r.id, r.role, r.prompt_id, r.reward, t.input, t.output, x.segment, x.offset, x.length
       FROM runs r LEFT JOIN run_texts t ON t.pk = r.pk LEFT JOIN run_text_refs x ON x.pk = r.pk
       WHERE r.role = ?1 AND r.reward >= ?2 AND (?3 IS NULL OR r.complexity = ?3) AND r.pk <= ?4`;
    const order = `ORDER BY r.reward DESC, r.pk DESC LIMIT ${EXPORT_PAGE}`;
    let after = startAfter;
    for (;;) {
      const rows = after
        ? this.all('exportNext', `${columns} AND (r.reward, r.pk) < (?5, ?6) ${order}`, [
            role,
            minReward,
            tier ?? null,
            atMostPk,
            ...after,
          ])
        : this.all('exportFirst', `${columns} ${order}`, [role, minReward, tier ?? null, atMostPk]);
      // A segment's size read once a page, not once a run: an fstat apiece took 10 ms a page of known runs. Segments
      // only grow, so a size read a few candidates ago still says whether a run's texts are there.
      const sizes = new Map<number, number>();
      for (const r of rows) {
        after = [r[4] as number, r[0] as number];
        // Each candidate made whole at once, not spread from a smaller one: each field written after a spread costs
        // about half a KiB (see toRunRecord).
        const run = {
          pk: r[0] as number,
          id: r[1] as string,
          role: r[2] as string,
          promptId: r[3] as string,
          reward: r[4] as number,
          input: '',
          output: '',
          known: false,
        };
        if (known?.(run.pk, run.id) && this.textsStillThere(r, sizes)) {
          run.known = true;
          yield run;
          continue;
        }
        // Its page was read while its texts waited in memory, and a move or an image has taken them since (between
        // two slices of an export): where they are now is read again.
        const row =
          r[5] === null && r[7] === null && !this.pendingTexts.has(run.pk)
            ? (this.one(
                'exportTextsAgain',
                `SELECT r.pk, r.id, r.role, r.prompt_id, r.reward, t.input, t.output, x.segment, x.offset, x.length
                 FROM runs r LEFT JOIN run_texts t ON t.pk = r.pk LEFT JOIN run_text_refs x ON x.pk = r.pk
                 WHERE r.pk = ?`,
                [run.pk],
              ) ?? r)
            : r;
        const texts = this.pendingTexts.get(run.pk) ?? this.textsOf(run.id, row, 5);
        // Unreadable texts were reported (onUnavailable); the run is left out of the dataset, not lost.
        if ('unavailable' in texts || isCut(texts.input) || isCut(texts.output)) continue;
        run.input = texts.input;
        run.output = texts.output;
        yield run;
      }
      if (rows.length < EXPORT_PAGE) return;
    }
  }

  // ---- events ----

  addEvent(
    at: number,
    kind: string,
    role: string | null,
    message: string,
    data?: Record<string, unknown>,
  ): void {
    this.run('addEvent', 'INSERT INTO events (at, kind, role, message, data) VALUES (?, ?, ?, ?, ?)', [
      at,
      kind,
      role,
      message,
      data === undefined ? null : JSON.stringify(data),
    ]);
  }

  lastEvent(kind: string, role: string): LearningEvent | undefined {
    const r = this.one(
      'lastEvent',
      'SELECT id, at, kind, role, message, data FROM events WHERE kind = ? AND role = ? ORDER BY id DESC LIMIT 1',
      [kind, role],
    );
    return r && toEvent(r);
  }

  /** A role's latest events of one kind, newest first. */
  eventsOf(kind: string, role: string, limit: number): LearningEvent[] {
    return this.all(
      'eventsOf',
      'SELECT id, at, kind, role, message, data FROM events WHERE kind = ? AND role = ? ORDER BY id DESC LIMIT ?',
      [kind, role, limit],
    ).map(toEvent);
  }

  events(limit: number): LearningEvent[] {
    return this.all(
      'events',
      'SELECT id, at, kind, role, message, data FROM events ORDER BY id DESC LIMIT ?',
      [limit],
    ).map(toEvent);
  }

  // ---- inbox progress ----

  inboxProgress(): Map<string, InboxProgress> {
    return new Map(
      this.all('inboxProgress', 'SELECT file, offset, ino, birth FROM inbox_progress', []).map((r) => [
        r[0] as string,
        { offset: r[1] as number, ino: r[2] as number, birth: r[3] as number },
      ]),
    );
  }

  setInboxProgress(progress: Map<string, InboxProgress>): void {
    this.transaction(() => {
      this.run('clearProgress', 'DELETE FROM inbox_progress', []);
      for (const [file, p] of progress) {
        this.run('setProgress', 'INSERT INTO inbox_progress (file, offset, ino, birth) VALUES (?, ?, ?, ?)', [
          file,
          p.offset,
          p.ino,
          p.birth,
        ]);
      }
    });
  }

  // ---- statement cache ----

  /**
   * The query plan (EXPLAIN QUERY PLAN, one line a step) of each statement prepared so far whose name starts with
   * `prefix`: for tests that hold a query to its index, and for a look at what a slow query does.
   */
  queryPlans(prefix = ''): Map<string, string[]> {
    const plans = new Map<string, string[]>();
    for (const [name, stmt] of this.statements) {
      if (!name.startsWith(prefix)) continue;
      const sql = stmt.getSQL();
      plans.set(name, this.db.exec(`EXPLAIN QUERY PLAN ${sql}`)[0]?.values.map((r) => String(r[3])) ?? []);
    }
    return plans;
  }

  private prepared(name: string, sql: string): Statement {
    let stmt = this.statements.get(name);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(name, stmt);
    }
    return stmt;
  }

  private run(name: string, sql: string, params: SqlValue[]): void {
    const stmt = this.prepared(name, sql);
    stmt.run(bindable(params));
  }

  private one(name: string, sql: string, params: SqlValue[]): SqlValue[] | undefined {
    const stmt = this.prepared(name, sql);
    try {
      stmt.bind(bindable(params));
      return stmt.step() ? stmt.get() : undefined;
    } finally {
      stmt.reset();
    }
  }

  private all(name: string, sql: string, params: SqlValue[]): SqlValue[][] {
    const stmt = this.prepared(name, sql);
    const rows: SqlValue[][] = [];
    try {
      stmt.bind(bindable(params));
      while (stmt.step()) rows.push(stmt.get());
    } finally {
      stmt.reset();
    }
    return rows;
  }
}

/**
 * Every text the store writes or looks up, as valid Unicode: sql.js would write a lone surrogate as bytes that are
 * not UTF-8 (other SQLite readers then fail on the row), so it becomes U+FFFD, here and in every lookup alike.
 */
function bindable(params: SqlValue[]): SqlValue[] {
  return params.map((p) => (typeof p === 'string' ? wellFormed(p) : p));
}

function checkReward(runId: string, reward: number): void {
  if (!Number.isFinite(reward)) {
    throw new LearningError(
      `Run ${runId} was not stored: its reward is ${reward}, not a number between 0 and 1. ` +
        'Check rewardWeights in .agent/learning-config.json.',
    );
  }
}

/**
 * An empty database file (page 1 only) in PAGE_SIZE pages with incremental auto-vacuum, as a new database's first
 * image: sql.js given no file would make its own, and one of its own is not watched (liveImage.ts).
 */
export function emptyImage(SQL: SqlJsStatic): Uint8Array {
  const db = new SQL.Database();
  try {
    db.run(`PRAGMA page_size = ${PAGE_SIZE}`);
    db.run(`PRAGMA auto_vacuum = ${AUTO_VACUUM_INCREMENTAL}`);
    db.run('PRAGMA user_version = 0'); // writes page 1
    return db.export();
  } finally {
    db.close();
  }
}

function scalar(db: Database, sql: string): number {
  return Number(db.exec(sql)[0]?.values[0]?.[0] ?? 0);
}

/**
 * `select` (whose WHERE begins with one role's clauses, and selects the columns `orderBy` names) for each of `roles`
 * roles: each branch takes its first `?` runs in `orderBy` through the role-led index (newest first, a limit's worth;
 * in another order, that role's runs of the arm), and the branches are merged in that order and cut to the last
 * parameter. One query over all roles would read every matching run of the table, or need an index of its own.
 * Parameters: each branch's, then its limit; then the overall limit.
 */
function perRole(select: string, roles: number, orderBy = 'pk DESC'): string {
  const branch = `SELECT * FROM (${select} ORDER BY ${orderBy} LIMIT ?)`;
  return `${Array.from({ length: roles }, () => branch).join(' UNION ALL ')} ORDER BY ${orderBy} LIMIT ?`;
}

/** An arm's runs (of one role, or all; for models, of one tier plus untiered runs); parameters: armRunsParams. */
function armRunsWhere(kind: ArmKind, role: string | undefined, tier: string | undefined): string {
  // Only whether a role is given shapes the clause: its value is a parameter.
  const where = [`${kind === 'prompt' ? 'prompt_id' : 'model_id'} = ?`];
  if (role !== undefined) where.unshift('role = ?');
  if (tier !== undefined) where.push('(complexity = ? OR complexity IS NULL)');
  return where.join(' AND ');
}

function armRunsParams(arm: string, role: string | undefined, tier: string | undefined): SqlValue[] {
  return [...(role === undefined ? [] : [role]), arm, ...(tier === undefined ? [] : [tier])];
}

/** `sums`: n, reward sum, reward², cost sum, runs with a cost, duration sum — the order both arm queries select. */
function toArmStats(arm: string, sums: SqlValue[]): ArmStats {
  const [n, rewardSum, rewardSq, costSum, costN, durationSum] = sums as number[];
  return {
    arm,
    n: n!,
    rewardSum: rewardSum!,
    rewardSq: rewardSq!,
    costSum: costSum!,
    costN: costN!,
    durationSum: durationSum!,
  };
}

function toEvent(r: SqlValue[]): LearningEvent {
  return {
    id: r[0] as number,
    at: r[1] as number,
    kind: r[2] as string,
    role: r[3] as string | null,
    message: r[4] as string,
    data: r[5] === null ? null : (JSON.parse(r[5] as string) as Record<string, unknown>),
  };
}

/** A run's row for lists (recentRuns, runPage): the columns id … human, from `at` in the selected row. */
function runRow(r: SqlValue[], at: number): RecentRun {
  return {
    id: r[at] as string,
    createdAt: r[at + 1] as number,
    taskSlug: r[at + 2] as string,
    role: r[at + 3] as string,
    modelId: r[at + 4] as string,
    promptId: r[at + 5] as string,
    reward: r[at + 6] as number,
    human: r[at + 7] as Verdict | null,
  };
}
