// `.agent/inbox/*.jsonl`: the append-only journal every process writes runs and feedback to, fsync'ed per entry,
// and the format an agent may write itself. The process that owns the database ingests these files.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import * as z from 'zod';
import { syncDirectory, syncDirectoryAsync, syncPathAsync } from '../workspace/atomicFile';
import { openRegularFile } from '../workspace/regularFile';
import { isProcessAlive } from './lock';

/** One line of an inbox file. `id`/`createdAt`/`at` are filled in by our writers; agents may leave them out. */
export const inboxEntrySchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('run'),
    id: z.string().min(1).max(200).optional(),
    createdAt: z.number().int().nonnegative().optional(),
    taskSlug: z.unknown(),
    modelId: z.unknown(),
    promptId: z.unknown(),
    role: z.unknown().optional(),
    result: z.unknown(),
    /** Where the run came from (learning/signals.ts's RUN_SOURCES); a line without one counts as `inbox`. */
    source: z.unknown().optional(),
  }),
  z.object({
    type: z.literal('feedback'),
    runId: z.string().min(1).max(200),
    verdict: z.unknown(),
    at: z.number().int().nonnegative().optional(),
  }),
  /** A signal observed after the run (learning/signals.ts); checked with checkSignal when applied. */
  z.object({
    type: z.literal('signal'),
    runId: z.string().min(1).max(200),
    kind: z.unknown(),
    value: z.unknown(),
    source: z.unknown(),
    at: z.number().int().nonnegative().optional(),
  }),
  /** A run's change to the workspace, observed after it (learning/runChange.ts); checked when applied. */
  z.object({
    type: z.literal('change'),
    runId: z.string().min(1).max(200),
    change: z.unknown(),
  }),
]);
export type InboxEntry = z.output<typeof inboxEntrySchema>;

export interface InboxLine {
  /** Byte offset of the line's start. */
  offset: number;
  lineNumber: number;
  /** The line as written, for a stable identity of entries written without an id. */
  text: string;
  entry?: InboxEntry;
  error?: string;
}

const HOST = os
  .hostname()
  .replace(/[^A-Za-z0-9.]/g, '_')
  .slice(0, 64);
const NAME_PATTERN = /^\d+-(.*)-(\d+)-[0-9a-f]{8}\.jsonl$/;
const JOURNAL_PATTERN = /^\d+-.*-\d+-[0-9a-f]{8}(\.closed)?\.jsonl$/;

/** A new journal file name for this process: sortable by creation time, with host and pid for cleanup. */
export function newInboxFileName(now: number): string {
  return `${String(now).padStart(13, '0')}-${HOST}-${process.pid}-${randomBytes(4).toString('hex')}.jsonl`;
}

/** Whether `name` is one of our journals (grown ahead with zeros), rather than a file an agent wrote. */
function isJournalName(name: string): boolean {
  return JOURNAL_PATTERN.test(name);
}

/**
 * Whether the process that wrote `name` can still append to it. Files named by our writers carry host and pid;
 * other files (an agent's own) count as finished once untouched for a minute.
 */
export function writerMayAppend(name: string, mtimeMs: number, now: number): boolean {
  const m = NAME_PATTERN.exec(name);
  if (m && m[1] === HOST) return isProcessAlive(Number(m[2]));
  return now - mtimeMs < 60_000;
}

/**
 * Journal files are grown ahead of the data with zeros, like SQLite's WAL: overwriting allocated blocks lets
 * fdatasync skip the file-size metadata, which halves its cost (0.24 → 0.11 ms measured on ext4 here). Readers
 * treat the first zero byte as the end of the data.
 */
const FIRST_CHUNK = 64 * 1024;
const MAX_CHUNK = 4 * 1024 * 1024;

