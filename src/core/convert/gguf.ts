// Lays out GGUF v3 files, llama.cpp's model format: magic, version, counts, metadata key/values, tensor infos, then
// each tensor's data at an aligned offset. Only the value and tensor types this project writes are supported.
// Small files (LoRA adapters) are built in one buffer; models are streamed to disk a tensor at a time.
// Format: ggml-org/ggml docs/gguf.md; checked against gguf-py's writer and llama.cpp's reader.

import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { syncDirectory, TEMP_MARKER } from '../workspace/atomicFile';

export const GGUF_ALIGNMENT = 32; // general.alignment's default; we never write another
/** general.quantization_version: ggml's GGML_QNT_VERSION, which gguf-py writes into every file. */
export const GGML_QUANT_VERSION = 2;

/** ggml tensor types (ggml.h `enum ggml_type`). */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** Values per block and bytes per block (ggml's type traits): Q8_0 is an f16 scale and 32 int8 values. */
const BLOCK: Readonly<Record<GgmlType, { values: number; bytes: number }>> = {
  [GgmlType.F32]: { values: 1, bytes: 4 },
  [GgmlType.F16]: { values: 1, bytes: 2 },
  [GgmlType.Q8_0]: { values: 32, bytes: 34 },
  [GgmlType.BF16]: { values: 1, bytes: 2 },
};

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
const VALUE_TYPE = { int32: 5, uint32: 4, float32: 6, bool: 7, string: 8, array: 9 } as const;

export type GgufValue =
  | { type: 'string'; value: string }
  | { type: 'uint32'; value: number }
  | { type: 'int32'; value: number }
  | { type: 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'stringArray'; value: readonly string[] }
  | { type: 'int32Array'; value: ArrayLike<number> }
  | { type: 'float32Array'; value: ArrayLike<number> };

export interface GgufTensorInfo {
  name: string;
  /** ggml order: `ne[0]` is the contiguous dimension, the reverse of a PyTorch shape. */
  ne: readonly number[];
  type: GgmlType;
}

export interface GgufLayout {
  /** The whole file: everything but the tensor data written; the data regions are zero for the caller to fill. */
  bytes: Uint8Array;
  /** Each tensor's data region within `bytes`, in the order the tensors were given; each starts aligned. */
  data: Uint8Array[];
}

// llama.cpp's limits: GGML_MAX_NAME is 64 bytes with the terminating NUL, GGML_MAX_DIMS is 4.
const MAX_NAME_BYTES = 63;
const MAX_DIMS = 4;

/** Values and bytes per block of a ggml type: a row must hold whole blocks. */
export function ggmlBlock(type: GgmlType): { values: number; bytes: number } {
  return BLOCK[type];
}

/** Bytes of a tensor's data (without the alignment padding that follows it). */
export function ggmlTensorBytes(t: GgufTensorInfo): number {
  const block = BLOCK[t.type];
  if (t.ne[0]! % block.values !== 0)
    throw new Error(
      `GGUF tensor ${t.name}: rows of ${t.ne[0]} values do not split into blocks of ${block.values}`,
    );
  return (t.ne.reduce((n, d) => n * d, 1) / block.values) * block.bytes;
}

/** Builds the file in one buffer, so it can be written atomically; tensor data is left for the caller to fill. */
export function layoutGguf(
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorInfo[],
): GgufLayout {
  const { header, offsets, dataSize } = encodeHeader(metadata, tensors);
  const bytes = new Uint8Array(header.length + dataSize);
  bytes.set(header);
  return {
    bytes,
    data: tensors.map((t, i) =>
      bytes.subarray(header.length + offsets[i]!, header.length + offsets[i]! + ggmlTensorBytes(t)),
    ),
  };
}

export interface GgufTensorSource extends GgufTensorInfo {
  /**
   * Produces the tensor's data, exactly `ggmlTensorBytes(this)` bytes, in order, through `write`. Each chunk is
   * copied or written before `write` resolves, so a producer may reuse its buffer afterwards.
   */
  produce(write: (chunk: Uint8Array) => Promise<void>): Promise<void>;
}

/** Buffer for the streaming writer: few large writes, without holding more than this. */
const WRITE_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * Streams a GGUF file to `file` without holding its tensor data in memory: the header (whose tensor offsets only
 * depend on the tensors' sizes) first, then each tensor as its producer yields it. Writes a temp file beside the
 * target, fsyncs it and renames it over the target; on any error the temp file is removed and the target is left
 * as it was. Returns the file's size.
 */
export async function writeGguf(
  file: string,
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorSource[],
  onProgress?: (written: number, total: number) => void,
): Promise<number> {
  const { header, offsets, dataSize } = encodeHeader(metadata, tensors);
  const total = header.length + dataSize;
  const tmp = `${file}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await fs.promises.open(tmp, 'wx', 0o644);
  const out = new BufferedWriter(handle);
  try {
    await out.write(header);
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const start = out.position;
      await t.produce((chunk) => out.write(chunk));
      const expected = ggmlTensorBytes(t);
      if (out.position - start !== expected)
        throw new Error(
          `GGUF tensor ${t.name}: produced ${out.position - start} bytes, expected ${expected}`,
        );
      await out.write(new Uint8Array(header.length + (offsets[i + 1] ?? dataSize) - out.position));
      onProgress?.(out.position, total);
    }
    await out.flush();
    await handle.sync();
  } catch (err) {
    await out.settle();
    await handle.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }); // e.g. disk full: leave no half-written temp file behind
    throw err;
  }
  await handle.close();
  try {
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  syncDirectory(path.dirname(file));
  return total;
}

/**
 * Writes behind: a full buffer goes to the file while the next one fills, so the converters encode the next tensor
 * chunk while the kernel copies the last one out (two buffers; a chunk is always copied, since its producer reuses
 * its memory at once). A failed write is reported by the next `write` or `flush`.
 */
class BufferedWriter {
  private readonly buffers = [new Uint8Array(WRITE_BUFFER_BYTES), new Uint8Array(WRITE_BUFFER_BYTES)];
  private current = 0;
  private used = 0;
  /** The other buffer's write, while it is in flight. */
  private pending: Promise<void> | undefined;
  /** Bytes accepted so far, buffered or written. */
  position = 0;

  constructor(private readonly handle: fs.promises.FileHandle) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.position += chunk.length;
    for (let at = 0; at < chunk.length;) {
      const n = Math.min(WRITE_BUFFER_BYTES - this.used, chunk.length - at);
      this.buffers[this.current]!.set(chunk.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      if (this.used === WRITE_BUFFER_BYTES) await this.swap();
    }
  }

  /** Everything accepted is in the file (not yet fsynced). */
  async flush(): Promise<void> {
    if (this.used > 0) await this.swap();
    await this.pending;
    this.pending = undefined;
  }

  /** Waits for a write in flight, whatever its outcome (before the file is closed after an error). */
  async settle(): Promise<void> {
    await this.pending?.catch(() => undefined);
  }

  private async swap(): Promise<void> {
    await this.pending; // the other buffer is free again (or its write failed: report that now)
    const full = this.buffers[this.current]!.subarray(0, this.used);
    this.pending = this.writeFully(full);
    // Observed by the next swap or flush; until then it must not count as unhandled.
    this.pending.catch(() => undefined);
    this.current ^= 1;
    this.used = 0;
  }

  private async writeFully(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  }
}

/**
 * Encodes magic, version, counts, metadata and tensor infos, padded to the alignment; `offsets` are each tensor's
 * data offset from the end of the header, `dataSize` the data's total size with padding.
 */
function encodeHeader(
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorInfo[],
): { header: Uint8Array; offsets: number[]; dataSize: number } {
  if (new Set(tensors.map((t) => t.name)).size !== tensors.length)
    throw new Error('GGUF tensor names must be unique');
  const offsets: number[] = [];
  let dataSize = 0;
  for (const t of tensors) {
    if (t.ne.length < 1 || t.ne.length > MAX_DIMS || !t.ne.every((d) => Number.isSafeInteger(d) && d > 0))
      throw new Error(`GGUF tensor ${t.name} has invalid dimensions [${t.ne.join(', ')}]`);
    offsets.push(dataSize);
    dataSize = align(dataSize + ggmlTensorBytes(t));
  }

  const w = new HeaderWriter();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    w.value(key, value);
  }
  tensors.forEach((t, i) => {
    if (w.string(t.name) > MAX_NAME_BYTES) throw new Error(`GGUF tensor name too long: ${t.name}`);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.type);
    w.u64(offsets[i]!);
  });
  w.bytes(new Uint8Array(align(w.length) - w.length));
  return { header: w.result(), offsets, dataSize };
}

/** A little-endian byte writer that grows as needed (a model's vocabulary makes headers of several MB). */
class HeaderWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  private readonly encoder = new TextEncoder();
  length = 0;

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  u64(v: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }

  /** Writes a length-prefixed UTF-8 string; returns its length in bytes. */
  string(s: string): number {
    const b = this.encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
    return b.length;
  }

  value(key: string, v: GgufValue): void {
    const check = (ok: boolean) => {
      if (!ok) throw new Error(`GGUF metadata ${key}: ${JSON.stringify(v.value)} is not a valid ${v.type}`);
    };
    switch (v.type) {
      case 'string':
        this.u32(VALUE_TYPE.string);
        this.string(v.value);
        break;
      case 'uint32':
        check(Number.isInteger(v.value) && v.value >= 0 && v.value <= 0xffffffff);
        this.u32(VALUE_TYPE.uint32);
        this.u32(v.value);
        break;
      case 'int32':
        this.u32(VALUE_TYPE.int32);
        this.i32(key, v.value);
        break;
      case 'float32':
        this.u32(VALUE_TYPE.float32);
        this.f32(v.value);
        break;
      case 'bool':
        this.u32(VALUE_TYPE.bool);
        this.reserve(1);
        this.buf[this.length++] = v.value ? 1 : 0;
        break;
      case 'stringArray':
        this.array(VALUE_TYPE.string, v.value.length);
        for (const s of v.value) this.string(s);
        break;
      case 'int32Array':
        this.array(VALUE_TYPE.int32, v.value.length);
        for (let i = 0; i < v.value.length; i++) this.i32(key, v.value[i]!);
        break;
      case 'float32Array':
        this.array(VALUE_TYPE.float32, v.value.length);
        for (let i = 0; i < v.value.length; i++) this.f32(v.value[i]!);
        break;
    }
  }

  private array(itemType: number, count: number): void {
    this.u32(VALUE_TYPE.array);
    this.u32(itemType);
    this.u64(count);
  }

  private i32(key: string, v: number): void {
    if (!(Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff))
      throw new Error(`GGUF metadata ${key}: ${v} is not a valid int32`);
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }

  private f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
}

function align(n: number): number {
  return Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
}
