import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gguf, GGMLQuantizationType, GGUFValueType } from '@huggingface/gguf';
import { convertModel, type ConvertModelOptions } from '../../../../src/core/convert/modelConvert';
import { decodeHalf, writeSafetensors } from '../../../support/peft';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';
import {
  BASE_VOCAB,
  HEAD,
  hfTensors,
  LLAMA,
  LLAMA_ADDED,
  LLAMA_TEMPLATE,
  modelConfig,
  QWEN,
  QWEN_ADDED,
  QWEN_MERGES,
  QWEN_TEMPLATE,
  writeModel,
  type Arch,
  type HfTensor,
  type Shape,
} from '../../../support/hfModel';
import { isConvertError } from '../../../support/convertErrors';

// Tiny Hugging Face model folders (test/support/hfModel.ts) converted and read back with Hugging Face's GGUF parser
// (not our writer's code). Expectations follow llama.cpp's convert_hf_to_gguf.py and gguf-py.

/** llama.cpp's names (gguf-py TensorNameMap), spelled out independently of the converter's table. */
function ggufNameOf(hf: string): string {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'model.norm.weight': 'output_norm.weight',
    'lm_head.weight': 'output.weight',
  };
  if (fixed[hf]) return fixed[hf];
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf)!;
  const module: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight',
    'post_attention_layernorm.weight': 'ffn_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight',
    'self_attn.q_proj.bias': 'attn_q.bias',
    'self_attn.k_proj.weight': 'attn_k.weight',
    'self_attn.k_proj.bias': 'attn_k.bias',
    'self_attn.v_proj.weight': 'attn_v.weight',
    'self_attn.v_proj.bias': 'attn_v.bias',
    'self_attn.o_proj.weight': 'attn_output.weight',
    'self_attn.o_proj.bias': 'attn_output.bias',
    'mlp.gate_proj.weight': 'ffn_gate.weight',
    'mlp.up_proj.weight': 'ffn_up.weight',
    'mlp.down_proj.weight': 'ffn_down.weight',
  };
  return `blk.${m[1]}.${module[m[2]!]}`;
}

interface ReadTensor {
  shape: number[];
  dtype: GGMLQuantizationType;
  values: number[];
  raw: Buffer;
}

/** Reads a GGUF file with Hugging Face's parser and decodes every tensor (F32, F16, BF16, Q8_0). */
async function readGguf(file: string) {
  const parsed = await gguf(file, { allowLocalFile: true, typedMetadata: true });
  const bytes = fs.readFileSync(file);
  const tensors = new Map<string, ReadTensor>();
  for (const info of parsed.tensorInfos) {
    const shape = info.shape.map(Number);
    const count = shape.reduce((n, d) => n * d, 1);
    const start = Number(parsed.tensorDataOffset + info.offset);
    const values: number[] = [];
    let size: number;
    if (info.dtype === GGMLQuantizationType.F32) {
      size = count * 4;
      for (let i = 0; i < count; i++) values.push(bytes.readFloatLE(start + 4 * i));
    } else if (info.dtype === GGMLQuantizationType.F16) {
      size = count * 2;
      for (let i = 0; i < count; i++) values.push(decodeHalf(bytes.readUInt16LE(start + 2 * i)));
    } else if (info.dtype === GGMLQuantizationType.BF16) {
      size = count * 2;
      const f = Buffer.alloc(4);
      for (let i = 0; i < count; i++) {
        f.writeUInt32LE((bytes.readUInt16LE(start + 2 * i) << 16) >>> 0);
        values.push(f.readFloatLE(0));
      }
    } else if (info.dtype === GGMLQuantizationType.Q8_0) {
      size = (count / 32) * 34;
      for (let b = 0; b < count / 32; b++) {
        const d = decodeHalf(bytes.readUInt16LE(start + 34 * b));
        for (let j = 0; j < 32; j++) values.push(d * bytes.readInt8(start + 34 * b + 2 + j));
      }
    } else throw new Error(`unexpected dtype ${info.dtype} for ${info.name}`);
    tensors.set(info.name, { shape, dtype: info.dtype, values, raw: bytes.subarray(start, start + size) });
  }
  const kv = Object.fromEntries(
    Object.entries(parsed.typedMetadata)
      .filter(([k]) => !['version', 'tensor_count', 'kv_count'].includes(k))
      .map(([k, v]) => [k, [v.value, v.type]]),
  );
  return { ...parsed, tensors, kv, size: bytes.length };
}

