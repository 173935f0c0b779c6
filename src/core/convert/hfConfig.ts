// A Hugging Face config.json read into the typed configuration the converters use: the whole of a model's (its
// architecture, sizes, defaults transformers fills in, rope), or the little of a base model's that a LoRA adapter
// needs (architecture and head counts).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { ConvertError } from '../errors';
import {
  ARCHITECTURE,
  architectureOfClass,
  architectureOfModelType,
  KNOWN_CLASSES,
  KNOWN_MODEL_TYPES,
  MAX_LAYERS,
  type Architecture,
  type CheckpointDims,
} from './architectures';
import { MODEL_FOLDER_HINT, readJson, schemaError } from './inputFiles';
import { readRope, ropeFields, type Rope } from './rope';

export const CONFIG_FILE = 'config.json';

const DEFAULT_RMS_NORM_EPS = 1e-6;

const positiveInt = z.number().int().positive();
const configSchema = z.looseObject({
  architectures: z.array(z.string()).min(1),
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullish(),
  head_dim: positiveInt.nullish(),
  vocab_size: positiveInt,
  max_position_embeddings: positiveInt.nullish(),
  original_max_position_embeddings: positiveInt.nullish(),
  rms_norm_eps: z.number().positive().nullish(),
  rope_theta: ropeFields.rope_theta,
  tie_word_embeddings: z.boolean().nullish(),
  rope_scaling: ropeFields.rope_scaling,
  quantization_config: z.unknown().optional(),
  rope_parameters: ropeFields.rope_parameters,
});

export interface ModelConfig extends CheckpointDims {
  arch: Architecture;
  /** config.json's head_dim when it has one (llama.cpp writes key/value lengths then). */
  explicitHeadDim?: number;
  contextLength: number;
  rmsNormEps: number;
  rope: Rope;
  /** The raw JSON, for the special token ids SpecialVocab reads from it. */
  raw: Record<string, unknown>;
}

/** Reads `hfDir`'s config.json, refusing what the converter cannot convert. */
export function readModelConfig(hfDir: string): ModelConfig {
  const file = path.join(hfDir, CONFIG_FILE);
  const raw = readJson(file, MODEL_FOLDER_HINT);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw schemaError(file, parsed.error);
  const c = parsed.data;
  const hfArch = c.architectures[0]!;
  const arch = architectureOfClass(hfArch);
  if (!arch) {
    throw new ConvertError(
      file,
      `architecture ${hfArch} is not supported; this converter knows ${KNOWN_CLASSES.join(', ')}. ` +
        "Convert it with llama.cpp's convert_hf_to_gguf.py instead.",
      'architectures',
    );
  }
  if (c.quantization_config !== undefined && c.quantization_config !== null) {
    throw new ConvertError(
      file,
      'the model is quantized (quantization_config); merge and save it in bfloat16 or float16 before converting.',
      'quantization_config',
    );
  }
  if (c.head_dim == null && c.hidden_size % c.num_attention_heads !== 0) {
    throw new ConvertError(
      file,
      `hidden_size ${c.hidden_size} does not split into ${c.num_attention_heads} attention heads.`,
      'num_attention_heads',
    );
  }
  if (c.num_hidden_layers > MAX_LAYERS) {
    throw new ConvertError(
      file,
      `num_hidden_layers is ${c.num_hidden_layers}, more than the ${MAX_LAYERS} layers llama.cpp can load ` +
        '(LLAMA_MAX_LAYERS).',
      'num_hidden_layers',
    );
  }
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (headDim % 2 !== 0)
    throw new ConvertError(
      file,
      `the head size ${headDim} is odd; rotary embeddings need an even one.`,
      'head_dim',
    );
  // transformers' configs: no num_key_value_heads means one key/value head per attention head.
  const kvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % kvHeads !== 0) {
    throw new ConvertError(
      file,
      `${c.num_attention_heads} attention heads do not split into groups for ${kvHeads} key/value heads.`,
      'num_key_value_heads',
    );
  }
  return {
    arch,
    hidden: c.hidden_size,
    intermediate: c.intermediate_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    kvHeads,
    explicitHeadDim: c.head_dim ?? undefined,
    headDim,
    vocabSize: c.vocab_size,
    contextLength: c.max_position_embeddings ?? ARCHITECTURE[arch].defaultContextLength,
    rmsNormEps: c.rms_norm_eps ?? DEFAULT_RMS_NORM_EPS,
    tied: c.tie_word_embeddings ?? false,
    rope: readRope(file, arch, c),
    raw: raw as Record<string, unknown>,
  };
}

const baseConfigSchema = z.looseObject({
  model_type: z.string(),
  num_attention_heads: z.number().int().positive().optional(),
  num_key_value_heads: z.number().int().positive().optional(),
});

export interface BaseConfig {
  file: string;
  arch: Architecture;
  heads?: number;
  kvHeads?: number;
}

/** The base model's config.json, when an adapter folder holds one (llama.cpp's `--base`). */
export function readBaseConfig(peftDir: string): BaseConfig | undefined {
  const file = path.join(peftDir, CONFIG_FILE);
  if (!fs.existsSync(file)) return undefined;
  const parsed = baseConfigSchema.safeParse(readJson(file, ''));
  if (!parsed.success) throw schemaError(file, parsed.error);
  const c = parsed.data;
  const arch = architectureOfModelType(c.model_type);
  if (!arch) {
    throw new ConvertError(
      file,
      `model_type "${c.model_type}" is not supported; the converter knows ${KNOWN_MODEL_TYPES.join(', ')}.`,
      'model_type',
    );
  }
  const heads = c.num_attention_heads;
  // Hugging Face's default: no num_key_value_heads means one key/value head per attention head.
  return { file, arch, heads, kvHeads: c.num_key_value_heads ?? heads };
}