/** A caller of `whenDurable`: its entries are on disk once `durable` reaches `upTo`. */
interface DurableWaiter {
  upTo: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Appends entries to one file of the inbox: `append` puts each on disk (fdatasync) before it returns; `write` and
 * `whenDurable` let the entries written together share one fdatasync, run off the event loop (group commit).
 */
export class InboxWriter {
  private file: string;
  private fd: number | undefined;
  private pos = 0;
  private allocated = 0;
  /** A file was created since the directory's last fsync: its name must be on disk before its entries count. */
  private dirUnsynced = false;
  /** A shared sync's directory fsync has not ended yet: a synchronous append must not count on it. */
  private dirSyncing = false;
  /** Entries written, and how many of them are known to be on disk. */
  private written = 0;
  private durable = 0;
  /** Descriptors holding entries not yet fdatasync'ed (a rotated file's too, until its sync). */
  private readonly unsynced = new Set<number>();
  /** Descriptors a shared fdatasync is using now, and the closed files' ones, closed once it is done. */
  private readonly syncing = new Set<number>();
  private readonly closeAfterSync = new Set<number>();
  private waiters: DurableWaiter[] = [];
  /** A shared fdatasync is about to start, or under way (then the next one starts when it ends, if needed). */
  private syncQueued = false;
  private syncRunning = false;
  /**
   * After an fdatasync failed: the entries written until then, and the error. Linux reports a writeback error once
   * per open file and marks the pages clean, so a later fdatasync succeeds without writing them: no later success
   * may vouch for these entries.
   */
  private failed: { upTo: number; error: Error } | undefined;
  /** The current file's creation being synced off the event loop (prepare), until done. */
  private created: Promise<void> | undefined;
  private finished = false;

  constructor(
    private readonly dir: string,
    private readonly now: () => number,
  ) {
    this.file = path.join(dir, newInboxFileName(now()));
  }

  get currentFile(): string {
    return this.file;
  }

  /** Writes the entry and puts it on disk (with anything `write` left unsynced) before it returns. */
  append(entry: InboxEntry, midway?: () => void): void {
    this.write(entry, midway);
    const upTo = this.written;
    try {
      for (const fd of this.unsynced) fs.fdatasyncSync(fd);
      if (this.dirUnsynced || this.dirSyncing || this.created) {
        syncDirectory(this.dir);
        this.dirUnsynced = false;
      }
    } catch (err) {
      this.syncFailed(err);
      throw err;
    }
    this.unsynced.clear();
    this.durable = Math.max(this.durable, upTo);
    this.closeSynced();
  }

  /**
   * Writes the entry (or throws, as `append` does) without waiting for the disk:
   * call `whenDurable` before telling anyone it is recorded. `midway` runs between the two halves of the line's
   * write (crash tests: a torn append).
   */
  write(entry: InboxEntry, midway?: () => void): void {
    const line = Buffer.from(JSON.stringify(entry) + '\n');
    // The file stays open between appends. An owner removes only journals it considers finished (writer dead,
    // or idle a minute on another host); if that happened, reopen by path so the entry lands in the inbox.
    if (this.fd !== undefined && fs.fstatSync(this.fd).nlink === 0) this.close();
    const fd = this.fd ?? this.openFile();
    if (this.pos + line.length > this.allocated) this.grow(fd, line.length);
    if (midway) {
      const half = line.length >> 1;
      writeAll(fd, line.subarray(0, half), this.pos);
      midway();
      writeAll(fd, line.subarray(half), this.pos + half);
    } else writeAll(fd, line, this.pos);
    this.unsynced.add(fd);
    this.written++;
    this.pos += line.length;
  }

  private openFile(): number {
    const fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    this.fd = fd;
    this.pos = this.allocated = fs.fstatSync(fd).size;
    this.dirUnsynced = true; // the new file's name must survive a crash too: synced with its first entries
    return fd;
  }

  private grow(fd: number, needed: number): void {
    const grow = Math.max(needed, Math.min(MAX_CHUNK, Math.max(FIRST_CHUNK, this.allocated)));
    writeAll(fd, Buffer.alloc(grow), this.allocated);
    this.allocated += grow;
  }

  /**
   * Creates the current file now, with its first chunk of zeros, and syncs it and its name in the directory off the
   * event loop: its first entry then waits only for its own fdatasync. Created by that entry instead, the file's
   * creation, the sync of its size and the directory's fsync all held the event loop (50–60 ms seen at a session's
   * first recordRun at 100k runs, and again after every save). An entry written before these syncs end syncs the
   * directory itself, as before. Does nothing when the file is open; a failure (a full disk) is left for the first
   * entry to meet and report. Resolves once the syncs ended (whatever they said); never rejects.
   */
  prepare(): Promise<void> {
    if (this.finished) return Promise.resolve();
    if (this.fd !== undefined) return this.created ?? Promise.resolve();
    const file = this.file;
    try {
      const fd = this.openFile();
      if (this.allocated === 0) this.grow(fd, 0);
    } catch {
      // Not made whole (a full disk): a descriptor that was opened stays, with nothing allocated, so that the first
      // entry grows the file from offset 0, as before, and meets the error itself. (Reopened, a file holding part of
      // the chunk would put the entries after zeros, where no reader looks.)
      return Promise.resolve();
    }
    this.dirUnsynced = false;
    // The file is synced through a descriptor of its own: Linux reports a write-back error once per open file, and
    // the entries' fdatasync on the writer's descriptor must still see any that concerns them. Best effort: an error
    // here only leaves the work to that fdatasync.
    const created = Promise.all([syncPathAsync(file), syncDirectoryAsync(this.dir)]).then(() => {
      if (this.created === created) this.created = undefined;
    });
    this.created = created;
    return created;
  }

