// SFT export: a role's high-reward runs as chat `messages` JSONL (TRL, Unsloth, OpenAI fine-tuning), best first,
// deduplicated, secrets scrubbed, written atomically.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { writeCacheFileSync, writeFileAtomic, writeFileAtomicSync } from '../workspace/atomicFile';
import { openRegularFile } from '../workspace/regularFile';
import { SCRUB_CODE, scrubSecrets } from './secrets';
import { performance } from 'node:perf_hooks';
import type { ExportCandidate, StoreReader } from '../store/store';

export interface ExportOptions {
  role: string;
  /** Only runs of this complexity tier (curriculum adapters). */
  tier?: string;
  minReward: number;
  maxExamples: number;
  /** The system message for a run, from the prompt variant it used. */
  systemPrompt: (promptId: string, role: string) => string;
  file: string;
  /** What the last export of the same dataset learned of its runs, used and then renewed by this one. */
  memo?: ExportMemo;
  /** Only runs up to this pk (default: the last one now): those recorded after the export began wait for the next. */
  upToPk?: number;
}

export interface ExportResult {
  role: string;
  file: string;
  count: number;
  duplicatesSkipped: number;
  secretsRedacted: number;
  /** Highest run pk at export time: runs after it count toward the next export. */
  watermarkPk: number;
  minReward: number;
}

/**
 * What an export learned of each run it read, for the next export of the same dataset: the dedup key and the
 * scrubbed messages. A run's texts never change, so an auto-export, which mostly takes the same best runs as the last
 * one, reads, decompresses, hashes and scrubs only the runs that are new to it. Entries are keyed by pk and id (a
 * database set aside and begun afresh reuses pks); only the last export's runs are kept.
 *
 * With `files`, the memo lives on disk: each export leaves beside its dataset what it learned (`{dataset}.memo`: the
 * keys, and where in the dataset's bytes each example's messages are), and the next export, in this process or after
 * a restart, reads that and the dataset instead of every run's texts. Nothing of it is held between exports: a
 * thousand examples are 4-5 MB a dataset, and a process exporting every role and tier held them all for good. It is
 * only a cache: one that does not match the dataset's bytes, the code that made it or its own format is ignored, and
 * the runs are read as if it were not there.
 */
export class ExportMemo {
  private last = new Map<string, MemoEntry>();
  /** The database `last` is of (Store.lineage): one begun afresh may give its runs the same pks and ids. */
  private lineage: string | undefined;
  private next = new Map<string, MemoEntry>();
  private nextBytes = 0;
  private loaded: boolean;
  /** A sliced read of the files under way (load): `begin` meanwhile reads them itself. */
  private loading = false;
  private begun = 0;
  /**
   * What this memo wrote last: the memo file's CRC-32 and the dataset's SHA-256. Read back with both unchanged, the
   * memo is this process's own, and its examples are not checked again (a CRC alone can be forged; the digest not).
   */
  private wrote: Wrote | undefined;

  constructor(private readonly files?: { dataset: string; memo: string }) {
    this.loaded = files === undefined;
  }

  /**
   * Reads what the last export left on disk, off the event loop and a slice at a time (a sliced export calls this
   * before it begins; otherwise `begin` reads it in one piece).
   */
  async load(lineage: string): Promise<void> {
    if (this.loaded || this.loading || !this.files) return;
    this.loading = true;
    const begun = this.begun;
    try {
      const read = await readMemoSliced(this.files, lineage, this.wrote);
      // An export begun meanwhile (closing: in one piece) read the files itself, and may have written newer ones.
      if (this.begun !== begun) return;
      this.loaded = true;
      if (read) {
        this.last = read;
        this.lineage = lineage;
      }
    } finally {
      this.loading = false;
    }
  }

  /** A new export of the database `lineage` begins: what an unfinished one gathered is dropped. */
  begin(lineage: string): void {
    this.begun++;
    if (!this.loaded) {
      this.loaded = true;
      const read = this.files && readMemo(this.files, lineage, this.wrote);
      if (read) {
        this.last = read;
        this.lineage = lineage;
      }
    }
    if (lineage !== this.lineage) this.last = new Map();
    this.lineage = lineage;
    this.next = new Map();
    this.nextBytes = 0;
  }

