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
  });
});