  /**
   * Resolves once every entry written so far is on disk. The entries written while an fdatasync runs share the
   * next one (one fdatasync for all of them, on libuv's threads, not the event loop); the first starts after the
   * current microtasks, so entries written together in one turn share it too. Rejects with the fdatasync's error,
   * every caller whose entries it covered alike.
   */
  whenDurable(): Promise<void> {
    if (this.failed && this.written <= this.failed.upTo) return Promise.reject(this.failed.error);
    if (this.durable >= this.written) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo: this.written, resolve, reject });
      if (!this.syncRunning && !this.syncQueued) {
        this.syncQueued = true;
        queueMicrotask(() => this.syncShared());
      }
    });
  }

  /** One fdatasync of every descriptor with unsynced entries; then the next, while callers still wait. */
  private syncShared(): void {
    this.syncQueued = false;
    this.syncRunning = true;
    const upTo = this.written;
    const fds = [...this.unsynced];
    this.unsynced.clear();
    for (const fd of fds) this.syncing.add(fd);
    // A new file's directory entry is synced beside its data, off the event loop too (best effort, as ever); a
    // prepared file's, by its own sync.
    const dirSync = this.dirUnsynced ? syncDirectoryAsync(this.dir) : this.created;
    this.dirUnsynced = false;
    if (dirSync) {
      this.dirSyncing = true;
      void dirSync.then(() => (this.dirSyncing = false));
    }
    void Promise.allSettled([
      ...fds.map(
        (fd) => new Promise<void>((ok, fail) => fs.fdatasync(fd, (err) => (err ? fail(err) : ok()))),
      ),
      ...(dirSync ? [dirSync] : []),
    ]).then((outcomes) => {
      this.syncing.clear();
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) {
        this.syncFailed(failed.reason); // every entry written so far, this sync's and the next's alike
        this.closeSynced();
        this.syncRunning = false;
        return;
      }
      this.durable = Math.max(this.durable, upTo);
      const covered = this.waiters.filter((w) => w.upTo <= upTo);
      this.waiters = this.waiters.filter((w) => w.upTo > upTo);
      this.closeSynced();
      for (const w of covered) w.resolve();
      if (this.waiters.length) this.syncShared();
      else this.syncRunning = false;
    });
  }

  /**
   * An fdatasync failed: no entry written so far may be called durable, now or by a later fdatasync's success (see
   * `failed`). Every caller waiting is answered with the error; entries written from now on are synced anew.
   */
  private syncFailed(reason: unknown): void {
    const error = reason instanceof Error ? reason : new Error(String(reason));
    this.failed = { upTo: this.written, error };
    this.unsynced.clear();
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(error);
  }

  /** Closes the descriptors of closed files whose entries are on disk. */
  private closeSynced(): void {
    for (const fd of this.closeAfterSync) {
      if (this.unsynced.has(fd) || this.syncing.has(fd)) continue;
      this.closeAfterSync.delete(fd);
      fs.closeSync(fd);
    }
  }

  /** Starts a new file; the old one is returned so that it can be removed once its entries are saved. */
  rotate(): string {
    this.close();
    const old = this.file;
    this.file = path.join(this.dir, newInboxFileName(this.now()));
    return old;
  }

  /** Closes the file; a descriptor whose entries still wait for their fdatasync is closed after it. */
  close(): void {
    if (this.fd !== undefined) {
      this.closeAfterSync.add(this.fd);
      this.closeSynced();
    }
    this.fd = undefined;
  }

  /**
   * Closes the file for good and renames it `*.closed.jsonl`, so the owner may remove it once ingested even
   * while this process lives on (a file made ready and never written holds only zeros: nothing to ingest). Returns
   * the new path, or undefined when there was no file.
   */
  finish(): string | undefined {
    this.close();
    this.finished = true;
    const closed = this.file.replace(/\.jsonl$/, '.closed.jsonl');
    try {
      fs.renameSync(this.file, closed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    syncDirectory(this.dir);
    this.file = path.join(this.dir, newInboxFileName(this.now()));
    return closed;
  }
}

function writeAll(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
}

export interface InboxCursor {
  /** Byte offset where the next read starts. */
  offset: number;
  /** Lines before `offset`, when known; otherwise counted, so that every line reported has its number. */
  line?: number;
  /** Fingerprint of the bytes just before `offset`, to notice a file rewritten in place with other content. */
  mark?: string;
}

export interface InboxLimits {
  /** The longest line read, in bytes; a longer one is reported and skipped without being held in memory. */
  maxLineBytes: number;
  /**
   * About how many bytes of lines one read returns, each line counted with its newline and `LINE_OVERHEAD` (so
   * that blank or tiny lines add up too); the caller reads again while `more`.
   */
  batchBytes: number;
  /** The most lines one read returns (blank ones included). Default `INBOX_LIMITS.batchLines`. */
  batchLines?: number;
}

/**
 * A run is far smaller than 64 MiB (its texts are what an agent sent a model), and a string that size stays well
 * under V8's limit (512 MiB), past which a line could never be read at all. A batch of 2,000 runs is applied in
 * well under a second; a file of millions of junk lines is read in many such batches.
 */
export const INBOX_LIMITS: Required<InboxLimits> = {
  maxLineBytes: 64 * 1024 * 1024,
  batchBytes: 4 * 1024 * 1024,
  batchLines: 2_000,
};
/** What one line costs beyond its bytes (the InboxLine object, its strings' headers), counted in `batchBytes`. */
export const LINE_OVERHEAD = 128;

export interface InboxRead {
  lines: InboxLine[];
  /** Where the next read starts: after the last complete line (or after everything, once the writer is gone). */
  endOffset: number;
  /** Where the next read starts, with what it needs to check the file is still the one read. */
  next: InboxCursor;
  /** Where the data ends: the file's size, or, in one of our journals, its first zero byte (the grown-ahead tail). */
  dataEnd: number;
  /** The writer is gone and left a last line that is not valid JSON: a torn append, dropped (line `next.line`). */
  tornTail: boolean;
  /** The read stopped after `batchBytes` or `batchLines`: read again from `next` for the rest. */
  more: boolean;
  /** The bytes before the cursor had changed (the file was rewritten in place): it was read from its start. */
  rewound: boolean;
}

/** Files are read this much at a time, so no line longer than the limit is ever held whole. */
const CHUNK_BYTES = 64 * 1024;
/** How many bytes before the cursor its mark covers. */
const MARK_BYTES = 4096;
const NOT_JSON = 'not valid JSON';

/**
 * Reads the lines of `file` from `from`. A last line without a newline is left for later while its writer may
 * still finish it; once `writerGone`, it is taken if it parses, and dropped as torn if it does not.
 *
 * Only our own journals (named by `newInboxFileName`) end at their first zero byte; in a file an agent wrote, a
 * zero byte is part of its line, which is reported. Anything but a regular file throws `NotAFileError`.
 */
export function readInboxFile(
  file: string,
  from: number | InboxCursor,
  writerGone = false,
  limits: InboxLimits = INBOX_LIMITS,
): InboxRead {
  const cursor = typeof from === 'number' ? { offset: from } : from;
  let opened: { fd: number; stat: fs.Stats };
  try {
    opened = openRegularFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const offset = cursor.offset;
      const next = { ...cursor };
      return {
        lines: [],
        endOffset: offset,
        next,
        dataEnd: offset,
        tornTail: false,
        more: false,
        rewound: false,
      };
    }
    throw err;
  }
  try {
    return scan(opened.fd, opened.stat.size, isJournalName(path.basename(file)), cursor, writerGone, limits);
  } finally {
    fs.closeSync(opened.fd);
  }
}

