// Runs' input and output texts, kept beside the database instead of in it: sql.js holds the whole database in
// memory and writes all of it at every save, and the texts are nearly all of its size (4 KB of text against ~300
// bytes of numbers a run). Here they are appended once to segment files and addressed from the database.
//
// Layout (.agent/texts/):
//   000001.seg, 000002.seg, …   append-only; a new file once one reaches SEGMENT_BYTES
// Each record, at the offset the database's run_text_refs row (a run's texts) or run_change_refs row (a run's change:
// its files as JSON for the input, its unified diff for the output) gives, with the length it gives:
//   "ALTX"                    4 bytes, magic
//   version                   1 byte, 1
//   codec                     1 byte: 0 the texts as they are, 1 deflate (raw, RFC 1951)
//   reserved                  2 bytes, 0
//   id length                 u32 LE, bytes of the run id
//   payload length            u32 LE, bytes of the payload as written
//   input length              u32 LE, bytes of the input in the decoded payload
//   crc32                     u32 LE, of the id and the payload as written
//   id                        the run id, UTF-8
//   payload                   input and output, UTF-8, one after the other (decoded by the codec)
// A record is written, fsync'ed, and only then named by the database; what a crash or a failed write leaves that no
// row names is never read (the runs it held come back from the inbox journal and are written again).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { describe } from '../errors';
import { syncDirectory } from '../workspace/atomicFile';

/** Where a run's texts are: the segment's number and the record's place in it. */
export interface TextRef {
  segment: number;
  offset: number;
  length: number;
}

/** A run's texts to be written. */
export interface TextRecord {
  pk: number;
  id: string;
  input: string;
  output: string;
}

/** A run's texts, or why they cannot be read (the run itself is kept). */
export type TextsRead = { input: string; output: string } | { unavailable: string };

/** A segment gets no more records once it is this big. */
export const SEGMENT_BYTES = 64 * 2 ** 20;
const MAGIC = Buffer.from('ALTX');
const HEADER_BYTES = 24;
const CODEC_PLAIN = 0;
const CODEC_DEFLATE = 1;
/** Texts shorter than this are not worth compressing. */
const MIN_DEFLATE_BYTES = 256;
/**
 * The most a record's texts may decode to: an input and an output at the largest `storage.maxTextBytes` (64 MiB),
 * with room for the cut markers.
 */
const MAX_DECODED_BYTES = 2 * 64 * 2 ** 20 + 4096;
/** Deflates in flight at once in `append`. */
const PARALLEL_DEFLATES = 4;
/** Read file descriptors kept open (the newest segments are read most). */
const MAX_OPEN_READERS = 8;

const deflateRaw = promisify(zlib.deflateRaw);
const writeAsync = promisify(fs.write);
const fdatasyncAsync = promisify(fs.fdatasync);

/**
 * zlib's output buffer for a record: about the record's size, not zlib's default 16 KiB, which each deflate and
 * inflate allocates whole. With records of a few KiB, most of it was never written: importing 20k runs (4 KiB of
 * texts each) allocated 313 MiB of these for the garbage collector, and reading 1,000 runs' texts 16 MiB. A deflate
 * is at most a little larger than its input (it then goes on in a second buffer); an inflate sized at four times its
 * payload (what text typically shrinks to) takes more buffers only when it inflates further.
 */
function chunkFor(bytes: number): number {
  return Math.min(zlib.constants.Z_DEFAULT_CHUNK, Math.max(zlib.constants.Z_MIN_CHUNK, bytes));
}

export function segmentName(segment: number): string {
  return `${String(segment).padStart(6, '0')}.seg`;
}

const SEGMENT_FILE = /^(\d{6,})\.seg$/;

export class TextSegments {
  private readonly readers = new Map<number, number>();
  /** The segment appended to and where its next record goes (see reserve). */
  private tail: { segment: number; next: number } | undefined;
  private closed = false;

  constructor(readonly dir: string) {}

  // ---- writing (the database's owner only) ----

