// Rotary position embedding settings: config.json's rope_theta and rope_scaling read into what llama.cpp takes
// (rope.freq_base, the rope.scaling keys, or for Llama 3.1 the rope_freqs tensor), the scalings each architecture
// supports and nothing else.

import { z } from 'zod';
import { ConvertError } from '../errors';
import { ARCHITECTURE, type Architecture } from './architectures';

/** transformers' rope_theta default, which llama.cpp's converter also falls back to. */
const DEFAULT_ROPE_THETA = 10000;

export const ropeScalingSchema = z.looseObject({
  rope_type: z.string().nullish(),
  type: z.string().nullish(),
  factor: z.number().positive().nullish(),
  low_freq_factor: z.number().positive().nullish(),
  high_freq_factor: z.number().positive().nullish(),
  original_max_position_embeddings: z.number().int().positive().nullish(),
});

/** The rope keys of a parsed config.json. */
export interface RopeFields {
  rope_theta?: number | null;
  rope_scaling?: z.infer<typeof ropeScalingSchema> | null;
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

/** The rope of config.json `file`; the scalings llama.cpp's converter carries over for `arch`, refusing others. */
export function readRope(file: string, arch: Architecture, c: RopeFields): Rope {
  return { theta: c.rope_theta ?? DEFAULT_ROPE_THETA, scaling: ropeScaling(file, arch, c) };
}

function ropeScaling(file: string, arch: Architecture, c: RopeFields): RopeScaling {
  const s = c.rope_scaling;
  const type = s?.rope_type ?? s?.type;
  if (!s || type === undefined || type === null || type === 'default') return { kind: 'none' };
  const refuse = (reason: string): never => {
    throw new ConvertError(file, reason, 'rope_scaling');
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
      // transformers reads it from rope_scaling; llama.cpp's converter from the top level; both default to 8192
      originalContext: s.original_max_position_embeddings ?? c.original_max_position_embeddings ?? 8192,
    };
  }
  return refuse(
    `rope scaling "${type}" is not supported for ${arch} (${supported.join(' and ')} are); ` +
      'remove rope_scaling to convert the model without it, or convert it with llama.cpp.',
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
