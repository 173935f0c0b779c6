// The converters' tensor data, read and encoded ahead of the writer on worker threads: each chunk of rows is read
// on the main thread, decoded and encoded (encodeWorker.ts) on one of the workers, and handed back in file order.
// Quantizing is the slow part of a conversion and runs one chunk per core, off the thread that called the
// converter; the bytes are those the same functions give on the main thread, where they run when the worker file
// is not beside this code (a host that bundled the core into a file of its own).

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ropeRowOrder } from './architectures';
import { GgmlType } from './gguf';
import { decodeRows, encodeF32Bits, type SourceDtype } from './numeric';

/** One chunk of a tensor's rows, in the order the file holds them. */
export interface ChunkSpec {
  /** The GGUF tensor it belongs to, checked against the writer's order. */
  tensor: string;
  dtype: SourceDtype;
  rows: number;
  cols: number;
  /** Rows per attention head when llama's q/k rows are permuted. */
  rowsPerHead?: number;
  type: GgmlType;
  /** The chunk's raw bytes, read into `into`; returns the part of `into` it filled. */
  read(into: Uint8Array): Promise<Uint8Array>;
}

/** Main thread → worker. `raw` and `out` are transferred, and come back in the reply. */
export interface EncodeRequest {
  id: number;
  raw: ArrayBuffer;
  rawLength: number;
  out: ArrayBuffer;
  dtype: SourceDtype;
  rows: number;
  cols: number;
  rowsPerHead: number;
  type: GgmlType;
}

export interface EncodeReply {
  id: number;
  raw: ArrayBuffer;
  out: ArrayBuffer;
  length: number;
}

/** At most this many workers: past it the disk, not the cores, sets the pace, and each holds a chunk's memory. */
export const MAX_ENCODE_THREADS = 4;

export function defaultEncodeThreads(): number {
  return Math.max(1, Math.min(MAX_ENCODE_THREADS, os.availableParallelism()));
}

interface BufferSet {
  raw: ArrayBuffer;
  out: ArrayBuffer;
}

interface Encoded {
  set: BufferSet;
  length: number;
}