  /**
   * Appends the records to the newest segment and fsyncs it, compressing, writing and syncing off the event loop
   * (libuv's thread pool). Returns where each run's texts are, by pk. On failure nothing is named, and the texts
   * stay where they are.
   */
  async append(records: readonly TextRecord[]): Promise<Map<number, TextRef>> {
    if (records.length === 0) return new Map();
    // A few at a time: each deflate in flight holds ~256 KiB of zlib state, and libuv runs four at once anyway.
    const encoded: Encoded[] = new Array<Encoded>(records.length);
    let next = 0;
    const worker = async () => {
      const scratch = new Scratch();
      while (next < records.length) {
        const i = next++;
        encoded[i] = await encodeAsync(records[i]!, scratch);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_DEFLATES, records.length) }, worker));
    const buffer = pack(encoded);
    const at = this.reserve(buffer.length);
    const fd = this.openForWriting(at.segment);
    try {
      let written = 0;
      while (written < buffer.length) {
        const { bytesWritten } = await writeAsync(
          fd,
          buffer,
          written,
          buffer.length - written,
          at.offset + written,
        );
        written += bytesWritten;
      }
      await fdatasyncAsync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return refsOf(records, encoded, at);
  }

  /** `append`, all on this thread (for a save that must finish before it returns). */
  appendSync(records: readonly TextRecord[]): Map<number, TextRef> {
    if (records.length === 0) return new Map();
    const scratch = new Scratch();
    const encoded = records.map((r) => encodeSync(r, scratch));
    const buffer = pack(encoded);
    const at = this.reserve(buffer.length);
    const fd = this.openForWriting(at.segment);
    try {
      let written = 0;
      while (written < buffer.length) {
        written += fs.writeSync(fd, buffer, written, buffer.length - written, at.offset + written);
      }
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return refsOf(records, encoded, at);
  }

  /**
   * Where the next `bytes` go: ranges are handed out here, in order, so that an append still being written in the
   * background and one made meanwhile (closeSync's) never overlap; and never below what the disk holds, in case
   * another process owned the database (and appended) meanwhile. What a failed or abandoned append wrote is never
   * named by the database, so it is never read; the next range simply starts after it.
   */
  private reserve(bytes: number): { segment: number; offset: number } {
    fs.mkdirSync(this.dir, { recursive: true });
    let segment = Math.max(this.newestSegment(), this.tail?.segment ?? 1);
    const onDisk = (n: number) => sizeOrZero(path.join(this.dir, segmentName(n)));
    let offset = Math.max(onDisk(segment), segment === this.tail?.segment ? this.tail.next : 0);
    if (offset >= SEGMENT_BYTES) {
      segment++;
      offset = onDisk(segment);
    }
    // Something else planted under a segment's name (a directory, a FIFO, a link) is passed over, not written to.
    while (!regularOrAbsent(path.join(this.dir, segmentName(segment)))) {
      segment++;
      offset = onDisk(segment);
    }
    this.tail = { segment, next: offset + bytes };
    return { segment, offset };
  }

  private openForWriting(segment: number): number {
    const file = path.join(this.dir, segmentName(segment));
    const created = !fs.existsSync(this.dir) || sizeOrZero(file) === 0;
    fs.mkdirSync(this.dir, { recursive: true });
    const fd = fs.openSync(
      file,
      // O_NONBLOCK: a FIFO planted here must not block the open (it is then refused as not a regular file).
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
      0o644,
    );
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      throw new Error(`${segmentName(segment)} is not a regular file`);
    }
    if (created) {
      // A new segment's name (and texts/ itself) must survive a crash before the database names its records.
      syncDirectory(this.dir);
      syncDirectory(path.dirname(this.dir));
    }
    return fd;
  }

  private newestSegment(): number {
    let newest = 1;
    for (const name of fs.readdirSync(this.dir)) {
      const m = SEGMENT_FILE.exec(name);
      if (m) newest = Math.max(newest, Number(m[1]));
    }
    return newest;
  }

  // ---- reading ----

  /** The texts of run `id` at `ref`, checked against the record's id and checksum. */
  read(ref: TextRef, id: string): TextsRead {
    const name = path.join(path.basename(this.dir), segmentName(ref.segment));
    let fd: number;
    try {
      fd = this.reader(ref.segment);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { unavailable: code === 'ENOENT' ? `${name} is missing` : `${name}: ${describe(err)}` };
    }
    // The row's numbers are checked against the file before anything is allocated: a database from elsewhere (a
    // cloned repository's .agent/) may name any length.
    let size: number;
    try {
      size = fs.fstatSync(fd).size;
    } catch (err) {
      return { unavailable: `${name}: ${describe(err)}` };
    }
    if (
      !Number.isSafeInteger(ref.offset) ||
      !Number.isSafeInteger(ref.length) ||
      ref.offset < 0 ||
      ref.length < 0
    ) {
      return { unavailable: `the database names no valid place in ${name}` };
    }
    if (ref.offset + ref.length > size) {
      return { unavailable: `${name} ends at byte ${size}, before this run's texts end (truncated)` };
    }
    const record = Buffer.alloc(ref.length);
    let got = 0;
    try {
      while (got < ref.length) {
        const n = fs.readSync(fd, record, got, ref.length - got, ref.offset + got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      return { unavailable: `${name}: ${describe(err)}` };
    }
    if (got < ref.length) {
      return {
        unavailable: `${name} ends at byte ${ref.offset + got}, before this run's texts end (truncated)`,
      };
    }
    const decoded = decode(record, id);
    return typeof decoded === 'string'
      ? { unavailable: `${name} at byte ${ref.offset}: ${decoded}` }
      : decoded;
  }

  /**
   * Whether `ref` lies within its segment as the segment is now: a cheap check (one fstat), for texts an export
   * remembers instead of reading; `read` verifies the record itself.
   */
  holds(ref: TextRef, sizes?: Map<number, number>): boolean {
    if (
      !Number.isSafeInteger(ref.offset) ||
      !Number.isSafeInteger(ref.length) ||
      ref.offset < 0 ||
      ref.length < 0
    )
      return false;
    try {
      let size = sizes?.get(ref.segment);
      if (size === undefined) {
        size = fs.fstatSync(this.reader(ref.segment)).size;
        sizes?.set(ref.segment, size);
      }
      return ref.offset + ref.length <= size;
    } catch {
      return false;
    }
  }

  private reader(segment: number): number {
    const open = this.readers.get(segment);
    if (open !== undefined) {
      // Most recently used last.
      this.readers.delete(segment);
      this.readers.set(segment, open);
      return open;
    }
    if (this.closed) throw new Error('the store is closed');
    const fd = fs.openSync(
      path.join(this.dir, segmentName(segment)),
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
    );
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      throw new Error('not a regular file');
    }
    this.readers.set(segment, fd);
    if (this.readers.size > MAX_OPEN_READERS) {
      const [oldest, oldFd] = this.readers.entries().next().value as [number, number];
      this.readers.delete(oldest);
      fs.closeSync(oldFd);
    }
    return fd;
  }

  /** Closes the files kept open for reading; reading again reopens them. */
  release(): void {
    for (const fd of this.readers.values()) fs.closeSync(fd);
    this.readers.clear();
  }

  close(): void {
    this.release();
    this.closed = true;
  }
}

