import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gguf, GGMLQuantizationType } from '@huggingface/gguf';
import { writeGguf } from '../../../../src/core/convert/gguf';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

// The streaming GGUF writer, read back with Hugging Face's parser (not our writer's code). The converters' tests
// cover the metadata and tensor layouts they write; these cover writing itself: atomicity, sizes, buffering.

/** Reads a GGUF file whose tensors are all F32. */
async function readGguf(file: string) {
  const parsed = await gguf(file, { allowLocalFile: true });
  const bytes = fs.readFileSync(file);
  const tensors = new Map<string, { values: number[] }>();
  for (const info of parsed.tensorInfos) {
    assert.equal(info.dtype, GGMLQuantizationType.F32, info.name);
    const count = info.shape.map(Number).reduce((n, d) => n * d, 1);
    const start = Number(parsed.tensorDataOffset + info.offset);
    const values: number[] = [];
    for (let i = 0; i < count; i++) values.push(bytes.readFloatLE(start + 4 * i));
    tensors.set(info.name, { values });
  }
  return { ...parsed, tensors, size: bytes.length };
}

describe('writeGguf streams the file', () => {
  let dir: string;
  let outDir: string;
  let out: string;

  beforeEach(() => {
    dir = makeWorkspace();
    outDir = path.join(dir, 'out');
    fs.mkdirSync(outDir);
    out = path.join(outDir, 'model.gguf');
  });

  afterEach(() => removeWorkspace(dir));

  const metadata = new Map([['general.architecture', { type: 'string' as const, value: 'llama' }]]);

  it('removing the temp file and keeping the old target when a tensor fails mid-way', async () => {
    fs.writeFileSync(out, 'previous model');
    const failing = {
      name: 'a.weight',
      ne: [64],
      type: 0 as const,
      produce: async (write: (chunk: Uint8Array) => Promise<void>) => {
        await write(new Uint8Array(128));
        throw new Error('disk on fire');
      },
    };
    await assert.rejects(writeGguf(out, metadata, [failing]), /disk on fire/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous model');
    assert.deepEqual(fs.readdirSync(outDir), ['model.gguf']);
  });

  it('refusing a tensor that produces the wrong number of bytes', async () => {
    const short = { name: 'a.weight', ne: [64], type: 0 as const, produce: async () => undefined };
    await assert.rejects(writeGguf(out, metadata, [short]), /produced 0 bytes, expected 256/);
    assert.deepEqual(fs.readdirSync(outDir), []);
  });

  it('in chunks larger than its write buffer, padding each tensor to the alignment', async () => {
    const big = new Float32Array(3_000_001).map((_, i) => i % 1000);
    const tensors = [
      { name: 'odd.weight', ne: [3], type: 0 as const, values: new Float32Array([1, 2, 3]) },
      { name: 'big.weight', ne: [big.length], type: 0 as const, values: big },
    ].map((t) => ({
      ...t,
      produce: async (write: (chunk: Uint8Array) => Promise<void>) => {
        // the big one in one 12 MB chunk, then the small one byte by byte
        if (t.values.length > 3) await write(new Uint8Array(t.values.buffer));
        else for (const b of new Uint8Array(t.values.buffer)) await write(Uint8Array.of(b));
      },
    }));
    const bytes = await writeGguf(out, metadata, tensors);
    const g = await readGguf(out);
    assert.equal(g.size, bytes);
    assert.deepEqual(g.tensors.get('odd.weight')!.values, [1, 2, 3]);
    assert.equal(g.tensorInfos[1]!.offset, 32n);
    const read = g.tensors.get('big.weight')!.values;
    assert.equal(read.length, big.length);
    assert.equal(read[2_999_999], 999);
  });

  it('keeping what each write was handed, though the producer refills the same memory at once', async () => {
    const chunk = new Uint8Array(1 << 20);
    const chunks = 20; // 20 MiB: more than both of the writer's 8 MiB buffers, so writes are in flight
    const tensor = {
      name: 'reused.weight',
      ne: [(chunks * chunk.length) / 4],
      type: 0 as const,
      produce: async (write: (chunk: Uint8Array) => Promise<void>) => {
        for (let k = 0; k < chunks; k++) {
          chunk.fill(k + 1);
          await write(chunk);
        }
      },
    };
    await writeGguf(out, metadata, [tensor]);
    const parsed = await gguf(out, { allowLocalFile: true });
    const bytes = fs.readFileSync(out);
    const start = Number(parsed.tensorDataOffset);
    for (let k = 0; k < chunks; k++) {
      const part = bytes.subarray(start + k * chunk.length, start + (k + 1) * chunk.length);
      assert.ok(
        part.every((b) => b === k + 1),
        `chunk ${k} holds what was written then, not what the buffer held later`,
      );
    }
  });

  it('removing the temp file when a tensor fails while earlier writes are still in flight', async () => {
    fs.writeFileSync(out, 'previous model');
    const failing = {
      name: 'a.weight',
      ne: [(20 << 20) / 4],
      type: 0 as const,
      produce: async (write: (chunk: Uint8Array) => Promise<void>) => {
        for (let k = 0; k < 17; k++) await write(new Uint8Array(1 << 20));
        throw new Error('disk on fire');
      },
    };
    await assert.rejects(writeGguf(out, metadata, [failing]), /disk on fire/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous model');
    assert.deepEqual(fs.readdirSync(outDir), ['model.gguf']);
  });
});