  get(pk: number, id: string): MemoEntry | undefined {
    return this.last.get(`${pk}:${id}`);
  }

  /**
   * Keeps what this export learned of a run for the next one. An example's messages are kept only while it is not a
   * duplicate (another run gives the same example) and the memo is under MAX_MEMO_BYTES; otherwise just its key.
   * Returns what was kept.
   */
  keep(pk: number, id: string, entry: MemoEntry, duplicate: boolean): MemoEntry {
    let kept = entry;
    if (entry.kind === 'example') {
      const bytes = entry.messages.length + (entry.tools?.length ?? 0);
      if (duplicate || this.nextBytes + bytes > MAX_MEMO_BYTES) kept = { kind: 'key', key: entry.key };
      else this.nextBytes += bytes;
    }
    this.next.set(`${pk}:${id}`, kept);
    return kept;
  }

  /**
   * The export was written (`dataset`: its size and CRC): its runs are what the next one may reuse. `placed` says
   * where in the dataset each example the memo kept is (see SftExport.take). With `files`, the memo is written beside
   * it and let go: the next export reads it back. Without, it is kept here.
   */
  finished(dataset?: DatasetSum, placed?: readonly Placement[]): void {
    const entries = this.next;
    this.next = new Map();
    this.nextBytes = 0;
    if (this.files && dataset !== undefined && placed) {
      const memoCrc = writeMemo(this.files, this.lineage ?? '', entries, dataset, placed);
      this.wrote = memoCrc === undefined ? undefined : { memoCrc, datasetSha256: dataset.sha256 };
      this.last = new Map();
      this.loaded = false;
    } else {
      this.last = entries;
    }
  }
}

/** What an ExportMemo wrote last (see `wrote`). */
interface Wrote {
  memoCrc: number;
  datasetSha256: string;
}

/** Where an example's messages (and tools) are in the dataset's bytes. */
export interface Placement {
  run: string;
  messages: [number, number];
  tools?: [number, number];
}

/** The most bytes of scrubbed messages a memo keeps: a dataset of huge runs is read each time. */
const MAX_MEMO_BYTES = 32 * 2 ** 20;

/**
 * Bump when what `digest` makes of a run changes in a way its code's text would not show (it is hashed too).
 * 2: spans in bytes, not UTF-16 units.
 */
const MEMO_FORMAT = 2;
/** A memo or dataset larger than this is not read back (the memo keeps at most MAX_MEMO_BYTES of messages). */
const MAX_MEMO_FILE_BYTES = 16 * 2 ** 20;
const MAX_DATASET_READ_BYTES = 2 * MAX_MEMO_BYTES;
const KINDS = ['empty', 'aborted', 'example', 'key'] as const;

let memoCode: string | undefined;
/** What made the entries: the digest's and the scrubber's code. A memo from other code is not used. */
function memoCodeId(): string {
  memoCode ??= createHash('sha256')
    .update([MEMO_FORMAT, SCRUB_CODE, digest, normalise, recordedChat].map(String).join('\0'))
    .digest('hex')
    .slice(0, 32);
  return memoCode;
}

interface MemoFile {
  format: number;
  code: string;
  lineage: string;
  dataset: { bytes: number; crc32: number };
  /** [pk, id, kind (index in KINDS), key, redacted, messages start, end, tools start, end] */
  runs: unknown[];
}

function writeMemo(
  files: { dataset: string; memo: string },
  lineage: string,
  entries: Map<string, MemoEntry>,
  dataset: DatasetSum,
  placed: readonly Placement[],
): number | undefined {
  const where = new Map(placed.map((p) => [p.run, p]));
  const runs: unknown[] = [];
  for (const [run, entry] of entries) {
    const at = run.indexOf(':');
    const pk = Number(run.slice(0, at));
    const id = run.slice(at + 1);
    const kind = KINDS.indexOf(entry.kind);
    if (entry.kind === 'empty') runs.push([pk, id, kind]);
    else if (entry.kind !== 'example') runs.push([pk, id, kind, entry.key]);
    else {
      const p = where.get(run);
      if (!p) continue; // not in this dataset: read again next time
      runs.push([pk, id, kind, entry.key, entry.redacted, ...p.messages, ...(p.tools ?? [])]);
    }
  }
  const memo: MemoFile = {
    format: MEMO_FORMAT,
    code: memoCodeId(),
    lineage,
    dataset: { bytes: dataset.bytes, crc32: dataset.crc32 },
    runs,
  };
  const bytes = Buffer.from(JSON.stringify(memo));
  try {
    // Torn by a crash, it no longer parses or matches, and is not used.
    writeCacheFileSync(files.memo, bytes);
    return zlib.crc32(bytes);
  } catch {
    // Not written (disk full, a folder in the way): the next export reads every run, as without it.
    return undefined;
  }
}

