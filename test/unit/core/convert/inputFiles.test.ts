import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkOutputFolder, openWeights, readJson } from '../../../../src/core/convert/inputFiles';
import { writeSafetensors } from '../../../support/peft';
import { hfTensors, QWEN, writeModel } from '../../../support/hfModel';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';
import { isConvertError } from '../../../support/convertErrors';

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
      await assert.rejects(openWeights(model), isConvertError(expected));
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

    it('a tensor in two files', async () => {
      const [first, second] = hfTensors('qwen2', QWEN, 'BF16', true);
      fs.mkdirSync(model);
      writeSafetensors(path.join(model, 'model-a.safetensors'), [first!, second!]);
      writeSafetensors(path.join(model, 'model-b.safetensors'), [second!]);

      await rejects({
        file: path.join(model, 'model-b.safetensors'),
        key: second!.name,
        message: /the tensor is also in model-a\.safetensors; keep only one copy/,
      });
    });

    it('a shard holding a tensor the index puts in another', async () => {
      const tensors = hfTensors('qwen2', QWEN, 'BF16', true);
      writeModel(model, 'qwen2', QWEN, tensors, { shards: 2 });
      const last = tensors[tensors.length - 1]!.name;
      const indexFile = path.join(model, 'model.safetensors.index.json');
      const index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
      index.weight_map[last] = 'model-00001-of-00002.safetensors';
      fs.writeFileSync(indexFile, JSON.stringify(index));

      await rejects({
        file: path.join(model, 'model-00002-of-00002.safetensors'),
        key: last,
        message:
          /puts the tensor in model-00001-of-00002\.safetensors; the index and the weight files do not match/,
      });
    });

    it('an index naming a file outside the folder', async () => {
      writeModel(model, 'qwen2', QWEN, hfTensors('qwen2', QWEN, 'BF16', true), { shards: 2 });
      const indexFile = path.join(model, 'model.safetensors.index.json');
      const index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
      index.weight_map['model.norm.weight'] = '../elsewhere.safetensors';
      fs.writeFileSync(indexFile, JSON.stringify(index));

      await rejects({
        file: indexFile,
        message: /weight_map names "\.\.\/elsewhere\.safetensors", not a file in the folder/,
      });
    });

    it('PyTorch .bin weights, which only safetensors can replace, and a folder with no weights', async () => {
      fs.mkdirSync(model);
      await rejects({
        file: model,
        message: /no model\*\.safetensors weights: is it a Hugging Face model folder/,
      });

      fs.writeFileSync(path.join(model, 'pytorch_model.bin'), 'pickle');
      await rejects({ file: model, message: /pytorch_model\*\.bin weights; .*safe_serialization=True/ });
    });
  });

  it('opens every shard an index names as one set of tensors, each read from its own file', async () => {
    const tensors = hfTensors('qwen2', QWEN, 'BF16', true);
    writeModel(model, 'qwen2', QWEN, tensors, { shards: 3 });

    const weights = await openWeights(model);
    try {
      assert.deepEqual([...weights.tensors.keys()].sort(), tensors.map((t) => t.name).sort());
      const files = new Set([...weights.tensors.values()].map((t) => path.basename(t.file.path)));
      assert.equal(files.size, 3);
      for (const t of tensors) {
        const source = weights.tensors.get(t.name)!;
        assert.deepEqual(Buffer.from(await source.file.read(source.tensor)), Buffer.from(t.data), t.name);
      }
    } finally {
      await weights.close();
    }
  });

  it('says which file is missing and what it is for, and which is not JSON', () => {
    const file = path.join(dir, 'config.json');
    assert.throws(() => readJson(file, 'the model needs its config.json.'), {
      name: 'ConvertError',
      file,
      message: /the file does not exist: the model needs its config\.json\./,
    });

    fs.writeFileSync(file, '{ "hidden_size": 64,');
    assert.throws(() => readJson(file, ''), { name: 'ConvertError', file, message: /it is not valid JSON/ });
  });

  it('refuses an output whose folder does not exist before any work is done', () => {
    const out = path.join(dir, 'missing', 'model.gguf');

    assert.throws(() => checkOutputFolder(out), {
      name: 'ConvertError',
      file: out,
      message: /create it first/,
    });
    assert.doesNotThrow(() => checkOutputFolder(path.join(dir, 'model.gguf')));
  });
});