function scan(
  fd: number,
  size: number,
  zeroTail: boolean,
  cursor: InboxCursor,
  writerGone: boolean,
  limits: InboxLimits,
): InboxRead {
  let from = cursor.offset;
  let rewound = false;
  if (from > size || (cursor.mark !== undefined && markBefore(fd, from) !== cursor.mark)) {
    rewound = from > 0;
    from = 0;
  }
  if (!rewound && from > 0 && from >= size && cursor.line === undefined) {
    // Read to its end before, and nothing since (a fully read file, met again by an owner that reopened the
    // database, whose cursors keep no line numbers): counting its lines would read it all again for no line to
    // report. They are counted once it grows.
    const next = { offset: from, mark: markBefore(fd, from) };
    return { lines: [], endOffset: from, next, dataEnd: from, tornTail: false, more: false, rewound: false };
  }
  let lineNumber = rewound || from === 0 ? 0 : (cursor.line ?? countLines(fd, from));
  const lines: InboxLine[] = [];
  /** The line being read: where it starts, its bytes so far (none once it is too long), and its length. */
  let lineStart = from;
  let parts: Buffer[] = [];
  let lineBytes = 0;
  /** Bytes and lines (blank and too long ones too) taken so far, against `batchBytes` and `batchLines`. */
  let returned = 0;
  let taken = 0;
  const batchLines = limits.batchLines ?? INBOX_LIMITS.batchLines;
  let dataEnd = size;
  let more = false;

  const add = (bytes: Buffer) => {
    if (lineBytes + bytes.length <= limits.maxLineBytes)
      parts.push(Buffer.from(bytes)); // the chunk is reused
    else parts = [];
    lineBytes += bytes.length;
  };
  const finish = (last: Buffer) => {
    lineNumber++;
    const length = lineBytes + last.length;
    if (length > limits.maxLineBytes) {
      lines.push({ offset: lineStart, lineNumber, text: '', error: tooLong(length, limits) });
    } else if (length > 0) {
      const text = decode(parts.length === 0 ? last : Buffer.concat([...parts, last]));
      if (text !== '') lines.push(parseLine(text, lineStart, lineNumber));
    }
    returned += length + 1 + LINE_OVERHEAD;
    taken++;
    parts = [];
    lineBytes = 0;
  };

  const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, size - from)));
  let pos = from;
  read: while (pos < dataEnd) {
    const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, dataEnd - pos), pos);
    if (n === 0) {
      dataEnd = pos; // the file shrank while being read
      break;
    }
    let view = chunk.subarray(0, n);
    const zero = zeroTail ? view.indexOf(0) : -1;
    if (zero >= 0) {
      view = view.subarray(0, zero);
      dataEnd = pos + zero;
    }
    let start = 0;
    for (let nl = view.indexOf(10); nl >= 0; nl = view.indexOf(10, start)) {
      finish(view.subarray(start, nl));
      start = nl + 1;
      lineStart = pos + start;
      if ((returned >= limits.batchBytes || taken >= batchLines) && lineStart < dataEnd) {
        more = true;
        break read;
      }
    }
    add(view.subarray(start));
    pos += view.length;
  }

  let tornTail = false;
  if (writerGone && !more && lineStart < dataEnd) {
    lineNumber++;
    if (lineBytes > limits.maxLineBytes) {
      lines.push({ offset: lineStart, lineNumber, text: '', error: tooLong(lineBytes, limits) });
    } else {
      const text = decode(Buffer.concat(parts));
      const line = text === '' ? undefined : parseLine(text, lineStart, lineNumber);
      if (line?.error === NOT_JSON) tornTail = true;
      else if (line) lines.push(line);
    }
    lineStart = dataEnd;
  }
  const next = { offset: lineStart, line: lineNumber, mark: markBefore(fd, lineStart) };
  return { lines, endOffset: lineStart, next, dataEnd, tornTail, more, rewound };
}