/** The entries a memo file holds, or undefined when it is missing or does not match its dataset or this code. */
function readMemo(
  files: { dataset: string; memo: string },
  lineage: string,
  wrote: Wrote | undefined,
): Map<string, MemoEntry> | undefined {
  let memo: Buffer;
  let dataset: Buffer;
  try {
    memo = readCapped(files.memo, MAX_MEMO_FILE_BYTES);
    dataset = readCapped(files.dataset, MAX_DATASET_READ_BYTES);
  } catch {
    return undefined; // missing, not a regular file, too large
  }
  const entries = memoEntries(memo, dataset, lineage, wrote);
  for (;;) {
    const step = entries.next();
    if (step.done) return step.value;
  }
}

/** readMemo with the files read off the event loop and the checks taken MEMO_SLICE_MS at a time. */
async function readMemoSliced(
  files: { dataset: string; memo: string },
  lineage: string,
  wrote: Wrote | undefined,
): Promise<Map<string, MemoEntry> | undefined> {
  let memo: Buffer;
  let dataset: Buffer;
  try {
    memo = await readCappedAsync(files.memo, MAX_MEMO_FILE_BYTES);
    dataset = await readCappedAsync(files.dataset, MAX_DATASET_READ_BYTES);
  } catch {
    return undefined;
  }
  const entries = memoEntries(memo, dataset, lineage, wrote);
  let until = performance.now() + MEMO_SLICE_MS;
  for (;;) {
    const step = entries.next();
    if (step.done) return step.value;
    if (performance.now() >= until) {
      await new Promise((resolve) => setImmediate(resolve));
      until = performance.now() + MEMO_SLICE_MS;
    }
  }
}

/** How long the sliced read of a memo holds the event loop at a time. */
const MEMO_SLICE_MS = 8;
/** The dataset's CRC is taken this many bytes at a time. */
const CRC_CHUNK_BYTES = 2 * 2 ** 20;

/**
 * Checks a memo against its dataset, this code and this database, and each example's messages and tools: UTF-8, and
 * JSON as an export writes it (a memo from elsewhere must not put any bytes it likes into a dataset, a newline that
 * cuts a line in two included), yielding between pieces of work. The memo and dataset this process wrote (`wrote`),
 * both unchanged, are its own: their examples are not checked again. An entry's messages are a view of the dataset's
 * bytes, which it keeps while it lives.
 */
function* memoEntries(
  memoBytes: Buffer,
  bytes: Buffer,
  lineage: string,
  wrote: Wrote | undefined,
): Generator<void, Map<string, MemoEntry> | undefined> {
  const sha =
    wrote !== undefined && zlib.crc32(memoBytes) === wrote.memoCrc ? createHash('sha256') : undefined;
  let memo: MemoFile;
  try {
    memo = JSON.parse(memoBytes.toString('utf8')) as MemoFile;
  } catch {
    return undefined;
  }
  if (
    typeof memo !== 'object' ||
    memo === null ||
    memo.format !== MEMO_FORMAT ||
    memo.code !== memoCodeId() ||
    memo.lineage !== lineage ||
    !Array.isArray(memo.runs) ||
    bytes.length !== memo.dataset?.bytes
  )
    return undefined;
  let crc = 0;
  for (let at = 0; at < bytes.length; at += CRC_CHUNK_BYTES) {
    const chunk = bytes.subarray(at, at + CRC_CHUNK_BYTES);
    crc = zlib.crc32(chunk, crc);
    sha?.update(chunk);
    yield;
  }
  if (crc !== memo.dataset.crc32) return undefined;
  const ours = sha !== undefined && sha.digest('hex') === wrote?.datasetSha256;
  const entries = new Map<string, MemoEntry>();
  let kept = 0;
  for (const [i, row] of memo.runs.entries()) {
    const entry = memoEntry(row, bytes, ours);
    if (!entry) return undefined;
    if (entry[1].kind === 'example') {
      kept += entry[1].messages.length + (entry[1].tools?.length ?? 0);
      if (kept > MAX_MEMO_BYTES) return undefined;
    }
    entries.set(entry[0], entry[1]);
    if (i % 64 === 63) yield;
  }
  return entries;
}

