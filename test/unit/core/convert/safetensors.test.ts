import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConvertError } from '../../../../src/core/errors';
import { SafetensorsFile } from '../../../../src/core/convert/safetensors';
import { peftName, SMALL, syntheticTensors, writeSafetensors } from '../../../support/peft';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

describe('SafetensorsFile', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = makeWorkspace();
    file = path.join(dir, 'adapter_model.safetensors');
  });

  afterEach(() => removeWorkspace(dir));

  /** The adapter's weights as the safetensors library saves them: the header padded to 8 bytes. */
  function writeAdapterWeights(): void {
    writeSafetensors(file, syntheticTensors(SMALL), { padHeaderTo: 8 });
  }

  describe('refuses, naming the file and the tensor at fault,', () => {
    async function rejects(expected: { key?: string; message: RegExp }): Promise<void> {
      await assert.rejects(SafetensorsFile.open(file), (err: unknown) => {
        assert.ok(err instanceof ConvertError, String(err));
        assert.equal(err.file, file);
        assert.equal(err.key, expected.key);
        assert.match(err.message, expected.message);
        assert.match(err.message, /Nothing was written\.$/);
        return true;
      });
    }

    /** Writes `header` in place of the file's own, padded to the same length so the data stays where it was. */
    function rewriteHeader(raw: Buffer, header: object): void {
      const headerLength = Number(raw.readBigUInt64LE(0));
      const json = Buffer.from(JSON.stringify(header).padEnd(headerLength, ' '));
      assert.equal(json.length, headerLength);
      fs.writeFileSync(file, Buffer.concat([raw.subarray(0, 8), json, raw.subarray(8 + headerLength)]));
    }

    it('a truncated file', async () => {
      writeAdapterWeights();
      const bytes = fs.readFileSync(file);
      fs.writeFileSync(file, bytes.subarray(0, bytes.length - 10));
      await rejects({ key: peftName(1, 'down_proj', 'B'), message: /truncated/ });
    });

    it('a header that is not JSON, runs past the file, or is cut short', async () => {
      writeAdapterWeights();
      const bytes = fs.readFileSync(file);
      bytes.write('#', 8);
      fs.writeFileSync(file, bytes);
      await rejects({ message: /not valid UTF-8 JSON/ });

      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(bytes.length));
      fs.writeFileSync(file, Buffer.concat([length, bytes.subarray(8)]));
      await rejects({ message: /header claims .* \(truncated\?\)/ });

      fs.writeFileSync(file, bytes.subarray(0, 5));
      await rejects({ message: /too short/ });
    });

    it('data_offsets that do not fit the shape', async () => {
      const name = peftName(0, 'q_proj', 'A');
      writeAdapterWeights();
      const raw = fs.readFileSync(file);
      const headerLength = Number(raw.readBigUInt64LE(0));
      const header = JSON.parse(raw.subarray(8, 8 + headerLength).toString()) as Record<
        string,
        { shape: number[] }
      >;
      header[name]!.shape = [SMALL.rank, SMALL.hidden - 1]; // same length in JSON
      rewriteHeader(raw, header);
      await rejects({ key: name, message: /span 1024 bytes but F32 \[4, 63\] needs 1008/ });
    });

    it('tensors whose data overlap, and a dtype the format does not have', async () => {
      const data = new Uint8Array(16);
      const entry = (begin: number, dtype = 'F32') => ({
        dtype,
        shape: [2],
        data_offsets: [begin, begin + 8],
      });
      const write = (header: object) => {
        const json = Buffer.from(JSON.stringify(header));
        const length = Buffer.alloc(8);
        length.writeBigUInt64LE(BigInt(json.length));
        fs.writeFileSync(file, Buffer.concat([length, json, data]));
      };

      write({ a: entry(0), b: entry(4) });
      await rejects({ key: 'b', message: /its data overlaps a's/ });

      write({ a: entry(0, 'F128') });
      await rejects({ key: 'a', message: /unknown dtype "F128"/ });
    });

    it('a header that is not an object, or that claims more than the 100 MB the safetensors library allows', async () => {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(2n);
      fs.writeFileSync(file, Buffer.concat([length, Buffer.from('[]')]));
      await rejects({ message: /the header is not a JSON object/ });

      length.writeBigUInt64LE(100_000_001n);
      fs.writeFileSync(file, length);
      await rejects({ message: /claims 100000001 bytes, more than the 100000000 allowed/ });
    });
  });

  it('gives each tensor its byte range in the file and reads exactly those bytes', async () => {
    const tensors = syntheticTensors(SMALL, { projections: ['q_proj'], dtype: 'BF16' });
    writeSafetensors(file, tensors, { metadata: { format: 'pt' } });

    const st = await SafetensorsFile.open(file);
    try {
      assert.deepEqual(st.metadata, { format: 'pt' });
      assert.deepEqual(
        [...st.tensors.keys()],
        tensors.map((t) => t.name),
      );
      const bytes = fs.readFileSync(file);
      for (const t of tensors) {
        const found = st.tensors.get(t.name)!;
        assert.deepEqual([found.dtype, found.shape], [t.dtype, t.shape]);
        assert.deepEqual(bytes.subarray(found.begin, found.end), Buffer.from(t.data), t.name);
        assert.deepEqual(Buffer.from(await st.read(found)), Buffer.from(t.data), t.name);
      }
      // Into a caller's buffer: the tensor's bytes at its start, the rest left alone.
      const first = st.tensors.get(tensors[0]!.name)!;
      const into = new Uint8Array(first.end - first.begin + 4).fill(7);
      const read = await st.read(first, into);
      assert.equal(read.buffer, into.buffer);
      assert.deepEqual(Buffer.from(read), Buffer.from(tensors[0]!.data));
      assert.deepEqual([...into.subarray(-4)], [7, 7, 7, 7]);
    } finally {
      await st.close();
    }
  });
});
