// The durable, multi-process store: one process owns `.agent/experience.db` (lock file) and saves it atomically
// in batches; every recorded run or verdict is first appended to an fsync'ed inbox journal, so it survives a
// crash the moment recordRun resolves. Other processes journal into the inbox and the owner ingests their files.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { SqlJsStatic } from 'sql.js';
import { TEMP_MARKER, writeFileAtomic } from './atomicFile';
import { CorruptDatabaseError, LearningError, NewerSchemaError, describe } from './errors';
import { InboxWriter, readInboxFile, writerMayAppend, type InboxEntry } from './inbox';
import { WriterLock } from './lock';
import { checkRole } from './names';
import { computeReward, type RewardWeights } from './reward';
import { checkVerdict, toRunRecord, validateRunArgs, type RunRecord, type Verdict } from './runResult';
import { loadSqlJs } from './sqljs';
import { SCHEMA_VERSION, Store } from './store';

export interface DurableStoreOptions {
  agentDir: string;
  now: () => number;
  log: (line: string) => void;
  weights: () => RewardWeights;
  /** How often to ingest the inbox and, when not the owner, try to become it. 0: only when asked. */
  pollIntervalMs: number;
  /** Shortest pause between saves (ms); the pause grows with the time a save takes. Default 1000. */
  saveDelayMs?: number;
  /** Called after entries written by other processes were applied. */
  onExternalChange?: (runs: number, verdicts: number) => void;
}

export type RunEntry = Extract<InboxEntry, { type: 'run' }>;

const LOCK_TOUCH_MS = 30_000;

/**
 * Crash tests: `AGENT_LEARNING_CRASH_POINT=name:n` kills this process with SIGKILL the n-th time it passes the
 * named point, so tests can put a crash exactly between two steps of a save or an append.
 */
const crashAt = /^([a-z-]+):(\d+)$/.exec(process.env.AGENT_LEARNING_CRASH_POINT ?? '');
let crashCountdown = crashAt ? Number(crashAt[2]) : 0;
function crashPoint(name: string): void {
  if (crashAt && crashAt[1] === name && --crashCountdown === 0) process.kill(process.pid, 'SIGKILL');
}
/** Own journal entries after which a save is started at once, bounding replay after a crash (~0.2 ms each). */
const MAX_UNSAVED_ENTRIES = 5_000;
/** The longest pause between saves while runs come in. */
const MAX_SAVE_DELAY_MS = 5 * 60_000;

export class DurableStore {
  /** Non-fatal problems met while opening (a corrupt database moved aside), for the caller to show. */
  readonly problems: LearningError[] = [];

  private store: Store;
  private readonly lock: WriterLock;
  private readonly writer: InboxWriter;
  private readonly dbFile: string;
  private readonly inboxDir: string;
  private offsets = new Map<string, number>();
  /** This process's rotated journal files, removed once the save that contains their entries is on disk. */
  private sealed: string[] = [];
  private dirty = false;
  private unsavedEntries = 0;
  private saving: Promise<void> | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastSaveMs = 50;
  private lastTouch = 0;
  private snapshotStamp = '';
  private closed = false;

  private constructor(
    private readonly SQL: SqlJsStatic,
    private readonly opts: DurableStoreOptions,
  ) {
    this.dbFile = path.join(opts.agentDir, 'experience.db');
    this.inboxDir = path.join(opts.agentDir, 'inbox');
    this.lock = new WriterLock(`${this.dbFile}.lock`);
    this.writer = new InboxWriter(this.inboxDir, opts.now);
    this.store = undefined as unknown as Store;
  }

  static async open(opts: DurableStoreOptions): Promise<DurableStore> {
    const SQL = await loadSqlJs();
    fs.mkdirSync(path.join(opts.agentDir, 'inbox'), { recursive: true });
    const ds = new DurableStore(SQL, opts);
    if (ds.lock.tryAcquire()) {
      ds.removeTempFiles();
      ds.loadSnapshot(true);
      ds.offsets = ds.store.inboxProgress();
      const applied = ds.ingestInbox();
      if (applied > 0 || !fs.existsSync(ds.dbFile)) {
        ds.dirty = true;
        await ds.save();
      }
    } else {
      ds.loadSnapshot(false);
      ds.ingestInbox();
    }
    if (opts.pollIntervalMs > 0) {
      ds.pollTimer = setInterval(() => {
        try {
          ds.sync();
        } catch (err) {
          opts.log(`⚠️ ${describe(err)}`);
        }
      }, opts.pollIntervalMs);
      ds.pollTimer.unref();
    }
    return ds;
  }

  get db(): Store {
    return this.store;
  }

  get isOwner(): boolean {
    return this.lock.isHeld;
  }

  /** Journals the run, then applies it. The entry must carry id and createdAt. */
  record(entry: RunEntry & { id: string; createdAt: number }): RunRecord {
    this.assertOpen();
    this.writer.append(entry, () => crashPoint('append-partial'));
    const { record } = this.applyRun(entry, this.writer.currentFile, -1);
    this.changed();
    return record;
  }