function memoEntry(row: unknown, bytes: Buffer, ours: boolean): [string, MemoEntry] | undefined {
  if (!Array.isArray(row)) return undefined;
  const [pk, id, kind, key, redacted, ...at] = row as unknown[];
  if (!Number.isSafeInteger(pk) || typeof id !== 'string' || typeof kind !== 'number') return undefined;
  const run = `${pk as number}:${id}`;
  const name = KINDS[kind];
  if (name === 'empty') return row.length === 3 ? [run, { kind: name }] : undefined;
  if (typeof key !== 'string' || !/^[0-9a-f]{64}$/.test(key)) return undefined;
  if (name === 'aborted' || name === 'key') return row.length === 4 ? [run, { kind: name, key }] : undefined;
  if (name !== 'example' || !Number.isSafeInteger(redacted) || (at.length !== 2 && at.length !== 4))
    return undefined;
  const span = (from: unknown, to: unknown): Buffer | undefined =>
    Number.isSafeInteger(from) &&
    Number.isSafeInteger(to) &&
    0 <= (from as number) &&
    (from as number) <= (to as number) &&
    (to as number) <= bytes.length
      ? bytes.subarray(from as number, to as number)
      : undefined;
  const messages = span(at[0], at[1]);
  const tools = at.length === 4 ? span(at[2], at[3]) : undefined;
  if (messages === undefined || (at.length === 4 && tools === undefined)) return undefined;
  // What an export wrote: a list of messages without its brackets, and a list of tools, in UTF-8 (the bytes are
  // copied into the next dataset as they are).
  if (!ours && (!isExportedJson(messages, true) || (tools !== undefined && !isExportedJson(tools, false))))
    return undefined;
  return [
    run,
    { kind: name, key, messages, ...(tools !== undefined && { tools }), redacted: redacted as number },
  ];
}

/**
 * Whether `bytes` are UTF-8 and JSON exactly as JSON.stringify writes a non-empty list (`unbracketed`: without its
 * brackets, as an example's messages are kept): no whitespace between tokens, so no newline to cut a line, and
 * nothing a dataset line could not hold.
 */
function isExportedJson(bytes: Buffer, unbracketed: boolean): boolean {
  if (!isUtf8(bytes)) return false;
  const text = unbracketed ? `[${bytes.toString('utf8')}]` : bytes.toString('utf8');
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && (!unbracketed || value.length > 0) && JSON.stringify(value) === text;
  } catch {
    return false;
  }
}

/** readCapped off the event loop. */
async function readCappedAsync(file: string, max: number): Promise<Buffer> {
  const handle = await fs.promises.open(file, REGULAR_FILE_FLAGS);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error(`${file} is not a regular file`);
    if (stat.size > max) throw new Error(`${file} is larger than ${max} bytes`);
    const buf = Buffer.alloc(stat.size);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await handle.close();
  }
}

/** As openRegularFile opens: no link followed, no FIFO waited on. */
const REGULAR_FILE_FLAGS =
  fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);

