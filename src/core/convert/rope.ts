// Rotary position embedding settings: config.json's rope read into what llama.cpp takes (rope.freq_base, the
// rope.scaling keys, or for Llama 3.1 the rope_freqs tensor), the scalings each architecture supports and nothing
// else. Two layouts: transformers 4's top-level rope_theta and rope_scaling, and transformers 5's rope_parameters
// (RotaryEmbeddingConfigMixin), which holds rope_type, rope_theta and the scaling's keys in one object.

import * as z from 'zod';
import { ConvertError } from '../errors';
import { ARCHITECTURE, type Architecture } from './architectures';

const ropeDictSchema = z.looseObject({
  rope_type: z.string().nullish(),
  /** transformers' older name for rope_type, still read by it and by llama.cpp. */
  type: z.string().nullish(),
  rope_theta: z.number().positive().nullish(),
  factor: z.number().positive().nullish(),
  low_freq_factor: z.number().positive().nullish(),
  high_freq_factor: z.number().positive().nullish(),
  original_max_position_embeddings: z.number().int().positive().nullish(),
});
type RopeDict = z.infer<typeof ropeDictSchema>;

/** The rope keys of config.json, for its schema. */
export const ropeFields = {
  rope_theta: z.number().positive().nullish(),
  rope_scaling: ropeDictSchema.nullish(),
  rope_parameters: ropeDictSchema.nullish(),
};

/** The rope keys of a parsed config.json. */
export interface RopeFields {
  rope_theta?: number | null;
  rope_scaling?: RopeDict | null;
  rope_parameters?: RopeDict | null;
  original_max_position_embeddings?: number | null;
}

export type RopeScaling =
  | { kind: 'none' }
  | { kind: 'linear'; factor: number }
  | { kind: 'yarn'; factor: number; originalContext: number }
  | {
      kind: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalContext: number;
    };

export interface Rope {
  theta: number;
  scaling: RopeScaling;
}

/** transformers 5's keys of a rope_parameters object that holds one rope per layer type. */
const LAYER_TYPES = ['full_attention', 'sliding_attention'];

/**
 * The rope of config.json `file`; the scalings llama.cpp's converter carries over for `arch`, refusing others.
 * rope_parameters' rope_theta wins over a top-level one, as in transformers 5 and llama.cpp.
 */
export function readRope(file: string, arch: Architecture, c: RopeFields): Rope {
  const source = ropeSource(file, c);
  const theta = source?.dict.rope_theta ?? c.rope_theta ?? ARCHITECTURE[arch].defaultRopeTheta;
  if (theta === undefined) {
    throw new ConvertError(
      file,
      `${arch} has no default rope_theta; give it in rope_parameters (or at the top level).`,
      source ? `${source.key}.rope_theta` : 'rope_theta',
    );
  }
  return { theta, scaling: source ? ropeScaling(file, arch, source, c) : { kind: 'none' } };
}

interface RopeSource {
  key: 'rope_scaling' | 'rope_parameters';
  dict: RopeDict;
}

/**
 * Which object holds the rope: rope_parameters (transformers 5) or rope_scaling (4). When both are there and
 * differ, transformers uses rope_scaling and llama.cpp rope_parameters, so the model's rope cannot be known.
 */
function ropeSource(file: string, c: RopeFields): RopeSource | undefined {
  const parameters = c.rope_parameters ?? undefined;
  const scaling = c.rope_scaling ?? undefined;
  if (parameters) {
    const nested = LAYER_TYPES.find((k) => k in parameters);
    if (nested !== undefined) {
      throw new ConvertError(
        file,
        `rope_parameters holds a rope per layer type (${nested}), which llama and qwen2 models do not have; ` +
          "convert the model with llama.cpp's convert_hf_to_gguf.py.",
        'rope_parameters',
      );
    }
  }
  if (parameters && scaling && !sameScaling(parameters, scaling)) {
    throw new ConvertError(
      file,
      'rope_parameters and rope_scaling disagree (transformers would use rope_scaling, llama.cpp ' +
        'rope_parameters); keep one of them.',
      'rope_scaling',
    );
  }
  if (parameters) return { key: 'rope_parameters', dict: parameters };
  if (scaling) return { key: 'rope_scaling', dict: scaling };
  return undefined;
}

function sameScaling(a: RopeDict, b: RopeDict): boolean {
  const keys = ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'] as const;
  return typeOf(a) === typeOf(b) && keys.every((k) => (a[k] ?? undefined) === (b[k] ?? undefined));
}

function typeOf(d: RopeDict): string {
  return d.rope_type ?? d.type ?? 'default';
}

function ropeScaling(file: string, arch: Architecture, source: RopeSource, c: RopeFields): RopeScaling {
  const { key, dict: s } = source;
  const type = typeOf(s);
  if (type === 'default') return { kind: 'none' };
  const refuse = (reason: string): never => {
    throw new ConvertError(file, reason, key);
  };
  const supported = ARCHITECTURE[arch].ropeScalings;
  const kind =
    type === 'yarn' || type === 'linear' ? type : type.toLowerCase() === 'llama3' ? 'llama3' : undefined;
  const factor = s.factor ?? undefined;
  if (kind === 'yarn' && supported.includes(kind)) {
    if (factor === undefined || !s.original_max_position_embeddings)
      refuse('yarn rope scaling needs factor and original_max_position_embeddings.');
    return { kind, factor: factor!, originalContext: s.original_max_position_embeddings! };
  }
  if (kind === 'linear' && supported.includes(kind)) {
    if (factor === undefined) refuse('linear rope scaling needs a factor.');
    return { kind, factor: factor! };
  }
  if (kind === 'llama3' && supported.includes(kind)) {
    return {
      kind,
      factor: factor ?? 8,
      lowFreqFactor: s.low_freq_factor ?? 1,
      highFreqFactor: s.high_freq_factor ?? 4,
      // transformers reads it from the rope object; llama.cpp's converter from the top level; both default to 8192
      originalContext: s.original_max_position_embeddings ?? c.original_max_position_embeddings ?? 8192,
    };
  }
  return refuse(
    key === 'rope_scaling'
      ? `rope scaling "${type}" is not supported for ${arch} (${supported.join(' and ')} are); ` +
          'remove rope_scaling to convert the model without it, or convert it with llama.cpp.'
      : `rope_type "${type}" in rope_parameters is not supported for ${arch} (${['default', ...supported].join(', ')} ` +
          'are); convert the model with llama.cpp.',
  );
}

/**
 * LlamaModel.generate_extra_tensors: Llama 3.1's frequency factors per rotary dimension pair (rope_freqs.weight),
 * in float32 like PyTorch computes them there.
 */
export function llama3RopeFactors(
  base: number,
  dim: number,
  r: Extract<RopeScaling, { kind: 'llama3' }>,
): Float32Array {
  const f = Math.fround;
  const lowFreqWavelen = r.originalContext / r.lowFreqFactor;
  const highFreqWavelen = r.originalContext / r.highFreqFactor;
  const factors = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = f(1 / f(Math.pow(base, f((2 * i) / dim))));
    const wavelen = f(f(2 * Math.PI) * f(1 / freq)); // torch: scalar / tensor is reciprocal(tensor) * scalar
    if (wavelen < highFreqWavelen) factors[i] = 1;
    else if (wavelen > lowFreqWavelen) factors[i] = r.factor;
    else {
      const smooth = f(
        f(f(r.originalContext * f(1 / wavelen)) - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor),
      );
      factors[i] = f(1 / f(f(f(1 - smooth) / r.factor) + smooth));
    }
  }
  return factors;
}