function decode(bytes: Buffer): string {
  return bytes
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trim();
}

function tooLong(length: number, limits: InboxLimits): string {
  return `the line is ${length} bytes long, more than the ${limits.maxLineBytes} bytes one entry may have`;
}

/** Lines (newlines) before `offset`, read in chunks. */
function countLines(fd: number, offset: number): number {
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, offset));
  let count = 0;
  for (let pos = 0; pos < offset;) {
    const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, offset - pos), pos);
    if (n === 0) break;
    for (let i = chunk.indexOf(10); i >= 0 && i < n; i = chunk.indexOf(10, i + 1)) count++;
    pos += n;
  }
  return count;
}

function markBefore(fd: number, offset: number): string {
  const start = Math.max(0, offset - MARK_BYTES);
  const bytes = Buffer.alloc(offset - start);
  const n = bytes.length === 0 ? 0 : fs.readSync(fd, bytes, 0, bytes.length, start);
  return createHash('sha1').update(bytes.subarray(0, n)).digest('base64');
}

function parseLine(text: string, offset: number, lineNumber: number): InboxLine {
  if (text.includes('\0')) return { offset, lineNumber, text, error: 'the line contains a zero (NUL) byte' };
  // Not even the start of an object (junk, a line of text): cheaper to say so than to have JSON.parse throw.
  if (!text.startsWith('{'))
    return { offset, lineNumber, text, error: 'not a JSON object (an entry is one {…} per line)' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { offset, lineNumber, text, error: NOT_JSON };
  }
  const parsed = inboxEntrySchema.safeParse(json);
  if (parsed.success) return { offset, lineNumber, text, entry: parsed.data };
  const issue = parsed.error.issues[0]!;
  return { offset, lineNumber, text, error: `${issue.path.join('.') || 'entry'}: ${issue.message}` };
}
