// Reads safetensors files (Hugging Face's tensor format): an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the raw little-endian data. Tensors are read one at a
// time, so a caller never holds more than it asks for.

import * as fs from 'node:fs';
import { ConvertError } from '../errors';

/** Bytes per element of each dtype the format defines. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

/** Bytes per value of `dtype`, one of the dtypes a file's header may name. */
export function bytesPerValue(dtype: string): number {
  const bytes = DTYPE_BYTES[dtype];
  if (bytes === undefined) throw new Error(`safetensors has no dtype ${dtype}`);
  return bytes;
}

/** The safetensors library refuses headers above 100 MB; so do we, before allocating one. */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  /** Row-major (PyTorch) order: the last dimension is contiguous. */
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly tensors: ReadonlyMap<string, SafetensorsTensor>,
    /** The optional `__metadata__` string map. */
    readonly metadata: Readonly<Record<string, string>>,
    private readonly handle: fs.promises.FileHandle,
  ) {}

  /** Opens `file` and validates its header and every tensor's byte range against the file's size. */
  static async open(file: string): Promise<SafetensorsFile> {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConvertError(file, code === 'ENOENT' ? 'the file does not exist.' : `${String(err)}.`);
    }
    try {
      const { tensors, metadata } = await readHeader(file, handle);
      return new SafetensorsFile(file, tensors, metadata, handle);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Reads one tensor's raw bytes into `into` (at least the tensor's size), or a new buffer. */
  async read(tensor: SafetensorsTensor, into?: Uint8Array): Promise<Uint8Array> {
    const length = tensor.end - tensor.begin;
    const target = into ? into.subarray(0, length) : new Uint8Array(length);
    await readFully(this.path, this.handle, target, tensor.begin);
    return target;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function readHeader(
  file: string,
  handle: fs.promises.FileHandle,
): Promise<{ tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> }> {
  const size = (await handle.stat()).size;
  const bad = (reason: string, key?: string): ConvertError =>
    new ConvertError(
      file,
      `${reason} It is not a valid safetensors file; save the adapter again with save_pretrained().`,
      key,
    );
  if (size < 8) throw bad(`the file is ${size} bytes long, too short for a safetensors header (truncated?).`);
  const prefix = new Uint8Array(8);
  await readFully(file, handle, prefix, 0);
  const headerLength = new DataView(prefix.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw bad(`the header claims ${headerLength} bytes, more than the ${MAX_HEADER_BYTES} allowed.`);
  }
  const dataStart = 8 + Number(headerLength);
  if (dataStart > size) {
    throw bad(
      `the header claims ${headerLength} bytes but the file has ${size - 8} after the length (truncated?).`,
    );
  }
  const headerBytes = new Uint8Array(Number(headerLength));
  await readFully(file, handle, headerBytes, 8);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw bad(`the header is not valid UTF-8 JSON (${err instanceof Error ? err.message : String(err)}).`);
  }
  if (!isRecord(header)) throw bad('the header is not a JSON object.');

  const dataLength = size - dataStart;
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(entry) || !Object.values(entry).every((v) => typeof v === 'string'))
        throw bad('__metadata__ must map strings to strings.', name);
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isRecord(entry)) throw bad('the header entry is not an object.', name);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || DTYPE_BYTES[dtype] === undefined)
      throw bad(`unknown dtype ${JSON.stringify(dtype)}.`, name);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw bad('shape must be a list of sizes.', name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
      throw bad('data_offsets must be [begin, end].', name);
    const [begin, end] = offsets as [number, number];
    const expected = shape.reduce((n: number, d: number) => n * d, 1) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw bad(
        `data_offsets span ${end - begin} bytes but ${dtype} [${shape.join(', ')}] needs ${expected}.`,
        name,
      );
    }
    if (end > dataLength) {
      throw new ConvertError(
        file,
        `the tensor's data ends at byte ${dataStart + end} but the file has ${size} bytes: the file is truncated; copy or save it again.`,
        name,
      );
    }
    tensors.set(name, {
      name,
      dtype,
      shape: shape as number[],
      begin: dataStart + begin,
      end: dataStart + end,
    });
  }
  checkNoOverlap(tensors, bad);
  return { tensors, metadata };
}

function checkNoOverlap(
  tensors: Map<string, SafetensorsTensor>,
  bad: (reason: string, key?: string) => ConvertError,
): void {
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (sorted[i]!.begin < prev.end) throw bad(`its data overlaps ${prev.name}'s.`, sorted[i]!.name);
  }
}

async function readFully(
  file: string,
  handle: fs.promises.FileHandle,
  target: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) {
      throw new ConvertError(file, `the file ended at byte ${position + done} while reading (truncated?).`);
    }
    done += bytesRead;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
