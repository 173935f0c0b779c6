import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConvertError } from '../../../../src/core/errors';
import { readBaseConfig, readModelConfig } from '../../../../src/core/convert/hfConfig';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

// config.json as transformers' save_pretrained writes it, read into the converters' typed configuration: the
// defaults transformers fills in for missing keys, and refusals that name the key.

const QWEN2 = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 64,
  intermediate_size: 80,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  vocab_size: 40,
};

describe('hfConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeWorkspace();
  });
  afterEach(() => removeWorkspace(dir));

  function write(config: unknown): string {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(config));
    return file;
  }

  describe('readModelConfig', () => {
    it('fills in what transformers defaults: one key/value head per head, head size, context, epsilon, rope', () => {
      write(QWEN2);
      const c = readModelConfig(dir);
      assert.equal(c.arch, 'qwen2');
      assert.equal(c.kvHeads, 4);
      assert.equal(c.headDim, 16);
      assert.equal(c.explicitHeadDim, undefined);
      assert.equal(c.contextLength, 32768, "Qwen2Config's max_position_embeddings");
      assert.equal(c.rmsNormEps, 1e-6);
      assert.deepEqual(c.rope, { theta: 10000, scaling: { kind: 'none' } });
      assert.equal(c.tied, false);
      assert.equal(c.raw.model_type, 'qwen2');
    });

    it('reads Mistral as llama, with LlamaConfig’s context default and an explicit head_dim', () => {
      write({ ...QWEN2, architectures: ['MistralForCausalLM'], head_dim: 8, num_key_value_heads: 2 });
      const c = readModelConfig(dir);
      assert.equal(c.arch, 'llama');
      assert.equal(c.contextLength, 2048);
      assert.equal(c.headDim, 8);
      assert.equal(c.explicitHeadDim, 8);
      assert.equal(c.kvHeads, 2);
    });

    it('takes what config.json says over the defaults', () => {
      write({
        ...QWEN2,
        max_position_embeddings: 4096,
        rms_norm_eps: 1e-5,
        rope_theta: 1e6,
        tie_word_embeddings: true,
        rope_scaling: null,
      });
      const c = readModelConfig(dir);
      assert.equal(c.contextLength, 4096);
      assert.equal(c.rmsNormEps, 1e-5);
      assert.deepEqual(c.rope, { theta: 1e6, scaling: { kind: 'none' } });
      assert.equal(c.tied, true);
    });

    for (const [what, config, key, message] of [
      ['a missing size', { ...QWEN2, hidden_size: undefined }, 'hidden_size', /hidden_size: /],
      [
        'an unknown architecture',
        { ...QWEN2, architectures: ['GPT2LMHeadModel'] },
        'architectures',
        /knows Qwen2ForCausalLM, LlamaForCausalLM, MistralForCausalLM/,
      ],
      [
        'a quantized model',
        { ...QWEN2, quantization_config: { bits: 4 } },
        'quantization_config',
        /quantized/,
      ],
      [
        'heads that do not split the hidden size',
        { ...QWEN2, num_attention_heads: 5 },
        'num_attention_heads',
        /does not split into 5/,
      ],
      ['an odd head size', { ...QWEN2, head_dim: 7 }, 'head_dim', /odd/],
      [
        'more layers than llama.cpp loads',
        { ...QWEN2, num_hidden_layers: 2e9 },
        'num_hidden_layers',
        /num_hidden_layers is 2000000000, more than the 512 layers llama\.cpp can load/,
      ],
      [
        'rope_parameters that are not an object',
        { ...QWEN2, rope_parameters: 'llama3' },
        'rope_parameters',
        /rope_parameters: /,
      ],
      [
        'heads that do not group by key/value heads',
        { ...QWEN2, num_key_value_heads: 3 },
        'num_key_value_heads',
        /groups for 3/,
      ],
    ] as const) {
      it(`refuses ${what}, naming the key`, () => {
        const file = write(config);
        assert.throws(
          () => readModelConfig(dir),
          (err: unknown) =>
            err instanceof ConvertError && err.file === file && err.key === key && message.test(err.message),
        );
      });
    }
  });

  describe('readBaseConfig', () => {
    it('is undefined without a config.json', () => {
      assert.equal(readBaseConfig(dir), undefined);
    });

    it('reads the architecture from model_type, and the head counts', () => {
      const file = write({ model_type: 'mistral', num_attention_heads: 32 });
      assert.deepEqual(readBaseConfig(dir), { file, arch: 'llama', heads: 32, kvHeads: 32 });
      write({ model_type: 'qwen2', num_attention_heads: 28, num_key_value_heads: 4 });
      assert.deepEqual(readBaseConfig(dir), { file, arch: 'qwen2', heads: 28, kvHeads: 4 });
    });

    it('refuses a model_type it does not know, listing the ones it does', () => {
      const file = write({ model_type: 'gpt2' });
      assert.throws(() => readBaseConfig(dir), {
        name: 'ConvertError',
        file,
        key: 'model_type',
        message: /model_type "gpt2" is not supported; the converter knows llama, mistral, qwen2\./,
      });
    });
  });
});
