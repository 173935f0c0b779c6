import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ropeRowOrder } from '../../../../src/core/convert/architectures';
import { ChunkPipeline, encodeWorkerFile, type ChunkSpec } from '../../../../src/core/convert/encodePool';
import { GgmlType } from '../../../../src/core/convert/gguf';
import { decodeRows, encodeF32Bits, type SourceDtype } from '../../../../src/core/convert/numeric';
import { mulberry32 } from '../../../support/random';

// The encode pool hands the writer each chunk's bytes in file order, encoded on worker threads by the functions the
// main thread uses: the same bytes whatever the number of threads, and a failure anywhere reaches the writer.

const BYTES: Record<SourceDtype, number> = { BF16: 2, F16: 2, F32: 4 };

interface Chunk extends ChunkSpec {
  raw: Uint8Array;
}

/** Random raw rows (any bit pattern but NaN-free exponents would hide nothing: all patterns are allowed). */
function chunk(
  tensor: string,
  dtype: SourceDtype,
  rows: number,
  cols: number,
  type: GgmlType,
  seed: number,
  rowsPerHead?: number,
): Chunk {
  const next = mulberry32(seed);
  const raw = new Uint8Array(rows * cols * BYTES[dtype]);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(next() * 256);
  return {
    tensor,
    dtype,
    rows,
    cols,
    type,
    rowsPerHead,
    raw,
    read: (into) => {
      const target = into.subarray(0, raw.length);
      target.set(raw);
      return Promise.resolve(target);
    },
  };
}

/** What the single-threaded converter wrote for `c`. */
function expected(c: Chunk): Uint8Array {
  const count = c.rows * c.cols;
  const bits = new Uint32Array(count);
  const order = c.rowsPerHead ? ropeRowOrder(c.rows, c.rows / c.rowsPerHead) : undefined;
  decodeRows(c.raw, c.dtype, bits, c.rows, c.cols, order);
  return encodeF32Bits(c.type, bits, count, new Uint8Array(count * 4)).slice();
}

function mixedChunks(): Chunk[] {
  const chunks: Chunk[] = [];
  let seed = 1;
  for (const type of [GgmlType.Q8_0, GgmlType.F16, GgmlType.BF16, GgmlType.F32]) {
    for (const dtype of ['BF16', 'F16', 'F32'] as const) {
      chunks.push(chunk(`t${seed}`, dtype, 8, 64, type, seed++));
      chunks.push(chunk(`t${seed}`, dtype, 16, 32, type, seed++, 4)); // llama's q/k rows, permuted per head
      chunks.push(chunk(`t${seed}`, dtype, 1, 96, type, seed++));
    }
  }
  return chunks;
}

async function drain(pipeline: ChunkPipeline, chunks: readonly Chunk[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  try {
    for (const c of chunks) out.push((await pipeline.next(c.tensor)).slice());
  } finally {
    await pipeline.close();
  }
  return out;
}

describe('encodePool', () => {
  it('finds its worker script beside the code that runs it', () => {
    assert.match(encodeWorkerFile() ?? '', /encodeWorker\.ts$/);
  });

  for (const threads of [1, 2, 4]) {
    it(`encodes on ${threads} worker thread(s) the bytes the main thread would, in file order`, async () => {
      const chunks = mixedChunks();
      const pipeline = new ChunkPipeline(chunks, threads);
      assert.equal(pipeline.threads, threads);
      const got = await drain(pipeline, chunks);
      chunks.forEach((c, i) =>
        assert.deepEqual(got[i], expected(c), `${c.tensor} (${c.dtype} → type ${c.type})`),
      );
    });
  }

  it('encodes on the main thread when no worker script is beside it, to the same bytes', async () => {
    const chunks = mixedChunks();
    const pipeline = new ChunkPipeline(chunks, 2, null);
    assert.equal(pipeline.threads, 0);
    const got = await drain(pipeline, chunks);
    chunks.forEach((c, i) => assert.deepEqual(got[i], expected(c), c.tensor));
  });

  it('reuses its buffers: more chunks than it keeps in flight, each still right', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) =>
      chunk(`t${i}`, 'BF16', 4 + (i % 5), 64, GgmlType.Q8_0, 100 + i),
    );
    const got = await drain(new ChunkPipeline(chunks, 2), chunks);
    chunks.forEach((c, i) => assert.deepEqual(got[i], expected(c), c.tensor));
  });

  it('refuses to hand a chunk to the wrong tensor', async () => {
    const chunks = [chunk('a', 'F32', 2, 32, GgmlType.F16, 1), chunk('b', 'F32', 2, 32, GgmlType.F16, 2)];
    const pipeline = new ChunkPipeline(chunks, 1);
    try {
      await assert.rejects(pipeline.next('b'), /tensor b: the encoder is at a/);
    } finally {
      await pipeline.close();
    }
  });

  it('reports a failed read to the writer, and a chunk read ahead that failed is not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const good = chunk('a', 'BF16', 2, 32, GgmlType.Q8_0, 1);
      const bad = (name: string): Chunk => ({
        ...chunk(name, 'BF16', 2, 32, GgmlType.Q8_0, 2),
        read: () => Promise.reject(new Error(`${name}: the disk went away`)),
      });
      const pipeline = new ChunkPipeline([good, bad('b'), bad('c')], 2);
      assert.deepEqual((await pipeline.next('a')).slice(), expected(good));
      await assert.rejects(pipeline.next('b'), /b: the disk went away/);
      await pipeline.close(); // 'c' was read ahead and failed; nobody takes it
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('reports a worker that fails instead of waiting for it', async () => {
    // A worker script that throws on its first chunk (as one would on a bug): the writer hears of it.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-encode-'));
    const script = path.join(dir, 'broken.js');
    fs.writeFileSync(
      script,
      "require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom'); });\n",
    );
    const pipeline = new ChunkPipeline([chunk('a', 'BF16', 2, 32, GgmlType.Q8_0, 1)], 1, script);
    try {
      await assert.rejects(pipeline.next('a'), /the encoder thread failed: boom/);
    } finally {
      await pipeline.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a thread count that is not a whole number of at least 1', () => {
    for (const threads of [0, -1, 1.5, NaN])
      assert.throws(() => new ChunkPipeline([], threads), /threads must be a whole number/);
  });
});