  /** Journals the verdict, then applies it. The new reward, or undefined when the run is not known (yet). */
  feedback(runId: string, verdict: Verdict, at: number): number | undefined {
    this.assertOpen();
    this.writer.append({ type: 'feedback', runId, verdict, at });
    const reward = this.applyFeedback(runId, verdict, at);
    this.changed();
    return reward;
  }

  /** For changes made directly on `db` (events) that are not journalled: saved with the next save. */
  markChanged(): void {
    this.changed();
  }

  /** Reads what other processes (and agents) wrote to the inbox since last time and applies it. */
  ingestInbox(): number {
    if (this.closed) return 0;
    let names: string[];
    try {
      names = fs.readdirSync(this.inboxDir).filter((n) => n.endsWith('.jsonl'));
    } catch {
      return 0;
    }
    names.sort();
    const own = new Set([
      path.basename(this.writer.currentFile),
      ...this.sealed.map((f) => path.basename(f)),
    ]);
    let runs = 0;
    let verdicts = 0;
    for (const name of names) {
      if (this.isOwner && own.has(name)) continue;
      const file = path.join(this.inboxDir, name);
      const from = this.offsets.get(name) ?? 0;
      const { lines, size, mtimeMs, ...read } = readInboxFile(file, from);
      let endOffset = read.endOffset;
      if (endOffset < size && !writerMayAppend(name, mtimeMs, this.opts.now())) {
        // Its writer is gone mid-line (killed during an append): that run never resolved, so nothing is lost.
        this.opts.log(`⚠️ Ignored an incomplete last line in inbox/${name} (its writer stopped mid-write).`);
        endOffset = size;
      }
      if (lines.length === 0 && endOffset === from) continue;
      this.store.transaction(() => {
        for (const line of lines) {
          const where = from === 0 ? `line ${line.lineNumber}` : `byte ${line.offset}`;
          if (line.error || !line.entry) {
            this.opts.log(`⚠️ Skipped inbox/${name} ${where}: ${line.error}`);
            continue;
          }
          try {
            if (line.entry.type === 'run') {
              if (this.applyRun(line.entry, file, line.offset).inserted) runs++;
            } else {
              this.applyFeedback(
                line.entry.runId,
                checkVerdict(line.entry.verdict),
                line.entry.at ?? this.opts.now(),
              );
              verdicts++;
            }
          } catch (err) {
            this.opts.log(`⚠️ Skipped inbox/${name} ${where}: ${describe(err)}`);
          }
        }
      });
      this.offsets.set(name, endOffset);
      if (this.isOwner) this.dirty = true;
    }
    if (runs + verdicts > 0) {
      if (this.isOwner) this.scheduleSave();
      this.opts.onExternalChange?.(runs, verdicts);
    }
    return runs + verdicts;
  }