function regularOrAbsent(file: string): boolean {
  try {
    return fs.lstatSync(file).isFile();
  } catch {
    return true;
  }
}

function sizeOrZero(file: string): number {
  try {
    return fs.lstatSync(file).size;
  } catch {
    return 0;
  }
}

function refsOf(
  records: readonly TextRecord[],
  encoded: readonly Encoded[],
  at: { segment: number; offset: number },
): Map<number, TextRef> {
  const refs = new Map<number, TextRef>();
  let offset = at.offset;
  records.forEach((r, i) => {
    const length = recordBytes(encoded[i]!);
    refs.set(r.pk, { segment: at.segment, offset, length });
    offset += length;
  });
  return refs;
}

/**
 * A run's record before it is written: its payload (deflated, or a copy of its texts) and what its header says. The
 * records of an append are then laid out in one buffer (`pack`). Each buffer made for a record is garbage at once
 * and waits for the collector outside V8's heap, in the allocator's: a record's input, output, joined texts, header
 * and framed record apart came to ~15 KB a run, tens of MiB between collections in an import, which the allocator
 * kept once freed.
 */
interface Encoded {
  id: string;
  idBytes: number;
  codec: number;
  payload: Buffer;
  inputBytes: number;
}

/** A buffer reused for a run's texts while they are encoded (one per deflate in flight). */
class Scratch {
  private buffer = Buffer.allocUnsafe(0);

  /** The run's input then output, UTF-8, in the scratch buffer (valid until the next call). */
  texts(r: TextRecord): { plain: Buffer; inputBytes: number } {
    const inputBytes = Buffer.byteLength(r.input, 'utf8');
    const bytes = inputBytes + Buffer.byteLength(r.output, 'utf8');
    if (this.buffer.length < bytes)
      this.buffer = Buffer.allocUnsafe(Math.max(bytes, 2 * this.buffer.length, 16384));
    const plain = this.buffer.subarray(0, bytes);
    // Every byte written (the buffer holds an earlier run's otherwise): UTF-8 as byteLength counts it.
    if (plain.write(r.input, 0, 'utf8') + plain.write(r.output, inputBytes, 'utf8') !== bytes)
      throw new Error(`run ${r.id}: its texts did not encode to the length counted`);
    return { plain, inputBytes };
  }
}