/** The worker script beside this code: dist/encodeWorker.js in the bundles, the .ts source under tsx. */
export function encodeWorkerFile(): string | null {
  for (const name of ['encodeWorker.js', 'encodeWorker.ts']) {
    const file = path.join(__dirname, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

/**
 * Yields the encoded bytes of `chunks`, in order, one `next()` at a time, keeping up to two chunks a worker in
 * flight. The bytes `next()` returns stay valid until the following call. `close()` stops the workers; call it
 * whether or not every chunk was taken.
 */
export class ChunkPipeline {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<
    number,
    { resolve: (r: EncodeReply) => void; reject: (e: Error) => void }
  >();
  private readonly free: BufferSet[] = [];
  private readonly queue: { tensor: string; result: Promise<Encoded> }[] = [];
  private readonly window: number;
  private readonly rawBytes: number;
  private readonly outBytes: number;
  private scheduled = 0;
  private jobs = 0;
  private lent: BufferSet | undefined;
  private failure: Error | undefined;
  /** Scratch for the main-thread fallback. */
  private bits = new Uint32Array(0);

  constructor(
    private readonly chunks: readonly ChunkSpec[],
    threads = defaultEncodeThreads(),
    /** null: encode on the main thread. */
    workerFile: string | null = encodeWorkerFile(),
  ) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new RangeError(`threads must be a whole number ≥ 1, not ${threads}`);
    this.rawBytes = Math.max(1, ...chunks.map((c) => c.rows * c.cols * BYTES_PER_VALUE[c.dtype]));
    this.outBytes = Math.max(1, ...chunks.map((c) => c.rows * c.cols * (c.type === GgmlType.F32 ? 4 : 2)));
    const used = Math.min(threads, chunks.length);
    if (workerFile) {
      for (let i = 0; i < used; i++) this.workers.push(this.startWorker(workerFile));
    }
    this.window = Math.max(1, this.workers.length * 2);
    for (let i = 0; i < this.window; i++)
      this.free.push({ raw: new ArrayBuffer(0), out: new ArrayBuffer(0) });
  }

  /** Worker threads encoding (0: the main thread does). */
  get threads(): number {
    return this.workers.length;
  }

  /** The next chunk's encoded bytes; `tensor` must be the one the chunk belongs to. */
  async next(tensor: string): Promise<Uint8Array> {
    if (this.lent) this.free.push(this.lent);
    this.lent = undefined;
    while (this.scheduled < this.chunks.length && this.free.length > 0) this.schedule();
    const head = this.queue.shift();
    if (!head) throw new Error(`GGUF tensor ${tensor}: no data left to encode`);
    if (head.tensor !== tensor)
      throw new Error(`GGUF tensor ${tensor}: the encoder is at ${head.tensor} (tensors out of order)`);
    const { set, length } = await head.result;
    this.lent = set;
    return new Uint8Array(set.out, 0, length);
  }

  async close(): Promise<void> {
    this.failure ??= new Error('the encoder was closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private schedule(): void {
    const spec = this.chunks[this.scheduled++]!;
    const set = this.free.pop()!;
    if (set.raw.byteLength < this.rawBytes) set.raw = new ArrayBuffer(this.rawBytes);
    if (set.out.byteLength < this.outBytes) set.out = new ArrayBuffer(this.outBytes);
    const result = this.encode(spec, set);
    result.catch(() => undefined); // awaited by next(); a chunk never taken (the writer failed) must not go unhandled
    this.queue.push({ tensor: spec.tensor, result });
  }

  private async encode(spec: ChunkSpec, set: BufferSet): Promise<Encoded> {
    const raw = await spec.read(new Uint8Array(set.raw));
    if (this.workers.length === 0) return { set, length: this.encodeHere(spec, raw, set) };
    if (this.failure) throw this.failure;
    const id = this.jobs++;
    const worker = this.workers[id % this.workers.length]!;
    const reply = await new Promise<EncodeReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const request: EncodeRequest = {
        id,
        raw: set.raw,
        rawLength: raw.length,
        out: set.out,
        dtype: spec.dtype,
        rows: spec.rows,
        cols: spec.cols,
        rowsPerHead: spec.rowsPerHead ?? 0,
        type: spec.type,
      };
      worker.postMessage(request, [set.raw, set.out]);
    });
    set.raw = reply.raw;
    set.out = reply.out;
    return { set, length: reply.length };
  }

  private encodeHere(spec: ChunkSpec, raw: Uint8Array, set: BufferSet): number {
    const count = spec.rows * spec.cols;
    if (this.bits.length < count) this.bits = new Uint32Array(count);
    const order = spec.rowsPerHead ? ropeRowOrder(spec.rows, spec.rows / spec.rowsPerHead) : undefined;
    decodeRows(raw, spec.dtype, this.bits, spec.rows, spec.cols, order);
    const out = new Uint8Array(set.out);
    const encoded = encodeF32Bits(spec.type, this.bits, count, out);
    if (encoded.buffer !== out.buffer) out.set(encoded);
    return encoded.length;
  }

  private startWorker(file: string): Worker {
    // From the sources (under tsx, as the unit tests run): Node 20 does not hand tsx's loader on to a worker, so
    // the worker registers it before loading the .ts file.
    // tsx is resolved from the source file, not from the working directory the eval code would resolve it from.
    const worker = file.endsWith('.ts')
      ? new Worker(
          `require(${JSON.stringify(createRequire(file).resolve('tsx/cjs/api'))}).register(); ` +
            `require(${JSON.stringify(file)});`,
          { eval: true },
        )
      : new Worker(file);
    worker.on('message', (reply: EncodeReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      waiter?.resolve(reply);
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => fail(new Error(`the encoder thread failed: ${err.message}`)));
    worker.on('exit', (code) =>
      fail(this.failure ?? new Error(`the encoder thread stopped (exit code ${code})`)),
    );
    return worker;
  }
}

const BYTES_PER_VALUE: Readonly<Record<SourceDtype, number>> = { BF16: 2, F16: 2, F32: 4 };