/** The binary16 bits nearest a positive normal value, ties to even. */
function halfBits(v: number): number {
  if (v === 0) return 0;
  let e = Math.floor(Math.log2(v));
  if (v / 2 ** e >= 2) e++;
  if (v / 2 ** e < 1) e--;
  const m = (v / 2 ** e - 1) * 1024;
  const low = Math.floor(m);
  let q = m - low > 0.5 || (m - low === 0.5 && low % 2 === 1) ? low + 1 : low;
  if (q === 1024) {
    q = 0;
    e++;
  }
  return ((e + 15) << 10) | q;
}

/** gguf-py's quants.Q8_0, written from its definition: float32 arithmetic, rounding half away from zero. */
function quantizeQ8_0(values: readonly number[]): Buffer {
  const out = Buffer.alloc((values.length / 32) * 34);
  for (let b = 0; b < values.length / 32; b++) {
    const block = values.slice(b * 32, b * 32 + 32).map(Math.fround);
    const d = Math.fround(Math.max(...block.map(Math.abs)) / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    out.writeUInt16LE(halfBits(d), b * 34);
    block.forEach((x, j) => {
      const v = Math.fround(x * id);
      out.writeInt8(Math.sign(v) * Math.floor(Math.abs(v) + 0.5), b * 34 + 2 + j);
    });
  }
  return out;
}

/** convert_hf_to_gguf.py's LlamaModel.permute, the NumPy way: reshape(n_head, 2, rows/n_head/2, r), swapaxes(1, 2). */
function permuteLikeLlamaCpp(values: readonly number[], rows: number, r: number, nHead: number): number[] {
  const half = rows / nHead / 2;
  const row = (i: number) => values.slice(i * r, (i + 1) * r);
  const blocks = Array.from({ length: nHead }, (_, h) =>
    [0, 1].map((two) => Array.from({ length: half }, (_, i) => row((h * 2 + two) * half + i))),
  );
  return blocks.map((b) => Array.from({ length: half }, (_, i) => [b[0]![i]!, b[1]![i]!])).flat(3);
}

/** What llama.cpp stores for a source tensor: llama's q/k rows permuted by their head counts. */
function expectedValues(arch: Arch, s: Shape, t: HfTensor): number[] {
  if (arch !== 'llama') return t.values;
  const r = t.shape.length === 1 ? 1 : t.shape[1]!;
  if (t.name.includes('q_proj')) return permuteLikeLlamaCpp(t.values, t.shape[0]!, r, s.heads);
  if (t.name.includes('k_proj')) return permuteLikeLlamaCpp(t.values, t.shape[0]!, r, s.kvHeads);
  return t.values;
}

function expectedVocabulary(arch: Arch): { tokens: string[]; types: number[] } {
  const added = arch === 'qwen2' ? QWEN_ADDED : LLAMA_ADDED;
  const tokens = [...BASE_VOCAB];
  const types = BASE_VOCAB.map(() => 1);
  for (const t of added) {
    const userDefined = !t.special && !(t.content.startsWith('<|') && t.content.endsWith('|>'));
    tokens.push(userDefined ? t.content.replace('\u2581', ' ') : t.content);
    types.push(userDefined ? 4 : 3);
  }
  for (let i = tokens.length; i < 40; i++) {
    tokens.push(`[PAD${i}]`);
    types.push(5);
  }
  return { tokens, types };
}

/** Llama 3.1's rope frequency factors in double precision (transformers' _compute_llama3_parameters). */
function llama3Factors(base: number, dim: number): number[] {
  return Array.from({ length: dim / 2 }, (_, i) => {
    const wavelen = (2 * Math.PI) / (1 / base ** ((2 * i) / dim));
    if (wavelen < 8192 / 4) return 1;
    if (wavelen > 8192 / 1) return 8;
    const smooth = (8192 / wavelen - 1) / (4 - 1);
    return 1 / ((1 - smooth) / 8 + smooth);
  });
}

describe('convertModel', function () {
  let dir: string;
  let model: string;
  let outDir: string;
  let out: string;

  beforeEach(() => {
    dir = makeWorkspace();
    model = path.join(dir, 'merged');
    outDir = path.join(dir, 'out');
    fs.mkdirSync(outDir);
    out = path.join(outDir, 'model.gguf');
  });

  afterEach(() => removeWorkspace(dir));

  it('converts a qwen2 model (tied embeddings, q/k/v biases) to q8_0 by default, with llama.cpp’s metadata, vocabulary, names and types', async () => {
    const tensors = hfTensors('qwen2', QWEN, 'BF16', true);
    writeModel(model, 'qwen2', QWEN, tensors);

    const result = await convertModel(model, out);

    const g = await readGguf(out);
    const { tokens, types } = expectedVocabulary('qwen2');
    const T = GGUFValueType;
    const expected: Record<string, [unknown, GGUFValueType]> = {
      'general.architecture': ['qwen2', T.STRING],
      'general.type': ['model', T.STRING],
      'general.name': ['merged', T.STRING],
      'qwen2.block_count': [2, T.UINT32],
      'qwen2.context_length': [32768, T.UINT32],
      'qwen2.embedding_length': [64, T.UINT32],
      'qwen2.feed_forward_length': [80, T.UINT32],
      'qwen2.attention.head_count': [4, T.UINT32],
      'qwen2.attention.head_count_kv': [2, T.UINT32],
      'qwen2.rope.freq_base': [1000000, T.FLOAT32],
      'qwen2.attention.layer_norm_rms_epsilon': [Math.fround(1e-6), T.FLOAT32],
      'general.file_type': [7, T.UINT32],
      'general.quantization_version': [2, T.UINT32],
      'tokenizer.ggml.model': ['gpt2', T.STRING],
      'tokenizer.ggml.pre': ['qwen2', T.STRING],
      'tokenizer.ggml.tokens': [tokens, T.ARRAY],
      'tokenizer.ggml.token_type': [types, T.ARRAY],
      'tokenizer.ggml.merges': [QWEN_MERGES, T.ARRAY],
      // tokenizer_config.json first (eos, pad), then config.json for what is still unset (bos)
      'tokenizer.ggml.eos_token_id': [22, T.UINT32],
      'tokenizer.ggml.padding_token_id': [20, T.UINT32],
      'tokenizer.ggml.bos_token_id': [20, T.UINT32],
      'tokenizer.ggml.add_bos_token': [false, T.BOOL],
      'tokenizer.chat_template': [QWEN_TEMPLATE, T.STRING],
    };
    assert.deepEqual(g.kv, expected);
    assert.deepEqual(Object.keys(g.kv), Object.keys(expected), 'in convert_hf_to_gguf.py’s order');
    assert.equal(g.typedMetadata['tokenizer.ggml.tokens']!.subType, T.STRING);
    assert.equal(g.typedMetadata['tokenizer.ggml.token_type']!.subType, T.INT32);
    assert.equal(g.typedMetadata['tokenizer.ggml.merges']!.subType, T.STRING);

    // no output.weight: llama.cpp reads token_embd for the output of a tied model
    assert.deepEqual(
      g.tensorInfos.map((t) => t.name),
      tensors.map((t) => ggufNameOf(t.name)),
    );
    for (const t of tensors) {
      const r = g.tensors.get(ggufNameOf(t.name))!;
      assert.deepEqual(r.shape, [...t.shape].reverse(), `${t.name} ne`);
      const oneD = t.shape.length === 1;
      const wholeBlocks = t.shape[t.shape.length - 1]! % 32 === 0;
      const type = oneD
        ? GGMLQuantizationType.F32
        : wholeBlocks
          ? GGMLQuantizationType.Q8_0
          : GGMLQuantizationType.F16;
      assert.equal(r.dtype, type, `${t.name} type`);
      if (type === GGMLQuantizationType.Q8_0) {
        assert.deepEqual(r.raw, quantizeQ8_0(t.values), `${t.name}: bit-exact with gguf-py's Q8_0`);
        for (let b = 0; b < t.values.length / 32; b++) {
          const block = t.values.slice(b * 32, b * 32 + 32);
          const step = Math.max(...block.map(Math.abs)) / 127;
          block.forEach((v, j) => assert.ok(Math.abs(r.values[b * 32 + j]! - v) <= step, `${t.name} value`));
        }
      } else assert.deepEqual(r.values, t.values, `${t.name} values`);
    }
    assert.equal(
      g.tensors.get('blk.0.ffn_down.weight')!.dtype,
      GGMLQuantizationType.F16,
      'rows of 80: not Q8_0',
    );
    assert.equal(g.tensorDataOffset % 32n, 0n);
    for (const info of g.tensorInfos) assert.equal(info.offset % 32n, 0n, `${info.name} aligned`);
    assert.deepEqual(result, {
      file: out,
      arch: 'qwen2',
      outType: 'q8_0',
      tensors: tensors.length,
      bytes: g.size,
    });
    assert.deepEqual(fs.readdirSync(outDir), ['model.gguf']);
  });

  for (const [outType, type, fileType] of [
    ['f16', GGMLQuantizationType.F16, 1],
    ['bf16', GGMLQuantizationType.BF16, 32],
    ['f32', GGMLQuantizationType.F32, 0],
  ] as const) {
    it(`writes ${outType} exactly, keeping norms and biases in f32`, async () => {
      const tensors = hfTensors('qwen2', QWEN, outType === 'f16' ? 'BF16' : 'F16', true, 2);
      writeModel(model, 'qwen2', QWEN, tensors);

      const result = await convertModel(model, out, { outType, name: 'Coder 7B' });

      const g = await readGguf(out);
      assert.deepEqual(g.kv['general.file_type'], [fileType, GGUFValueType.UINT32]);
      assert.deepEqual(g.kv['general.name'], ['Coder 7B', GGUFValueType.STRING]);
      for (const t of tensors) {
        const r = g.tensors.get(ggufNameOf(t.name))!;
        assert.equal(r.dtype, t.shape.length === 1 ? GGMLQuantizationType.F32 : type, `${t.name} type`);
        assert.deepEqual(r.values, t.values, `${t.name} values`);
      }
      assert.equal(result.outType, outType);
    });
  }

  for (const outType of ['f32', 'q8_0'] as const) {
    it(`converts a llama model to ${outType}: untied output, q/k rows permuted per head, Llama 3 rope_freqs and vocabulary flags`, async () => {
      const tensors = hfTensors('llama', LLAMA, 'F16', false, 3);
      writeModel(model, 'llama', LLAMA, tensors);

      await convertModel(model, out, { outType });

      const g = await readGguf(out);
      const { tokens, types } = expectedVocabulary('llama');
      const T = GGUFValueType;
      const expected: Record<string, [unknown, GGUFValueType]> = {
        'general.architecture': ['llama', T.STRING],
        'general.type': ['model', T.STRING],
        'general.name': ['merged', T.STRING],
        'llama.block_count': [2, T.UINT32],
        'llama.context_length': [131072, T.UINT32],
        'llama.embedding_length': [64, T.UINT32],
        'llama.feed_forward_length': [96, T.UINT32],
        'llama.attention.head_count': [4, T.UINT32],
        'llama.attention.head_count_kv': [2, T.UINT32],
        'llama.rope.freq_base': [500000, T.FLOAT32],
        'llama.attention.layer_norm_rms_epsilon': [Math.fround(1e-5), T.FLOAT32],
        'llama.attention.key_length': [16, T.UINT32],
        'llama.attention.value_length': [16, T.UINT32],
        'general.file_type': [outType === 'f32' ? 0 : 7, T.UINT32],
        'llama.vocab_size': [40, T.UINT32],
        'llama.rope.dimension_count': [16, T.UINT32],
        'general.quantization_version': [2, T.UINT32],
        'tokenizer.ggml.add_space_prefix': [false, T.BOOL],
        'tokenizer.ggml.model': ['gpt2', T.STRING],
        'tokenizer.ggml.pre': ['llama-bpe', T.STRING],
        'tokenizer.ggml.tokens': [tokens, T.ARRAY],
        'tokenizer.ggml.token_type': [types, T.ARRAY],
        // [a, b] pairs joined by a space; a space inside a token becomes Ġ (U+0120)
        'tokenizer.ggml.merges': [['a b', 'ab c', 'c d', 'Ġ a', 'Ġa b', 'e f', 'Ġx y'], T.ARRAY],
        // config.json's eos_token_id list is not an id: tokenizer_config.json's eos_token is used
        'tokenizer.ggml.bos_token_id': [20, T.UINT32],
        'tokenizer.ggml.eos_token_id': [22, T.UINT32],
        // the post-processor template starts every sequence with <|begin_of_text|>
        'tokenizer.ggml.add_bos_token': [true, T.BOOL],
        'tokenizer.ggml.add_sep_token': [false, T.BOOL],
        'tokenizer.chat_template': [LLAMA_TEMPLATE, T.STRING], // from chat_template.jinja
      };
      assert.deepEqual(g.kv, expected);
      assert.deepEqual(Object.keys(g.kv), Object.keys(expected));

      assert.deepEqual(
        g.tensorInfos.map((t) => t.name),
        ['rope_freqs.weight', ...tensors.map((t) => ggufNameOf(t.name))],
      );
      const freqs = g.tensors.get('rope_freqs.weight')!;
      assert.equal(freqs.dtype, GGMLQuantizationType.F32);
      assert.deepEqual(freqs.shape, [HEAD / 2]);
      const factors = llama3Factors(500000, HEAD);
      assert.ok(factors.includes(1) && factors.includes(8) && factors.some((f) => f > 1 && f < 8));
      factors.forEach((f, i) => assert.ok(Math.abs(freqs.values[i]! - f) <= f * 1e-5, `rope factor ${i}`));

      assert.ok(g.tensors.has('output.weight'));
      for (const t of tensors) {
        const r = g.tensors.get(ggufNameOf(t.name))!;
        const values = expectedValues('llama', LLAMA, t);
        if (t.name.includes('q_proj') || t.name.includes('k_proj')) assert.notDeepEqual(values, t.values);
        if (outType === 'q8_0' && t.shape.length === 2) {
          assert.equal(r.dtype, GGMLQuantizationType.Q8_0, `${t.name} type`);
          assert.deepEqual(r.raw, quantizeQ8_0(values), `${t.name} quantized after permuting`);
        } else {
          assert.equal(r.dtype, GGMLQuantizationType.F32, `${t.name} type`);
          assert.deepEqual(r.values, values, `${t.name} values`);
        }
      }
    });
  }

  it('reads sharded weights through model.safetensors.index.json into the same file', async () => {
    const tensors = hfTensors('qwen2', QWEN, 'BF16', false, 4);
    writeModel(model, 'qwen2', QWEN, tensors, { shards: 3 });
    writeModel(path.join(dir, 'single'), 'qwen2', QWEN, tensors);
    assert.equal(fs.readdirSync(model).filter((f) => f.endsWith('.safetensors')).length, 3);

    await convertModel(model, out, { name: 'm' });
    await convertModel(path.join(dir, 'single'), path.join(outDir, 'single.gguf'), { name: 'm' });

    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(path.join(outDir, 'single.gguf')));
    assert.ok((await readGguf(out)).tensors.has('output.weight'));
  });

  it('writes yarn rope scaling for qwen2 and linear for llama, and refuses others', async () => {
    const qwen = hfTensors('qwen2', QWEN, 'BF16', true);
    const yarn = { type: 'yarn', factor: 4.0, original_max_position_embeddings: 32768 };
    writeModel(model, 'qwen2', QWEN, qwen, {
      config: { ...modelConfig('qwen2', QWEN, true), rope_scaling: yarn },
    });
    await convertModel(model, out);
    const g = await readGguf(out);
    assert.deepEqual(g.kv['qwen2.rope.scaling.type'], ['yarn', GGUFValueType.STRING]);
    assert.deepEqual(g.kv['qwen2.rope.scaling.factor'], [4, GGUFValueType.FLOAT32]);
    assert.deepEqual(g.kv['qwen2.rope.scaling.original_context_length'], [32768, GGUFValueType.UINT32]);

    const llama = path.join(dir, 'llama');
    const linear = { rope_type: 'linear', factor: 2.0 };
    writeModel(llama, 'llama', LLAMA, hfTensors('llama', LLAMA, 'F16', true), {
      config: { ...modelConfig('llama', LLAMA, true), rope_scaling: linear },
    });
    await convertModel(llama, out, { outType: 'f16' });
    const l = await readGguf(out);
    assert.deepEqual(l.kv['llama.rope.scaling.type'], ['linear', GGUFValueType.STRING]);
    assert.deepEqual(l.kv['llama.rope.scaling.factor'], [2, GGUFValueType.FLOAT32]);
    assert.ok(!l.tensors.has('rope_freqs.weight'));
    assert.ok(!l.tensors.has('output.weight'), 'tied');

    fs.writeFileSync(
      path.join(model, 'config.json'),
      JSON.stringify({ ...modelConfig('qwen2', QWEN, true), rope_scaling: { type: 'dynamic', factor: 2 } }),
    );
    await assert.rejects(convertModel(model, path.join(outDir, 'x.gguf')), {
      name: 'ConvertError',
      key: 'rope_scaling',
      message: /rope scaling "dynamic" is not supported for qwen2/,
    });
  });

  describe('reads transformers 5’s rope_parameters', () => {
    /** config.json as transformers 5 saves it: the rope settings moved from the top level into rope_parameters. */
    function transformers5(
      arch: Arch,
      tied: boolean,
      rope: Record<string, unknown>,
    ): Record<string, unknown> {
      const config = modelConfig(arch, arch === 'qwen2' ? QWEN : LLAMA, tied);
      delete config.rope_theta;
      delete config.rope_scaling;
      return { ...config, rope_parameters: rope };
    }

    it('takes a qwen2 model’s rope_theta from rope_parameters instead of falling back to 10,000', async () => {
      writeModel(model, 'qwen2', QWEN, hfTensors('qwen2', QWEN, 'BF16', true), {
        config: transformers5('qwen2', true, { rope_type: 'default', rope_theta: 1000000.0 }),
      });
      await convertModel(model, out);
      const g = await readGguf(out);
      assert.deepEqual(g.kv['qwen2.rope.freq_base'], [1000000, GGUFValueType.FLOAT32]);
      assert.ok(!('qwen2.rope.scaling.type' in g.kv));
    });

    it('writes a Llama 3.1 model’s llama3 rope as llama.cpp needs it: freq_base and rope_freqs, the same bytes as from rope_scaling', async () => {
      const tensors = hfTensors('llama', LLAMA, 'F16', false, 3);
      writeModel(model, 'llama', LLAMA, tensors, {
        config: transformers5('llama', false, {
          rope_type: 'llama3',
          factor: 8.0,
          low_freq_factor: 1.0,
          high_freq_factor: 4.0,
          original_max_position_embeddings: 8192,
          rope_theta: 500000.0,
        }),
      });
      const before = path.join(dir, 'transformers4');
      writeModel(before, 'llama', LLAMA, tensors); // the same model with top-level rope_theta and rope_scaling

      await convertModel(model, out, { outType: 'f32', name: 'm' });
      await convertModel(before, path.join(outDir, 'before.gguf'), { outType: 'f32', name: 'm' });

      const g = await readGguf(out);
      assert.deepEqual(g.kv['llama.rope.freq_base'], [500000, GGUFValueType.FLOAT32]);
      assert.ok(!('llama.rope.scaling.type' in g.kv), 'llama.cpp takes llama3 scaling from rope_freqs alone');
      const freqs = g.tensors.get('rope_freqs.weight')!;
      assert.deepEqual(freqs.shape, [HEAD / 2]);
      llama3Factors(500000, HEAD).forEach((f, i) =>
        assert.ok(Math.abs(freqs.values[i]! - f) <= f * 1e-5, `rope factor ${i}`),
      );
      assert.deepEqual(fs.readFileSync(out), fs.readFileSync(path.join(outDir, 'before.gguf')));
    });

    it('refuses a rope_type it cannot carry over, naming config.json and rope_parameters', async () => {
      writeModel(model, 'qwen2', QWEN, hfTensors('qwen2', QWEN, 'BF16', true), {
        config: transformers5('qwen2', true, { rope_type: 'dynamic', factor: 2.0, rope_theta: 1000000.0 }),
      });
      await assert.rejects(convertModel(model, out), {
        name: 'ConvertError',
        file: path.join(model, 'config.json'),
        key: 'rope_parameters',
        message: /rope_type "dynamic" in rope_parameters is not supported for qwen2 \(default, yarn are\)/,
      });
      assert.deepEqual(fs.readdirSync(outDir), []);
    });
  });

  describe('refuses, writing nothing,', () => {
    let tensors: HfTensor[];
    const weights = () => path.join(model, 'model.safetensors');

    beforeEach(() => {
      tensors = hfTensors('qwen2', QWEN, 'BF16', true);
      writeModel(model, 'qwen2', QWEN, tensors);
    });

    async function rejects(
      expected: { file: string; key?: string; message: RegExp },
      options?: ConvertModelOptions,
    ) {
      fs.writeFileSync(out, 'previous model');
      await assert.rejects(convertModel(model, out, options), isConvertError(expected));
      assert.equal(fs.readFileSync(out, 'utf8'), 'previous model');
      assert.deepEqual(fs.readdirSync(outDir), ['model.gguf'], 'no temp file is left');
    }

    function rewrite(list: HfTensor[]): void {
      writeSafetensors(weights(), list);
    }

    it('a folder without config.json or tokenizer.json', async () => {
      fs.rmSync(path.join(model, 'tokenizer.json'));
      await rejects({ file: path.join(model, 'tokenizer.json'), message: /does not exist.*tokenizer/ });
      fs.rmSync(path.join(model, 'config.json'));
      await rejects({
        file: path.join(model, 'config.json'),
        message: /does not exist.*Hugging Face model folder/,
      });
    });

    it('an architecture it does not know', async () => {
      const config = { ...modelConfig('qwen2', QWEN, true), architectures: ['GPT2LMHeadModel'] };
      fs.writeFileSync(path.join(model, 'config.json'), JSON.stringify(config));
      await rejects({
        file: path.join(model, 'config.json'),
        key: 'architectures',
        message: /architecture GPT2LMHeadModel is not supported/,
      });
    });

    it('a layer without q_proj, and an untied model without lm_head', async () => {
      rewrite(tensors.filter((t) => t.name !== 'model.layers.1.self_attn.q_proj.weight'));
      await rejects({ file: model, key: 'model.layers.1.self_attn.q_proj.weight', message: /missing/ });
      rewrite(tensors);
      fs.writeFileSync(path.join(model, 'config.json'), JSON.stringify(modelConfig('qwen2', QWEN, false)));
      await rejects({ file: model, key: 'lm_head.weight', message: /tie_word_embeddings/ });
    });

    it('shapes that do not match config.json, and layers beyond it', async () => {
      const config = { ...modelConfig('qwen2', QWEN, true), intermediate_size: 96 };
      fs.writeFileSync(path.join(model, 'config.json'), JSON.stringify(config));
      await rejects({
        file: weights(),
        key: 'model.layers.0.mlp.gate_proj.weight',
        message: /shape \[80, 64\] does not match config.json, which implies \[96, 64\]/,
      });
      fs.writeFileSync(
        path.join(model, 'config.json'),
        JSON.stringify({ ...modelConfig('qwen2', QWEN, true), num_hidden_layers: 1 }),
      );
      await rejects({
        file: weights(),
        key: 'model.layers.1.input_layernorm.weight',
        message: /beyond config.json's num_hidden_layers \(1\)/,
      });
    });

    it('unknown tensors and unsupported dtypes', async () => {
      const extra = { ...tensors[1]!, name: 'model.layers.0.self_attn.rotary_emb.cos_cached' };
      rewrite([...tensors, extra]);
      await rejects({ file: weights(), key: extra.name, message: /unknown tensor/ });
      const ints = { ...tensors[1]!, dtype: 'I32', data: new Uint8Array(tensors[1]!.values.length * 4) };
      rewrite([ints, ...tensors.slice(2)]);
      await rejects({ file: weights(), key: ints.name, message: /dtype I32 is not supported/ });
    });

    it('a truncated safetensors file', async () => {
      const bytes = fs.readFileSync(weights());
      fs.writeFileSync(weights(), bytes.subarray(0, bytes.length - 10));
      await rejects({ file: weights(), key: tensors[tensors.length - 1]!.name, message: /truncated/ });
    });

    it('a quantized model', async () => {
      const config = {
        ...modelConfig('qwen2', QWEN, true),
        quantization_config: { quant_method: 'bitsandbytes' },
      };
      fs.writeFileSync(path.join(model, 'config.json'), JSON.stringify(config));
      await rejects({
        file: path.join(model, 'config.json'),
        key: 'quantization_config',
        message: /quantized/,
      });
    });
  });
});