  /** Saves now if anything changed (the owner only). Resolves when the file is on disk. */
  async save(): Promise<void> {
    while (this.saving) await this.saving;
    if (!this.dirty || !this.isOwner) return;
    this.saving = this.doSave().finally(() => (this.saving = undefined));
    await this.saving;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.pollTimer);
    clearTimeout(this.saveTimer);
    if (this.isOwner) {
      this.ingestInbox();
      try {
        await this.save(); // only when something changed: at 100k runs a save writes ~0.5 GB
      } catch (err) {
        this.saveFailed(err); // the journal stays and is replayed on the next open
      }
      this.writer.close();
      if (!this.dirty) fs.rmSync(this.writer.currentFile, { force: true });
      this.lock.release();
    }
    this.writer.close();
    this.closed = true;
    this.store.close();
  }

  // ---- applying entries ----

  private applyRun(entry: RunEntry, file: string, offset: number): { record: RunRecord; inserted: boolean } {
    const id = entry.id ?? derivedId(file, offset);
    const { taskSlug, modelId, promptId, result } = validateRunArgs(
      entry.taskSlug,
      entry.modelId,
      entry.promptId,
      entry.result,
    );
    const role = checkRole(entry.role ?? 'coder');
    const createdAt = entry.createdAt ?? this.opts.now();
    const record = toRunRecord({ id, createdAt, taskSlug, role, modelId, promptId }, result);
    const pending = this.store.takePendingFeedback(id);
    if (pending && (record.humanAt === null || pending.at >= record.humanAt)) {
      record.human = pending.verdict;
      record.humanAt = pending.at;
    }
    record.reward = computeReward(record, this.opts.weights());
    return { record, inserted: this.store.insertRun(record) };
  }

  private applyFeedback(runId: string, verdict: Verdict, at: number): number | undefined {
    const run = this.store.getRun(runId);
    if (!run) {
      this.store.addPendingFeedback(runId, verdict, at);
      return undefined;
    }
    if (run.humanAt !== null && at < run.humanAt) return run.reward;
    const reward = computeReward({ ...run, human: verdict }, this.opts.weights());
    this.store.setVerdict(runId, verdict, at, reward);
    return reward;
  }

  // ---- saving ----

  private changed(): void {
    if (!this.isOwner) return;
    this.dirty = true;
    this.unsavedEntries++;
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
      this.save().catch((e) => this.saveFailed(e));
    }, delay);
    this.saveTimer.unref();
  }

  private saveFailed(err: unknown): void {
    this.opts.log(`❌ Could not save ${this.dbFile}: ${describe(err)}. Runs stay safe in .agent/inbox/.`);
  }

  private async doSave(): Promise<void> {
    if (!this.lock.verify()) {
      this.opts.log(
        '⚠️ Another process took over the experience database; this one now writes to the inbox.',
      );
      return;
    }
    const started = Date.now();
    // Everything journalled so far is in the image below; later entries go to a fresh journal file.
    this.sealed.push(this.writer.rotate());
    const sealedNow = [...this.sealed];
    const finished = this.finishedInboxFiles();
    for (const name of finished) this.offsets.delete(name);
    this.store.setInboxProgress(this.offsets);
    const image = this.store.export();
    this.dirty = false;
    this.unsavedEntries = 0;
    crashPoint('save-exported');
    try {
      await writeFileAtomic(this.dbFile, image, () => crashPoint('save-before-rename'));
    } catch (err) {
      this.dirty = true;
      for (const name of finished)
        this.offsets.set(name, readInboxFile(path.join(this.inboxDir, name), 0).size);
      throw err;
    }
    this.snapshotStamp = stamp(this.dbFile);
    crashPoint('save-renamed');
    for (const file of sealedNow) fs.rmSync(file, { force: true });
    this.sealed = this.sealed.filter((f) => !sealedNow.includes(f));
    for (const name of finished) fs.rmSync(path.join(this.inboxDir, name), { force: true });
    this.lastSaveMs = Date.now() - started;
  }

  /** Foreign inbox files read to their end whose writers are gone: safe to delete once this save lands. */
  private finishedInboxFiles(): string[] {
    const now = this.opts.now();
    const done: string[] = [];
    for (const [name, offset] of this.offsets) {
      const file = path.join(this.inboxDir, name);
      if (!fs.existsSync(file)) {
        done.push(name);
        continue;
      }
      const { endOffset, size, mtimeMs } = readInboxFile(file, offset);
      if (endOffset === offset && size === offset && !writerMayAppend(name, mtimeMs, now)) done.push(name);
    }
    return done;
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
      if (Date.now() - this.lastTouch > LOCK_TOUCH_MS) {
        this.lock.touch();
        this.lastTouch = Date.now();
      }
      return this.ingestInbox();
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

  /** The previous owner has gone: load what it saved, ingest everything (our own journal too), and save. */
  private promote(): number {
    this.opts.log('🔒 This process now owns the experience database.');
    this.loadSnapshot(true);
    this.offsets = this.store.inboxProgress();
    // Our journal so far is read like any other file this once, then removed with the save.
    const former = this.writer.rotate();
    const applied = this.ingestInbox();
    this.offsets.delete(path.basename(former));
    this.sealed.push(former);
    this.dirty = true;
    void this.save().catch((e) => this.saveFailed(e));
    return applied;
  }

  /** (Re)loads the saved database. The owner moves a corrupt file aside; a reader just starts empty. */
  private loadSnapshot(asOwner: boolean): void {
    let bytes: Uint8Array | undefined;
    const before = stamp(this.dbFile);
    try {
      bytes = fs.readFileSync(this.dbFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let opened = Store.open(this.SQL, bytes);
    if (!(opened instanceof Store)) {
      if (opened.kind === 'newer') {
        if (asOwner) this.lock.release();
        throw new NewerSchemaError(this.dbFile, opened.version, SCHEMA_VERSION);
      }
      const cause = opened.cause;
      if (asOwner) {
        const aside = `${this.dbFile}.corrupt-${new Date(this.opts.now()).toISOString().replace(/[:.]/g, '-')}`;
        fs.renameSync(this.dbFile, aside);
        const problem = new CorruptDatabaseError(this.dbFile, aside, cause);
        this.problems.push(problem);
        this.opts.log(`❌ ${problem.message}`);
      } else {
        this.opts.log(`⚠️ ${this.dbFile} is unreadable (${describe(cause)}); its owner will set it aside.`);
      }
      opened = Store.open(this.SQL, undefined) as Store;
    }
    this.store?.close();
    this.store = opened;
    this.snapshotStamp = before;
    if (!asOwner) this.offsets = new Map();
  }

  private removeTempFiles(): void {
    const base = path.basename(this.dbFile) + TEMP_MARKER;
    for (const name of fs.readdirSync(this.opts.agentDir)) {
      if (name.startsWith(base)) fs.rmSync(path.join(this.opts.agentDir, name), { force: true });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new LearningError('The learning pipeline is closed.');
  }
}

/** Stable id for an entry an agent wrote without one, so replaying the same file never duplicates it. */
function derivedId(file: string, offset: number): string {
  return (
    'in-' +
    createHash('sha256')
      .update(`${path.basename(file)}:${offset}`)
      .digest('hex')
      .slice(0, 20)
  );
}

function stamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'missing';
  }
}
