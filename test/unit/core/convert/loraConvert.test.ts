import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gguf, GGMLQuantizationType, GGUFValueType } from '@huggingface/gguf';
import { ConvertError } from '../../../../src/core/errors';
import { convertLora, type ConvertLoraOptions } from '../../../../src/core/convert/loraConvert';
import {
  adapterConfig,
  decodeHalf,
  encode,
  peftName,
  projectionShape,
  SMALL,
  syntheticTensors,
  writeAdapter,
  writeSafetensors,
  type ProjName,
  type RawTensor,
  type SyntheticTensor,
} from '../../../support/peft';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';
import { isConvertError } from '../../../support/convertErrors';

/** llama.cpp's names for the base weights (gguf-py constants.py, MODEL_TENSOR.ATTN_Q … FFN_DOWN). */
const GGUF_NAME: Record<ProjName, string> = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};
const ALL: ProjName[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

interface ReadTensor {
  shape: number[];
  dtype: GGMLQuantizationType;
  offset: bigint;
  values: number[];
  /** Raw 16-bit patterns, for F16 tensors. */
  bits: number[];
}

/** Reads a GGUF file with Hugging Face's parser (not our writer's code) and decodes every tensor. */
async function readGguf(file: string) {
  const parsed = await gguf(file, { allowLocalFile: true, typedMetadata: true });
  const bytes = fs.readFileSync(file);
  const tensors = new Map<string, ReadTensor>();
  for (const info of parsed.tensorInfos) {
    const shape = info.shape.map(Number);
    const count = shape.reduce((n, d) => n * d, 1);
    const start = Number(parsed.tensorDataOffset + info.offset);
    const values: number[] = [];
    const bits: number[] = [];
    for (let i = 0; i < count; i++) {
      if (info.dtype === GGMLQuantizationType.F32) values.push(bytes.readFloatLE(start + 4 * i));
      else if (info.dtype === GGMLQuantizationType.F16) {
        bits.push(bytes.readUInt16LE(start + 2 * i));
        values.push(decodeHalf(bits[i]!));
      } else throw new Error(`unexpected dtype ${info.dtype} for ${info.name}`);
    }
    tensors.set(info.name, { shape, dtype: info.dtype, offset: info.offset, values, bits });
  }
  return { ...parsed, tensors, size: bytes.length };
}

function ggufName(layer: number, proj: ProjName, which: 'A' | 'B'): string {
  return `blk.${layer}.${GGUF_NAME[proj]}.weight.lora_${which.toLowerCase()}`;
}

function valuesOf(tensors: readonly SyntheticTensor[], name: string): number[] {
  const t = tensors.find((x) => x.name === name);
  assert.ok(t, name);
  return t.values;
}

/**
 * convert_hf_to_gguf.py's LlamaModel.permute on a [rows, r] matrix, spelled out the NumPy way:
 * reshape(n_head, 2, rows / n_head / 2, r), swapaxes(1, 2), reshape(rows, r).
 */
function permuteLikeLlamaCpp(values: readonly number[], rows: number, r: number, nHead: number): number[] {
  const half = rows / nHead / 2;
  const row = (i: number) => values.slice(i * r, (i + 1) * r);
  const blocks = Array.from({ length: nHead }, (_, h) =>
    [0, 1].map((two) => Array.from({ length: half }, (_, i) => row((h * 2 + two) * half + i))),
  );
  const swapped = blocks.map((b) => Array.from({ length: half }, (_, i) => [b[0]![i]!, b[1]![i]!]));
  return swapped.flat(3);
}

describe('convertLora', () => {
  let dir: string;
  let peft: string;
  let out: string;

  beforeEach(() => {
    dir = makeWorkspace();
    peft = path.join(dir, 'coder-adapter');
    out = path.join(dir, 'coder.gguf');
  });

  afterEach(() => removeWorkspace(dir));

  it('writes a qwen2 GGUF adapter with the metadata, names, ggml shapes, alignment and values llama.cpp expects', async () => {
    const tensors = syntheticTensors(SMALL);
    writeAdapter(peft, tensors);

    const result = await convertLora(peft, out, { arch: 'qwen2' });

    const g = await readGguf(out);
    assert.equal(g.metadata.version, 3);
    assert.equal(g.metadata.tensor_count, 28n);
    assert.equal(g.metadata.kv_count, 6n);
    const kv = Object.fromEntries(
      Object.entries(g.typedMetadata)
        .filter(([k]) => !['version', 'tensor_count', 'kv_count'].includes(k))
        .map(([k, v]) => [k, [v.value, v.type]]),
    );
    assert.deepEqual(kv, {
      'general.architecture': ['qwen2', GGUFValueType.STRING],
      'general.type': ['adapter', GGUFValueType.STRING],
      'adapter.type': ['lora', GGUFValueType.STRING],
      'general.name': ['coder-adapter', GGUFValueType.STRING],
      'adapter.lora.alpha': [32, GGUFValueType.FLOAT32],
      'general.quantization_version': [2, GGUFValueType.UINT32],
    });
    const expectedNames = [0, 1].flatMap((layer) =>
      ALL.flatMap((proj) => [ggufName(layer, proj, 'A'), ggufName(layer, proj, 'B')]),
    );
    assert.deepEqual(
      g.tensorInfos.map((t) => t.name),
      expectedNames,
    );
    for (const layer of [0, 1]) {
      for (const proj of ALL) {
        const [outSize, inSize] = projectionShape(SMALL, proj);
        const a = g.tensors.get(ggufName(layer, proj, 'A'))!;
        const b = g.tensors.get(ggufName(layer, proj, 'B'))!;
        assert.deepEqual(a.shape, [inSize, SMALL.rank], `${proj} lora_a ne`);
        assert.deepEqual(b.shape, [SMALL.rank, outSize], `${proj} lora_b ne`);
        assert.equal(a.dtype, GGMLQuantizationType.F32);
        assert.equal(b.dtype, GGMLQuantizationType.F32);
        // qwen2 needs no permutation: q and k are copied as they are, like every other projection
        assert.deepEqual(a.values, valuesOf(tensors, peftName(layer, proj, 'A')), `${proj} lora_a values`);
        assert.deepEqual(b.values, valuesOf(tensors, peftName(layer, proj, 'B')), `${proj} lora_b values`);
      }
    }
    assert.equal(g.tensorDataOffset % 32n, 0n);
    const infos = [...g.tensorInfos].sort((x, y) => Number(x.offset - y.offset));
    let end = 0n;
    for (const info of infos) {
      assert.equal(info.offset % 32n, 0n, `${info.name} offset is 32-byte aligned`);
      assert.ok(info.offset >= end, `${info.name} does not overlap the tensor before it`);
      end = info.offset + info.shape.reduce((n, d) => n * d, 1n) * 4n;
    }
    assert.ok(Number(g.tensorDataOffset + end) <= g.size);
    assert.deepEqual(result, {
      file: out,
      arch: 'qwen2',
      outType: 'f32',
      alpha: 32,
      tensors: 28,
      bytes: g.size,
    });
  });

  it('writes f16 when asked, converting f32, f16 and bf16 inputs exactly', async () => {
    const dtypes = ['F32', 'F16', 'BF16'] as const;
    let n = 0;
    const tensors = syntheticTensors(SMALL, { dtype: () => dtypes[n++ % 3]! });
    assert.deepEqual(new Set(tensors.map((t) => t.dtype)), new Set(dtypes));
    writeAdapter(peft, tensors);

    const result = await convertLora(peft, out, { arch: 'qwen2', outType: 'f16' });

    assert.equal(result.outType, 'f16');
    const g = await readGguf(out);
    for (const layer of [0, 1]) {
      for (const proj of ALL) {
        for (const which of ['A', 'B'] as const) {
          const t = g.tensors.get(ggufName(layer, proj, which))!;
          assert.equal(t.dtype, GGMLQuantizationType.F16);
          assert.deepEqual(t.values, valuesOf(tensors, peftName(layer, proj, which)));
        }
      }
    }
    assert.equal(g.tensorDataOffset % 32n, 0n);
    for (const info of g.tensorInfos) assert.equal(info.offset % 32n, 0n);
  });

  it('keeps f16 and bf16 inputs exact in the default f32 output', async () => {
    const tensors = syntheticTensors(SMALL, { dtype: (name) => (name.includes('lora_A') ? 'F16' : 'BF16') });
    writeAdapter(peft, tensors);

    await convertLora(peft, out, { arch: 'qwen2' });

    const g = await readGguf(out);
    for (const proj of ALL) {
      for (const which of ['A', 'B'] as const) {
        const t = g.tensors.get(ggufName(1, proj, which))!;
        assert.equal(t.dtype, GGMLQuantizationType.F32);
        assert.deepEqual(t.values, valuesOf(tensors, peftName(1, proj, which)));
      }
    }
  });

  it('rounds f32 to the nearest f16, ties to even, saturating to infinity, like PyTorch', async () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0, 0x0000],
      [-0, 0x8000],
      [65504, 0x7bff], // largest half
      [65520, 0x7c00], // halfway to 65536: rounds to even, which is infinity
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [1 + 2 ** -11, 0x3c00], // tie: stays on the even 1.0
      [1 + 3 * 2 ** -11, 0x3c02], // tie: up to the even neighbour
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: 0
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: 2
      [2 ** -14 - 2 ** -25, 0x0400], // tie between the largest subnormal and the smallest normal: the normal
      [-(2 ** -14), 0x8400],
    ];
    const a = Buffer.alloc(cases.length * 4);
    cases.forEach(([v], i) => a.writeFloatLE(v, i * 4));
    const b = Buffer.alloc(8 * 2 * 4);
    b.writeFloatLE(NaN, 0);
    writeAdapter(
      peft,
      [
        { name: peftName(0, 'v_proj', 'A'), dtype: 'F32', shape: [2, 8], data: a },
        { name: peftName(0, 'v_proj', 'B'), dtype: 'F32', shape: [8, 2], data: b },
      ],
      adapterConfig({ r: 2 }),
    );

    await convertLora(peft, out, { arch: 'qwen2', outType: 'f16' });

    const g = await readGguf(out);
    const bits = g.tensors.get('blk.0.attn_v.weight.lora_a')!.bits;
    assert.deepEqual(
      bits.map((x) => x.toString(16)),
      cases.map(([, h]) => h.toString(16)),
    );
    const nan = g.tensors.get('blk.0.attn_v.weight.lora_b')!.bits[0]!;
    assert.equal(nan & 0x7c00, 0x7c00);
    assert.notEqual(nan & 0x3ff, 0, 'NaN stays NaN');
  });

  describe('llama', () => {
    // SMALL: hidden 64 = 4 heads of 16; k/v 32 rows = 2 key/value heads of 16
    const heads = { heads: 4, kvHeads: 2 };

    it('permutes the rows of q and k lora_B like convert_hf_to_gguf.py does the base weights, and nothing else', async () => {
      assert.deepEqual(permuteLikeLlamaCpp([0, 1, 2, 3, 4, 5, 6, 7], 8, 1, 1), [0, 4, 1, 5, 2, 6, 3, 7]);
      assert.deepEqual(permuteLikeLlamaCpp([0, 1, 2, 3, 4, 5, 6, 7], 8, 1, 2), [0, 2, 1, 3, 4, 6, 5, 7]);
      const tensors = syntheticTensors(SMALL, { seed: 7 });
      writeAdapter(peft, tensors);

      await convertLora(peft, out, { arch: 'llama', ...heads });

      const g = await readGguf(out);
      assert.equal(g.typedMetadata['general.architecture']?.value, 'llama');
      for (const layer of [0, 1]) {
        for (const proj of ALL) {
          const [outSize] = projectionShape(SMALL, proj);
          const a = g.tensors.get(ggufName(layer, proj, 'A'))!;
          const b = g.tensors.get(ggufName(layer, proj, 'B'))!;
          const peftB = valuesOf(tensors, peftName(layer, proj, 'B'));
          assert.deepEqual(
            a.values,
            valuesOf(tensors, peftName(layer, proj, 'A')),
            `${proj} lora_a is not permuted`,
          );
          const expectedB =
            proj === 'q_proj'
              ? permuteLikeLlamaCpp(peftB, outSize, SMALL.rank, heads.heads)
              : proj === 'k_proj'
                ? permuteLikeLlamaCpp(peftB, outSize, SMALL.rank, heads.kvHeads)
                : peftB;
          assert.deepEqual(b.values, expectedB, `${proj} lora_b`);
          if (proj === 'q_proj' || proj === 'k_proj') assert.notDeepEqual(b.values, peftB);
        }
      }
    });

    it('reads the architecture and head counts from the base config.json in the adapter folder', async () => {
      const tensors = syntheticTensors(SMALL, { seed: 7 });
      writeAdapter(path.join(dir, 'explicit'), tensors);
      await convertLora(path.join(dir, 'explicit'), path.join(dir, 'explicit.gguf'), {
        arch: 'llama',
        ...heads,
        name: 'coder-adapter',
      });
      writeAdapter(peft, tensors, adapterConfig(), {
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        hidden_size: 64,
        num_attention_heads: 4,
        num_key_value_heads: 2,
      });

      const result = await convertLora(peft, out);

      assert.equal(result.arch, 'llama');
      assert.deepEqual(fs.readFileSync(out), fs.readFileSync(path.join(dir, 'explicit.gguf')));
    });

    it('needs no head counts when the adapter leaves q_proj and k_proj alone', async () => {
      writeAdapter(peft, syntheticTensors(SMALL, { projections: ['v_proj', 'o_proj', 'down_proj'] }));

      const result = await convertLora(peft, out, { arch: 'llama' });

      assert.equal(result.tensors, 12);
    });
  });

  describe('refuses, naming what is wrong and writing nothing', () => {
    async function rejects(
      options: ConvertLoraOptions,
      expected: { file: string; key?: string; message: RegExp },
    ): Promise<void> {
      fs.writeFileSync(path.join(dir, 'unrelated.txt'), 'x');
      await assert.rejects(convertLora(peft, out, options), isConvertError(expected));
      assert.deepEqual(
        fs.readdirSync(dir).sort(),
        ['coder-adapter', 'unrelated.txt'],
        'no output, no temp file',
      );
    }
    const weights = () => path.join(peft, 'adapter_model.safetensors');
    const configFile = () => path.join(peft, 'adapter_config.json');
    const qwen2 = { arch: 'qwen2' } as const;
    const without = (name: string) => syntheticTensors(SMALL).filter((t) => t.name !== name);
    const extra = (name: string, shape = [SMALL.rank, SMALL.hidden]): RawTensor => ({
      name,
      dtype: 'F32',
      shape,
      data: encode(new Array<number>(shape[0]! * shape[1]!).fill(0.5), 'F32'),
    });

    it('modules_to_save in adapter_config.json', async () => {
      writeAdapter(
        peft,
        syntheticTensors(SMALL),
        adapterConfig({ modules_to_save: ['lm_head', 'embed_tokens'] }),
      );
      await rejects(qwen2, {
        file: configFile(),
        key: 'modules_to_save',
        message: /modules_to_save \(lm_head, embed_tokens\).*cannot carry/,
      });
    });

    it('a modules_to_save tensor in the weights', async () => {
      const name = 'base_model.model.lm_head.modules_to_save.default.weight';
      writeAdapter(peft, [...syntheticTensors(SMALL), extra(name, [8, SMALL.hidden])]);
      await rejects(qwen2, { file: weights(), key: name, message: /modules_to_save/ });
    });

    it('LoRA on lm_head', async () => {
      const name = 'base_model.model.lm_head.lora_A.weight';
      writeAdapter(peft, [...syntheticTensors(SMALL), extra(name)]);
      await rejects(qwen2, { file: weights(), key: name, message: /token embeddings or lm_head/ });
    });

    it('LoRA on the token embeddings', async () => {
      const name = 'base_model.model.model.embed_tokens.lora_embedding_A';
      writeAdapter(peft, [...syntheticTensors(SMALL), extra(name)]);
      await rejects(qwen2, { file: weights(), key: name, message: /token embeddings or lm_head/ });
    });

    it('DoRA (use_dora: true)', async () => {
      writeAdapter(peft, syntheticTensors(SMALL), adapterConfig({ use_dora: true }));
      await rejects(qwen2, { file: configFile(), key: 'use_dora', message: /DoRA/ });
    });

    it('a DoRA magnitude vector in the weights', async () => {
      const name = 'base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector';
      writeAdapter(peft, [...syntheticTensors(SMALL), extra(name, [1, SMALL.hidden])]);
      await rejects(qwen2, { file: weights(), key: name, message: /DoRA/ });
    });

    it('rsLoRA (use_rslora: true)', async () => {
      writeAdapter(peft, syntheticTensors(SMALL), adapterConfig({ use_rslora: true }));
      await rejects(qwen2, { file: configFile(), key: 'use_rslora', message: /sqrt\(r\)/ });
    });

    it('per-module alphas (alpha_pattern) and trained biases', async () => {
      writeAdapter(peft, syntheticTensors(SMALL), adapterConfig({ alpha_pattern: { q_proj: 8 } }));
      await rejects(qwen2, { file: configFile(), key: 'alpha_pattern', message: /one/ });
      writeAdapter(peft, syntheticTensors(SMALL), adapterConfig({ bias: 'lora_only' }));
      await rejects(qwen2, { file: configFile(), key: 'bias', message: /bias "lora_only"/ });
    });

    it('a lora_A without its lora_B, and the reverse', async () => {
      writeAdapter(peft, without(peftName(1, 'up_proj', 'B')));
      await rejects(qwen2, {
        file: weights(),
        key: peftName(1, 'up_proj', 'A'),
        message: new RegExp(`no matching ${peftName(1, 'up_proj', 'B').replaceAll('.', '\\.')}`),
      });
      writeAdapter(peft, without(peftName(0, 'q_proj', 'A')));
      await rejects(qwen2, { file: weights(), key: peftName(0, 'q_proj', 'B'), message: /incomplete/ });
    });

    it('a rank mismatch between lora_A and lora_B', async () => {
      const tensors = without(peftName(0, 'o_proj', 'B'));
      writeAdapter(peft, [...tensors, extra(peftName(0, 'o_proj', 'B'), [SMALL.hidden, SMALL.rank + 1])]);
      await rejects(qwen2, { file: weights(), key: peftName(0, 'o_proj', 'B'), message: /rank mismatch/ });
    });

    it('a rank that differs from adapter_config.json r', async () => {
      writeAdapter(peft, syntheticTensors(SMALL), adapterConfig({ r: 8 }));
      await rejects(qwen2, {
        file: weights(),
        key: peftName(0, 'q_proj', 'A'),
        message: /rank 4 does not match adapter_config\.json \(r = 8\)/,
      });
    });

    it('but follows rank_pattern for the modules it names', async () => {
      writeAdapter(peft, syntheticTensors(SMALL), adapterConfig({ r: 8, rank_pattern: { '.*': 4 } }));
      const result = await convertLora(peft, out, qwen2);
      assert.equal(result.tensors, 28);
    });

    it('an unknown module name', async () => {
      const name = 'base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight';
      writeAdapter(peft, [...syntheticTensors(SMALL), extra(name)]);
      await rejects(qwen2, { file: weights(), key: name, message: /unknown tensor/ });
    });

    it('a layer written with a leading zero beside the same layer without one', async () => {
      // layers.01 would become blk.1 like layers.1: 4 tensors in, 2 out, one adaptation silently lost.
      const one = syntheticTensors({ ...SMALL, layers: 2 }, { projections: ['q_proj'] }).slice(2);
      const zeroOne = one.map((t) => ({ ...t, name: t.name.replace('.layers.1.', '.layers.01.') }));
      writeAdapter(peft, [...one, ...zeroOne]);
      await rejects(qwen2, {
        file: weights(),
        key: zeroOne[0]!.name,
        message: /layer "01" has a leading zero, so it cannot be told from layer 1/,
      });
    });

    it('a layer index beyond any model llama.cpp loads', async () => {
      const [a, b] = syntheticTensors(SMALL, { projections: ['q_proj'] });
      const huge = [a!, b!].map((t) => ({
        ...t,
        name: t.name.replace('.layers.0.', '.layers.100000000000000000000000.'),
      }));
      writeAdapter(peft, huge);
      await rejects(qwen2, {
        file: weights(),
        key: huge[0]!.name,
        message: /layer 100000000000000000000000 is beyond the 512 layers llama\.cpp can load/,
      });
      writeAdapter(
        peft,
        [a!, b!].map((t) => ({ ...t, name: t.name.replace('.layers.0.', '.layers.512.') })),
      );
      await rejects(qwen2, { file: weights(), key: peftName(512, 'q_proj', 'A'), message: /beyond the 512/ });
    });

    it('shapes that differ between layers', async () => {
      writeAdapter(peft, [
        ...without(peftName(1, 'gate_proj', 'B')),
        extra(peftName(1, 'gate_proj', 'B'), [SMALL.intermediate + 2, SMALL.rank]),
      ]);
      await rejects(qwen2, { file: weights(), key: peftName(1, 'gate_proj', 'A'), message: /98×64/ });
    });

    it('a dtype the converter cannot read', async () => {
      const name = peftName(0, 'q_proj', 'A');
      writeAdapter(peft, [
        ...without(name),
        {
          name,
          dtype: 'F64',
          shape: [SMALL.rank, SMALL.hidden],
          data: new Uint8Array(SMALL.rank * SMALL.hidden * 8),
        },
      ]);
      await rejects(qwen2, { file: weights(), key: name, message: /dtype F64 is not supported/ });
    });

    it('a folder that is not a PEFT adapter, or whose config is broken', async () => {
      writeAdapter(peft, syntheticTensors(SMALL));
      fs.rmSync(configFile());
      await rejects(qwen2, { file: configFile(), message: /does not exist: is .* a PEFT adapter folder/ });
      fs.writeFileSync(configFile(), '{ "r": 4,');
      await rejects(qwen2, { file: configFile(), message: /not valid JSON/ });
      fs.writeFileSync(configFile(), JSON.stringify({ r: 4 }));
      await rejects(qwen2, { file: configFile(), key: 'lora_alpha', message: /lora_alpha/ });
      fs.writeFileSync(configFile(), JSON.stringify(adapterConfig()));
      fs.renameSync(weights(), path.join(peft, 'adapter_model.bin'));
      await rejects(qwen2, { file: peft, message: /adapter_model\.bin .*safe_serialization=True/ });
    });

    it('an unknown architecture, or one that contradicts the base config', async () => {
      writeAdapter(peft, syntheticTensors(SMALL));
      await rejects({}, { file: peft, message: /architecture is unknown: pass --arch qwen2\|llama/ });

      const baseConfig = path.join(peft, 'config.json');
      fs.writeFileSync(baseConfig, JSON.stringify({ model_type: 'qwen2', num_attention_heads: 4 }));
      await rejects({ arch: 'llama' }, { file: baseConfig, key: 'model_type', message: /refuses/ });
      fs.writeFileSync(baseConfig, JSON.stringify({ model_type: 'gpt2' }));
      await rejects({}, { file: baseConfig, key: 'model_type', message: /"gpt2" is not supported/ });
    });

    it('llama q/k adapters without head counts, or with counts that do not fit', async () => {
      writeAdapter(peft, syntheticTensors(SMALL));
      await rejects({ arch: 'llama' }, { file: peft, message: /--heads N --kv-heads N/ });
      await rejects(
        { arch: 'llama', heads: 3, kvHeads: 2 },
        { file: weights(), key: peftName(0, 'q_proj', 'B'), message: /64 rows do not split into 3 heads/ },
      );
      await rejects(
        { arch: 'llama', heads: 2, kvHeads: 4 },
        { file: weights(), key: peftName(0, 'k_proj', 'B'), message: /check --heads and --kv-heads/ },
      );
    });

    it('and leaves an existing output file as it was', async () => {
      fs.writeFileSync(out, 'previous adapter');
      writeAdapter(peft, without(peftName(0, 'v_proj', 'A')));
      await assert.rejects(convertLora(peft, out, qwen2), ConvertError);
      assert.equal(fs.readFileSync(out, 'utf8'), 'previous adapter');
      assert.deepEqual(fs.readdirSync(dir).sort(), ['coder-adapter', 'coder.gguf']);
    });
  });

  it('reads safetensors with __metadata__ and an unpadded header', async () => {
    const tensors = syntheticTensors(SMALL, { projections: ['q_proj'], dtype: 'BF16' });
    const file = path.join(peft, 'adapter_model.safetensors');
    fs.mkdirSync(peft);
    fs.writeFileSync(path.join(peft, 'adapter_config.json'), JSON.stringify(adapterConfig()));
    for (let pad = 0; pad === 0 || fs.readFileSync(file).readBigUInt64LE(0) % 4n === 0n; pad++) {
      writeSafetensors(file, tensors, { metadata: { format: 'pt', note: 'x'.repeat(pad) } });
    }

    await convertLora(peft, out, { arch: 'qwen2' });

    const g = await readGguf(out);
    assert.deepEqual(
      g.tensors.get('blk.1.attn_q.weight.lora_b')!.values,
      valuesOf(tensors, peftName(1, 'q_proj', 'B')),
    );
  });
});