/** A regular file's bytes (no link followed, no FIFO waited on), refused past `max`. */
function readCapped(file: string, max: number): Buffer {
  const { fd, stat } = openRegularFile(file);
  try {
    if (stat.size > max) throw new Error(`${file} is larger than ${max} bytes`);
    const buf = Buffer.alloc(stat.size);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A run as an export sees it, its system message aside (that follows the prompt variant's text, which may change).
 * `messages` is the JSON of its messages without the brackets, `tools` the JSON of its tools, in UTF-8: the bytes
 * the dataset holds, outside V8's heap (as strings, the examples of an export outlived V8's young generation, which
 * grew to its largest for them). `key`: an example whose messages were not kept (see ExportMemo.keep), which an
 * export can use only when it is a duplicate again.
 */
type MemoEntry =
  | { kind: 'empty' } // no output: never an example
  | { kind: 'aborted'; key: string } // a stream the client abandoned: counted for dedup, never an example
  | { kind: 'example'; key: string; messages: Buffer; tools?: Buffer; redacted: number }
  | { kind: 'key'; key: string };

export function exportSft(store: StoreReader, opts: ExportOptions): ExportResult {
  const job = new SftExport(() => store, opts);
  job.step(Infinity);
  return job.finish();
}

/**
 * An export taken a slice at a time (`step`), so that an auto-export never holds the event loop for long: the
 * candidates come best first through the (role, reward, pk) index, so reading stops at the run that completes
 * maxExamples (a role's duplicates cost only the rows read before then, never a pass over its history), and runs
 * recorded after it began are left for the next export (its watermark).
 */
export class SftExport {
  private readonly seen = new Set<string>();
  /** The dataset's bytes so far, a line per example. */
  private readonly out = new DatasetBytes();
  private count = 0;
  /** For the memo: where the messages (and tools) of each example it kept are in the dataset. */
  private readonly placed: Placement[] = [];
  private duplicatesSkipped = 0;
  private secretsRedacted = 0;
  private readonly watermarkPk: number;
  private store: StoreReader;
  private candidates: Iterator<ExportCandidate>;
  /** The last candidate taken (reward, pk): where reading goes on if the database is reloaded between slices. */
  private last: [number, number] | undefined;
  private exhausted = false;
  /** Runs the memo has: read without their texts. */
  private readonly known: ((pk: number, id: string) => boolean) | undefined;

  /** `source`: the store now; a process that does not own the database reloads it (a new Store) when it changes. */
  constructor(
    private readonly source: () => StoreReader,
    private readonly opts: ExportOptions,
  ) {
    this.store = source();
    this.watermarkPk = opts.upToPk ?? this.store.maxPk();
    const memo = opts.memo;
    this.known = memo && ((pk, id) => this.knownNow(memo, pk, id));
    memo?.begin(this.store.lineage());
    this.candidates = this.store.exportCandidates(
      opts.role,
      opts.minReward,
      opts.tier,
      this.watermarkPk,
      undefined,
      this.known,
    );
    if (opts.maxExamples <= 0) this.exhausted = true;
  }

  /** Whether every example is taken (or there are no more candidates). */
  get done(): boolean {
    return this.exhausted || this.count >= this.opts.maxExamples;
  }

  /** Takes candidates for about `budgetMs` (at least one), or until done. */
  step(budgetMs: number): void {
    if (this.done) return;
    const store = this.source();
    if (store !== this.store) {
      // Reloaded between slices (the old one is closed): the same query on the new one, from where it left off.
      this.store = store;
      const { role, minReward, tier } = this.opts;
      this.candidates = store.exportCandidates(
        role,
        minReward,
        tier,
        this.watermarkPk,
        this.last,
        this.known,
      );
    }
    const until = performance.now() + budgetMs;
    do {
      const next = this.candidates.next();
      if (next.done) {
        this.exhausted = true;
        return;
      }
      this.take(next.value);
    } while (!this.done && performance.now() < until);
  }

  /** Writes the dataset (atomically) with what was taken. */
  finish(): ExportResult {
    const { opts } = this;
    fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    const pieces = new DatasetPieces(this.out.pieces());
    writeFileAtomicSync(opts.file, pieces);
    return this.finished(pieces.sum());
  }

  /**
   * `finish` with the dataset written off the event loop (a 4 MB dataset's write and fsync held it 20-40 ms).
   * Undefined when `finish` wrote it meanwhile (closing).
   */
  async finishAsync(): Promise<ExportResult | undefined> {
    const { opts } = this;
    await fs.promises.mkdir(path.dirname(opts.file), { recursive: true });
    const pieces = new DatasetPieces(this.out.pieces());
    await writeFileAtomic(opts.file, pieces, () => {
      if (this.written) throw new FinishedMeanwhile();
    });
    return this.written ? undefined : this.finished(pieces.sum());
  }

  private written = false;

  private finished(dataset: DatasetSum): ExportResult {
    const { opts } = this;
    this.written = true;
    opts.memo?.finished(dataset, this.placed);
    return {
      role: opts.role,
      file: opts.file,
      count: this.count,
      duplicatesSkipped: this.duplicatesSkipped,
      secretsRedacted: this.secretsRedacted,
      watermarkPk: this.watermarkPk,
      minReward: opts.minReward,
    };
  }

  private take(run: ExportCandidate): void {
    this.last = [run.reward, run.pk];
    const entry = (run.known && this.opts.memo?.get(run.pk, run.id)) || digest(run);
    const duplicate = entry.kind !== 'empty' && this.seen.has(entry.key);
    const kept = this.opts.memo?.keep(run.pk, run.id, entry, duplicate);
    if (entry.kind === 'empty') return;
    if (duplicate) {
      this.duplicatesSkipped++;
      return;
    }
    this.seen.add(entry.key);
    if (entry.kind === 'aborted') return;
    if (entry.kind === 'key')
      throw new Error(`export memo: run ${run.id} was taken as known without its messages`);
    const system = scrubSecrets(this.opts.systemPrompt(run.promptId, run.role));
    this.secretsRedacted += entry.redacted + count(system.found);
    // The same bytes as JSON.stringify({ messages: [system?, ...messages], tools? }) and a newline.
    const head =
      MESSAGES_OPEN + (system.text ? JSON.stringify({ role: 'system', content: system.text }) + ',' : '');
    const { messages, tools } = entry;
    const at = this.out.line(
      tools === undefined ? [head, messages, ']}\n'] : [head, messages, TOOLS_OPEN, tools, '}\n'],
    );
    this.count++;
    if (kept?.kind === 'example') {
      this.placed.push({
        run: `${run.pk}:${run.id}`,
        messages: [at[1]!, at[1]! + messages.length],
        ...(tools !== undefined && { tools: [at[3]!, at[3]! + tools.length] as [number, number] }),
      });
    }
  }

  /** Whether a run can be taken without its texts: its memo entry, if any, has what this export needs of it. */
  private knownNow(memo: ExportMemo, pk: number, id: string): boolean {
    const entry = memo.get(pk, id);
    return entry !== undefined && (entry.kind !== 'key' || this.seen.has(entry.key));
  }
}

/** finishAsync's write, not renamed into place: `finish` wrote the dataset meanwhile. */
export class FinishedMeanwhile extends Error {}

/** A dataset's size in bytes and its CRC-32, as its memo records them, and its SHA-256 (see ExportMemo.wrote). */
interface DatasetSum {
  bytes: number;
  crc32: number;
  sha256: string;
}

/**
 * A dataset's bytes as they are made, a line at a time, in chunks of about CHUNK_BYTES (a line is never split). Its
 * lines used to be strings, joined into pieces to be written: they outlived V8's young generation, which grew to its
 * largest for them, and each piece was a string and a buffer at once.
 */
class DatasetBytes {
  private readonly chunks: Buffer[] = [];
  private chunk = Buffer.alloc(0);
  private at = 0;
  /** The bytes in `chunks`. */
  private before = 0;

  /** Appends a line made of `parts`, whole in one chunk, and returns where in the dataset each part begins. */
  line(parts: readonly (string | Uint8Array)[]): number[] {
    const lengths = parts.map((p) => (typeof p === 'string' ? Buffer.byteLength(p) : p.length));
    const bytes = lengths.reduce((a, b) => a + b, 0);
    if (this.at + bytes > this.chunk.length) {
      if (this.at > 0) this.chunks.push(this.chunk.subarray(0, this.at));
      this.before += this.at;
      // The first chunks small (a tier's dataset may be a few lines), then doubling up to CHUNK_BYTES.
      const next = Math.min(CHUNK_BYTES, Math.max(FIRST_CHUNK_BYTES, 2 * this.chunk.length));
      this.chunk = Buffer.allocUnsafe(Math.max(next, bytes));
      this.at = 0;
    }
    return parts.map((part, i) => {
      const start = this.before + this.at;
      if (typeof part === 'string') this.chunk.write(part, this.at);
      else this.chunk.set(part, this.at);
      this.at += lengths[i]!;
      return start;
    });
  }

  /** The bytes so far, chunk by chunk. */
  pieces(): Buffer[] {
    return this.at > 0 ? [...this.chunks, this.chunk.subarray(0, this.at)] : [...this.chunks];
  }
}

/** About how many bytes of a dataset one chunk holds, at most (a longer line has one of its own), and at first. */
const CHUNK_BYTES = 2 ** 20;
const FIRST_CHUNK_BYTES = 64 * 1024;

/** A dataset's bytes in pieces, summed as they are written. */
class DatasetPieces implements Iterable<Uint8Array> {
  private bytes = 0;
  private crc32 = 0;
  private sha256 = '';
  private complete = false;

  constructor(private readonly chunks: readonly Buffer[]) {}

  *[Symbol.iterator](): Iterator<Uint8Array> {
    this.bytes = 0;
    this.crc32 = 0;
    this.complete = false;
    const digest = createHash('sha256');
    for (const piece of this.chunks) {
      this.bytes += piece.length;
      this.crc32 = zlib.crc32(piece, this.crc32);
      digest.update(piece);
      yield piece;
    }
    this.sha256 = digest.digest('hex');
    this.complete = true;
  }

  /** What was made, once every piece was taken. */
  sum(): DatasetSum {
    if (!this.complete) throw new Error('dataset pieces: summed before they were all written');
    return { bytes: this.bytes, crc32: this.crc32, sha256: this.sha256 };
  }
}

/** How a dataset line begins, and what comes between its messages and its tools (see `take`). */
const MESSAGES_OPEN = '{"messages":[';
const TOOLS_OPEN = '],"tools":';

/** What an export takes from a run's texts: its dedup key and its messages, secrets scrubbed (system message aside). */
function digest(run: ExportCandidate): MemoEntry {
  if (run.output.trim() === '') return { kind: 'empty' };
  const key = createHash('sha256')
    .update(normalise(run.input))
    .update('\0')
    .update(normalise(run.output))
    .digest('hex');
  const recorded = recordedChat(run.input, run.output);
  if (recorded === 'aborted') return { kind: 'aborted', key };
  let redacted = 0;
  const scrub = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const r = scrubSecrets(value);
      redacted += count(r.found);
      return r.text;
    }
    if (Array.isArray(value)) return value.map(scrub);
    if (typeof value === 'object' && value !== null)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v)]));
    return value;
  };
  // A run recorded as a conversation (the gateway's): its own messages, tool calls and tools.
  const messages = recorded
    ? scrub([...recorded.messages, recorded.reply])
    : [
        { role: 'user', content: scrub(run.input) },
        { role: 'assistant', content: scrub(run.output) },
      ];
  return {
    kind: 'example',
    key,
    messages: Buffer.from(JSON.stringify(messages).slice(1, -1)),
    ...(recorded && recorded.tools && { tools: Buffer.from(JSON.stringify(scrub(recorded.tools))) }),
    redacted,
  };
}

function count(found: Record<string, number>): number {
  return Object.values(found).reduce((a, b) => a + b, 0);
}

function normalise(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * A run whose input is `{"messages": [...]}` and whose output is the assistant's message (as the gateway records
 * them), or `aborted` for one the client abandoned mid-stream: never a training example. Undefined: plain text.
 */
function recordedChat(
  input: string,
  output: string,
): { messages: unknown[]; tools?: unknown[]; reply: Record<string, unknown> } | 'aborted' | undefined {
  if (!input.startsWith('{"messages":') || !output.startsWith('{')) return undefined;
  try {
    const conversation = JSON.parse(input) as { messages?: unknown; tools?: unknown };
    const reply = JSON.parse(output) as Record<string, unknown>;
    if (!Array.isArray(conversation.messages) || reply.role !== 'assistant') return undefined;
    if (reply.aborted === true) return 'aborted';
    return {
      messages: conversation.messages,
      ...(Array.isArray(conversation.tools) && { tools: conversation.tools }),
      reply,
    };
  } catch {
    return undefined;
  }
}