function encodeSync(r: TextRecord, scratch: Scratch): Encoded {
  const { plain, inputBytes } = scratch.texts(r);
  const deflated =
    plain.length >= MIN_DEFLATE_BYTES
      ? zlib.deflateRawSync(plain, { chunkSize: chunkFor(plain.length) })
      : undefined;
  return asRecord(r.id, plain, deflated, inputBytes);
}

async function encodeAsync(r: TextRecord, scratch: Scratch): Promise<Encoded> {
  const { plain, inputBytes } = scratch.texts(r);
  const deflated =
    plain.length >= MIN_DEFLATE_BYTES
      ? await deflateRaw(plain, { chunkSize: chunkFor(plain.length) })
      : undefined;
  return asRecord(r.id, plain, deflated, inputBytes);
}

function asRecord(id: string, plain: Buffer, deflated: Buffer | undefined, inputBytes: number): Encoded {
  const useDeflate = deflated !== undefined && deflated.length < plain.length;
  return {
    id,
    idBytes: Buffer.byteLength(id, 'utf8'),
    codec: useDeflate ? CODEC_DEFLATE : CODEC_PLAIN,
    // The texts as they are are copied out of the scratch buffer, which the next run reuses; deflated ones out of
    // zlib's output buffer when it is much larger (sized for the texts themselves), as it is kept until `pack`.
    payload: !useDeflate
      ? Buffer.from(plain)
      : deflated.buffer.byteLength > 2 * deflated.length
        ? Buffer.from(deflated)
        : deflated,
    inputBytes,
  };
}

function recordBytes(e: Encoded): number {
  return HEADER_BYTES + e.idBytes + e.payload.length;
}

/** The records, one after the other, in one buffer (the layout at the top of this file). */
function pack(records: readonly Encoded[]): Buffer {
  const out = Buffer.alloc(records.reduce((sum, e) => sum + recordBytes(e), 0));
  let at = 0;
  for (const e of records) {
    MAGIC.copy(out, at);
    out[at + 4] = 1;
    out[at + 5] = e.codec;
    out.writeUInt32LE(e.idBytes, at + 8);
    out.writeUInt32LE(e.payload.length, at + 12);
    out.writeUInt32LE(e.inputBytes, at + 16);
    const idAt = at + HEADER_BYTES;
    out.write(e.id, idAt, 'utf8');
    e.payload.copy(out, idAt + e.idBytes);
    const crc = zlib.crc32(e.payload, zlib.crc32(out.subarray(idAt, idAt + e.idBytes)));
    out.writeUInt32LE(crc, at + 20);
    at += recordBytes(e);
  }
  return out;
}

/** The texts in one record, or what is wrong with it. */
function decode(record: Buffer, id: string): { input: string; output: string } | string {
  if (record.length < HEADER_BYTES || !record.subarray(0, 4).equals(MAGIC)) return 'not a text record';
  if (record[4] !== 1) return `record version ${record[4]} is not one this release reads`;
  const idLength = record.readUInt32LE(8);
  const payloadLength = record.readUInt32LE(12);
  const inputBytes = record.readUInt32LE(16);
  if (HEADER_BYTES + idLength + payloadLength !== record.length) return 'the record length does not match';
  const idBytes = record.subarray(HEADER_BYTES, HEADER_BYTES + idLength);
  const payload = record.subarray(HEADER_BYTES + idLength);
  if (zlib.crc32(payload, zlib.crc32(idBytes)) !== record.readUInt32LE(20))
    return 'checksum mismatch (corrupt)';
  if (idBytes.toString('utf8') !== id)
    return `the record is run ${JSON.stringify(idBytes.toString('utf8'))}'s`;
  if (record[5] !== CODEC_DEFLATE && record[5] !== CODEC_PLAIN) return `unknown codec ${record[5]}`;
  let plain: Buffer;
  try {
    // Bounded: a record from elsewhere (a cloned repository's .agent/) may inflate a megabyte into gigabytes.
    plain =
      record[5] === CODEC_DEFLATE
        ? zlib.inflateRawSync(payload, {
            maxOutputLength: MAX_DECODED_BYTES,
            chunkSize: chunkFor(4 * payload.length),
          })
        : payload;
  } catch (err) {
    return `cannot be decompressed (${describe(err)})`;
  }
  if (inputBytes > plain.length) return 'the input length does not match';
  try {
    return {
      input: plain.toString('utf8', 0, inputBytes),
      output: plain.toString('utf8', inputBytes),
    };
  } catch (err) {
    return `cannot be read as text (${describe(err)})`;
  }
}
