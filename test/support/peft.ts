// Synthetic PEFT LoRA adapters for the converter's tests: adapter_config.json and adapter_model.safetensors written
// by hand, byte by byte, so the tests depend on neither PyTorch nor the code under test.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { mulberry32 } from './random';

export type Dtype = 'F32' | 'F16' | 'BF16';

export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** Writes a safetensors file: u64 LE header length, JSON header, data in the order given. */
export function writeSafetensors(
  file: string,
  tensors: readonly RawTensor[],
  options: { metadata?: Record<string, string>; padHeaderTo?: number } = {},
): void {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  // The safetensors library pads the header with spaces to 8 bytes; the format does not require it.
  if (options.padHeaderTo)
    json += ' '.repeat((options.padHeaderTo - (json.length % options.padHeaderTo)) % options.padHeaderTo);
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  fs.writeFileSync(file, Buffer.concat([length, headerBytes, ...tensors.map((t) => t.data)]));
}

/** Little-endian bytes of `values` in `dtype`; F16 and BF16 only take values they represent exactly. */
export function encode(values: readonly number[], dtype: Dtype): Uint8Array {
  const out = Buffer.alloc(values.length * (dtype === 'F32' ? 4 : 2));
  values.forEach((v, i) => {
    if (dtype === 'F32') out.writeFloatLE(v, i * 4);
    else if (dtype === 'BF16') {
      const f = Buffer.alloc(4);
      f.writeFloatLE(v);
      if (f.readUInt16LE(0) !== 0) throw new Error(`${v} is not exact in bfloat16`);
      out.writeUInt16LE(f.readUInt16LE(2), i * 2);
    } else out.writeUInt16LE(exactHalf(v), i * 2);
  });
  return out;
}

/** The binary16 bits of a normal, exactly representable value (or zero): sign, exponent, 10-bit fraction. */
function exactHalf(v: number): number {
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  const sign = v < 0 ? 0x8000 : 0;
  const exponent = Math.floor(Math.log2(Math.abs(v)));
  const fraction = (Math.abs(v) / 2 ** exponent - 1) * 1024;
  if (exponent < -14 || exponent > 15 || !Number.isInteger(fraction))
    throw new Error(`${v} is not exact in float16`);
  return sign | ((exponent + 15) << 10) | fraction;
}

/** The value of binary16 bits, straight from the definition. */
export function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

export const ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const;
export const MLP = ['gate_proj', 'up_proj', 'down_proj'] as const;
export type ProjName = (typeof ATTENTION)[number] | (typeof MLP)[number];

export interface AdapterShape {
  layers: number;
  hidden: number;
  intermediate: number;
  /** Output rows of k_proj and v_proj (key/value heads × head size). */
  kvSize: number;
  rank: number;
}

export const SMALL: AdapterShape = { layers: 2, hidden: 64, intermediate: 96, kvSize: 32, rank: 4 };

/** [out, in] of each projection, as PyTorch stores the base weight. */
export function projectionShape(shape: AdapterShape, proj: ProjName): [number, number] {
  const { hidden, intermediate, kvSize } = shape;
  return {
    q_proj: [hidden, hidden],
    k_proj: [kvSize, hidden],
    v_proj: [kvSize, hidden],
    o_proj: [hidden, hidden],
    gate_proj: [intermediate, hidden],
    up_proj: [intermediate, hidden],
    down_proj: [hidden, intermediate],
  }[proj] as [number, number];
}

export function peftName(layer: number, proj: ProjName, which: 'A' | 'B'): string {
  const block = (ATTENTION as readonly string[]).includes(proj) ? 'self_attn' : 'mlp';
  return `base_model.model.model.layers.${layer}.${block}.${proj}.lora_${which}.weight`;
}

export interface SyntheticTensor extends RawTensor {
  /** Row-major values, exactly representable in every dtype used here. */
  values: number[];
}

/** lora_A [r, in] and lora_B [out, r] for every layer and projection, with seeded values. */
export function syntheticTensors(
  shape: AdapterShape,
  options: {
    dtype?: Dtype | ((name: string) => Dtype);
    projections?: readonly ProjName[];
    seed?: number;
  } = {},
): SyntheticTensor[] {
  const rand = mulberry32(options.seed ?? 1);
  const tensors: SyntheticTensor[] = [];
  for (let layer = 0; layer < shape.layers; layer++) {
    for (const proj of options.projections ?? [...ATTENTION, ...MLP]) {
      const [out, inSize] = projectionShape(shape, proj);
      for (const which of ['A', 'B'] as const) {
        const name = peftName(layer, proj, which);
        const dims = which === 'A' ? [shape.rank, inSize] : [out, shape.rank];
        // k/64 for |k| <= 128: 8 significant bits, exact in f32, f16 and bf16
        const values = Array.from({ length: dims[0]! * dims[1]! }, () => Math.round(rand() * 256 - 128) / 64);
        const dtype = typeof options.dtype === 'function' ? options.dtype(name) : (options.dtype ?? 'F32');
        tensors.push({ name, dtype, shape: dims, values, data: encode(values, dtype) });
      }
    }
  }
  return tensors;
}

export function adapterConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    base_model_name_or_path: 'Qwen/Qwen2.5-Coder-7B-Instruct',
    r: SMALL.rank,
    lora_alpha: 32,
    lora_dropout: 0.05,
    bias: 'none',
    target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    task_type: 'CAUSAL_LM',
    modules_to_save: null,
    use_dora: false,
    use_rslora: false,
    fan_in_fan_out: false,
    rank_pattern: {},
    alpha_pattern: {},
    ...overrides,
  };
}

/** Writes a PEFT adapter folder: adapter_config.json, adapter_model.safetensors and, when given, config.json. */
export function writeAdapter(
  dir: string,
  tensors: readonly RawTensor[],
  config: Record<string, unknown> = adapterConfig(),
  baseConfig?: Record<string, unknown>,
): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors, { padHeaderTo: 8 });
  if (baseConfig) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(baseConfig, null, 2));
}
