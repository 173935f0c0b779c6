import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConvertError } from '../../../../src/core/errors';
import { openWeights } from '../../../../src/core/convert/inputFiles';
import { hfTensors, QWEN, writeModel } from '../../../support/hfModel';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

describe('inputFiles', () => {
  let dir: string;
  let model: string;

  beforeEach(() => {
    dir = makeWorkspace();
    model = path.join(dir, 'merged');
  });

  afterEach(() => removeWorkspace(dir));

  describe('openWeights refuses, naming the file and the tensor,', () => {
    async function rejects(expected: { file: string; key?: string; message: RegExp }): Promise<void> {
      await assert.rejects(openWeights(model), (err: unknown) => {
        assert.ok(err instanceof ConvertError, String(err));
        assert.equal(err.file, expected.file);
        assert.equal(err.key, expected.key);
        assert.match(err.message, expected.message);
        assert.match(err.message, /Nothing was written\.$/);
        return true;
      });
    }

    it('an index that lists a tensor a shard lacks', async () => {
      writeModel(model, 'qwen2', QWEN, hfTensors('qwen2', QWEN, 'BF16', true), { shards: 2 });
      const index = JSON.parse(fs.readFileSync(path.join(model, 'model.safetensors.index.json'), 'utf8'));
      index.weight_map['model.layers.9.mlp.up_proj.weight'] = 'model-00002-of-00002.safetensors';
      fs.writeFileSync(path.join(model, 'model.safetensors.index.json'), JSON.stringify(index));
      await rejects({
        file: path.join(model, 'model-00002-of-00002.safetensors'),
        key: 'model.layers.9.mlp.up_proj.weight',
        message: /lists the tensor in this file, but it is not there/,
      });
    });
  });
});
