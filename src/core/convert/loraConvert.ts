// PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) → GGUF LoRA adapter that llama.cpp
// (`--lora`) and Ollama (`ADAPTER`) load, so users need no llama.cpp checkout. Follows llama.cpp's
// convert_lora_to_gguf.py: the same metadata, tensor names and ggml shapes, and for llama the same q/k row
// permutation that convert_hf_to_gguf.py applies to the base weights. Everything is validated before anything is
// written; the output is written atomically.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as z from 'zod';
import { writeFileAtomic } from '../workspace/atomicFile';
import { ConvertError, InvalidInputError, LearningError } from '../errors';
import {
  ARCHITECTURE,
  ARCHITECTURES,
  MAX_LAYERS,
  PROJECTION_ORDER,
  PROJECTIONS,
  ropeRowOrder,
  type Architecture,
  type Projection,
} from './architectures';
import { GGML_QUANT_VERSION, GgmlType, layoutGguf, type GgufTensorInfo, type GgufValue } from './gguf';
import { CONFIG_FILE, readBaseConfig, type BaseConfig } from './hfConfig';
import { checkOutputFolder, readJson, schemaError } from './inputFiles';
import { copyHalfRows, decodeRows, encodeF32Bits, isSourceDtype } from './numeric';
import { removeStalePartialOutputs } from './partialOutputs';
import { SafetensorsFile, type SafetensorsTensor } from './safetensors';

export const LORA_ARCHITECTURES = ARCHITECTURES;
export type LoraArchitecture = Architecture;
export const LORA_OUT_TYPES = ['f32', 'f16'] as const;
export type LoraOutType = (typeof LORA_OUT_TYPES)[number];
/** llama.cpp's convert_lora_to_gguf.py writes f32 unless told otherwise; so do we (lossless for f32/bf16 input). */
export const DEFAULT_LORA_OUT_TYPE: LoraOutType = 'f32';

export interface ConvertLoraOptions {
  /** The base model's GGUF architecture (llama.cpp refuses a mismatch); read from the folder's config.json if absent. */
  arch?: LoraArchitecture;
  outType?: LoraOutType;
  /** The base model's attention and key/value head counts: llama needs them to permute q/k (config.json has them). */
  heads?: number;
  kvHeads?: number;
  /** `general.name`; the adapter folder's name by default. */
  name?: string;
}

export interface ConvertLoraResult {
  file: string;
  arch: LoraArchitecture;
  outType: LoraOutType;
  alpha: number;
  /** lora_a and lora_b tensors written (two per adapted weight). */
  tensors: number;
  bytes: number;
}

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** PEFT's name of a LoRA tensor on one of the projections: module path, layer, projection, A or B. */
const TENSOR_NAME = new RegExp(
  `^base_model\\.model\\.(model\\.layers\\.(\\d+)\\.(${PROJECTION_ORDER.map((p) => p.replaceAll('.', '\\.')).join('|')}))` +
    '\\.lora_([AB])\\.weight$',
);
type TensorNameMatch = [name: string, peftModule: string, layer: string, module: Projection, which: string];
const EXPECTED_NAMES =
  'base_model.model.model.layers.N.{self_attn.q_proj|k_proj|v_proj|o_proj|mlp.gate_proj|up_proj|down_proj}.lora_{A|B}.weight';

const MERGE_HINT = 'or merge the adapter into the base model and convert the merged model instead.';

const adapterConfigSchema = z.looseObject({
  peft_type: z.string().nullish(),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  use_dora: z.boolean().nullish(),
  use_rslora: z.boolean().nullish(),
  modules_to_save: z.array(z.string()).nullish(),
  bias: z.string().nullish(),
  fan_in_fan_out: z.boolean().nullish(),
  rank_pattern: z.record(z.string(), z.number().int().positive()).nullish(),
  alpha_pattern: z.record(z.string(), z.number()).nullish(),
});
type AdapterConfig = z.infer<typeof adapterConfigSchema>;

interface LoraPair {
  layer: number;
  module: Projection;
  /** The module's name as PEFT's rank_pattern sees it: `model.layers.N.self_attn.q_proj`. */
  peftModule: string;
  a?: SafetensorsTensor;
  b?: SafetensorsTensor;
}

interface PlannedTensor {
  source: SafetensorsTensor;
  info: GgufTensorInfo;
  /** For llama's q/k lora_b: output row i is input row rowOrder[i]. */
  rowOrder?: Int32Array;
}

/** Converts the PEFT adapter in `peftDir` to a GGUF LoRA adapter at `outFile`. Throws ConvertError, writing nothing. */
export async function convertLora(
  peftDir: string,
  outFile: string,
  options: ConvertLoraOptions = {},
): Promise<ConvertLoraResult> {
  if (os.endianness() !== 'LE')
    throw new LearningError('Converting LoRA adapters needs a little-endian machine.');
  checkOptions(options);
  const outType = options.outType ?? DEFAULT_LORA_OUT_TYPE;
  const config = readAdapterConfig(peftDir);
  const base = readBaseConfig(peftDir);
  const arch = resolveArch(peftDir, options, base);
  checkOutputFolder(outFile);
  removeStalePartialOutputs(outFile);

  const weightsFile = path.join(peftDir, ADAPTER_WEIGHTS_FILE);
  if (!fs.existsSync(weightsFile) && fs.existsSync(path.join(peftDir, 'adapter_model.bin'))) {
    throw new ConvertError(
      peftDir,
      `it holds adapter_model.bin but no ${ADAPTER_WEIGHTS_FILE}; only safetensors can be read: ` +
        'save the adapter with save_pretrained(..., safe_serialization=True).',
    );
  }
  const weights = await SafetensorsFile.open(weightsFile);
  try {
    const pairs = pairTensors(weightsFile, weights.tensors);
    checkShapes(weightsFile, path.join(peftDir, ADAPTER_CONFIG_FILE), config, pairs);
    const type = outType === 'f16' ? GgmlType.F16 : GgmlType.F32;
    const heads = ARCHITECTURE[arch].permutesQK
      ? resolveHeads(peftDir, weightsFile, options, base, pairs)
      : undefined;
    const planned = pairs.flatMap((p) => planPair(p, type, heads));

    const metadata = new Map<string, GgufValue>([
      ['general.architecture', { type: 'string', value: arch }],
      ['general.type', { type: 'string', value: 'adapter' }],
      ['adapter.type', { type: 'string', value: 'lora' }],
      ['general.name', { type: 'string', value: options.name ?? path.basename(path.resolve(peftDir)) }],
      ['adapter.lora.alpha', { type: 'float32', value: config.lora_alpha }],
      ['general.quantization_version', { type: 'uint32', value: GGML_QUANT_VERSION }],
    ]);
    const layout = layoutGguf(
      metadata,
      planned.map((t) => t.info),
    );
    const scratch = new Uint8Array(Math.max(0, ...planned.map((t) => t.source.end - t.source.begin)));
    for (let i = 0; i < planned.length; i++) {
      const t = planned[i]!;
      const raw = await weights.read(t.source, scratch);
      convertTensor(raw, t.source, layout.data[i]!, type, t.rowOrder);
    }
    await writeFileAtomic(outFile, layout.bytes);
    return {
      file: outFile,
      arch,
      outType,
      alpha: config.lora_alpha,
      tensors: planned.length,
      bytes: layout.bytes.length,
    };
  } finally {
    await weights.close();
  }
}

function checkOptions(options: ConvertLoraOptions): void {
  if (options.arch !== undefined && !LORA_ARCHITECTURES.includes(options.arch))
    throw new InvalidInputError('arch', `must be one of ${LORA_ARCHITECTURES.join(', ')}`);
  if (options.outType !== undefined && !LORA_OUT_TYPES.includes(options.outType))
    throw new InvalidInputError('outType', `must be one of ${LORA_OUT_TYPES.join(', ')}`);
  for (const key of ['heads', 'kvHeads'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0))
      throw new InvalidInputError(key, 'must be a positive integer');
  }
}

function readAdapterConfig(peftDir: string): AdapterConfig {
  const file = path.join(peftDir, ADAPTER_CONFIG_FILE);
  const parsed = adapterConfigSchema.safeParse(
    readJson(file, `is ${peftDir} a PEFT adapter folder (the output of save_pretrained)?`),
  );
  if (!parsed.success) throw schemaError(file, parsed.error);
  const c = parsed.data;
  const refuse = (key: string, reason: string): never => {
    throw new ConvertError(file, reason, key);
  };
  if (c.peft_type && c.peft_type !== 'LORA')
    refuse('peft_type', `peft_type is ${c.peft_type}; only LoRA adapters (LORA) can be converted.`);
  if (c.use_dora) refuse('use_dora', dora());
  if (c.use_rslora) {
    refuse(
      'use_rslora',
      'rsLoRA (use_rslora: true) scales by lora_alpha/sqrt(r), but llama.cpp scales GGUF adapters by lora_alpha/r; ' +
        `train with use_rslora: false, ${MERGE_HINT}`,
    );
  }
  if (c.modules_to_save && c.modules_to_save.length > 0)
    refuse('modules_to_save', modulesToSave(c.modules_to_save));
  if (c.alpha_pattern && Object.keys(c.alpha_pattern).length > 0) {
    refuse(
      'alpha_pattern',
      `alpha_pattern gives some modules their own lora_alpha, but a GGUF adapter has one; train without it, ${MERGE_HINT}`,
    );
  }
  if (c.bias && c.bias !== 'none') {
    refuse(
      'bias',
      `bias "${c.bias}" trains bias vectors, which a GGUF LoRA adapter cannot carry; train with bias "none", ${MERGE_HINT}`,
    );
  }
  if (c.fan_in_fan_out) {
    refuse(
      'fan_in_fan_out',
      'fan_in_fan_out is for GPT-2 style Conv1D layers, which llama and qwen2 do not have.',
    );
  }
  return c;
}

function dora(): string {
  return `DoRA (use_dora: true) adds magnitude vectors that a GGUF LoRA adapter cannot carry; train with use_dora: false, ${MERGE_HINT}`;
}

function modulesToSave(modules: readonly string[]): string {
  return (
    `modules_to_save (${modules.join(', ')}) stores full copies of those modules, which a GGUF LoRA adapter cannot ` +
    `carry; train without modules_to_save, ${MERGE_HINT}`
  );
}

function resolveArch(
  peftDir: string,
  options: ConvertLoraOptions,
  base: BaseConfig | undefined,
): LoraArchitecture {
  if (base && options.arch && base.arch !== options.arch) {
    throw new ConvertError(
      base.file,
      `the base model is ${base.arch} but ${options.arch} was asked for; llama.cpp refuses an adapter whose ` +
        'architecture differs from its base model: drop --arch or fix it.',
      'model_type',
    );
  }
  const arch = options.arch ?? base?.arch;
  if (!arch) {
    throw new ConvertError(
      peftDir,
      `the base model's architecture is unknown: pass --arch ${LORA_ARCHITECTURES.join('|')}, or put the base ` +
        `model's ${CONFIG_FILE} in the folder.`,
    );
  }
  return arch;
}

/** Groups lora_A/lora_B tensors by layer and module, refusing anything a GGUF LoRA adapter cannot carry. */
function pairTensors(file: string, tensors: ReadonlyMap<string, SafetensorsTensor>): LoraPair[] {
  const pairs = new Map<string, LoraPair>();
  for (const [name, tensor] of tensors) {
    const m = TENSOR_NAME.exec(name);
    if (!m) throw unsupportedTensor(file, name);
    const [, peftModule, layerText, module, which] = m as unknown as TensorNameMatch;
    const layer = layerIndex(file, name, layerText);
    const key = `${layer} ${module}`;
    let pair = pairs.get(key);
    if (!pair) {
      pair = { layer, module, peftModule };
      pairs.set(key, pair);
    }
    if (which === 'A') pair.a = tensor;
    else pair.b = tensor;
  }
  if (pairs.size === 0) {
    throw new ConvertError(file, `it holds no LoRA tensors; expected names like ${EXPECTED_NAMES}.`);
  }
  return [...pairs.values()].sort(
    (x, y) => x.layer - y.layer || PROJECTION_ORDER.indexOf(x.module) - PROJECTION_ORDER.indexOf(y.module),
  );
}

/** The layer of a tensor's name, refusing what would merge with another layer or make no GGUF name. */
function layerIndex(file: string, name: string, text: string): number {
  const layer = Number(text);
  if (layer >= MAX_LAYERS) {
    throw new ConvertError(
      file,
      `layer ${text} is beyond the ${MAX_LAYERS} layers llama.cpp can load (LLAMA_MAX_LAYERS); the adapter is not ` +
        'for a llama or qwen2 model.',
      name,
    );
  }
  // `layers.01` would become blk.1 beside `layers.1`'s, and one of the two would be lost.
  if (String(layer) !== text) {
    throw new ConvertError(
      file,
      `layer "${text}" has a leading zero, so it cannot be told from layer ${layer}; PEFT writes layer numbers ` +
        'without one: save the adapter again with save_pretrained().',
      name,
    );
  }
  return layer;
}

function unsupportedTensor(file: string, name: string): ConvertError {
  if (name.includes('lora_magnitude_vector')) return new ConvertError(file, dora(), name);
  if (name.includes('modules_to_save')) return new ConvertError(file, modulesToSave([name]), name);
  if (/(^|\.)(embed_tokens|lm_head)\.|lora_embedding_/.test(name)) {
    return new ConvertError(
      file,
      'LoRA on the token embeddings or lm_head is not supported here; train with target_modules limited to ' +
        `q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj and down_proj, ${MERGE_HINT}`,
      name,
    );
  }
  return new ConvertError(
    file,
    `unknown tensor: a GGUF LoRA adapter for llama/qwen2 holds only ${EXPECTED_NAMES}.`,
    name,
  );
}

function nameOf(pair: LoraPair, which: 'A' | 'B'): string {
  return `base_model.model.${pair.peftModule}.lora_${which}.weight`;
}

function checkShapes(
  file: string,
  configFile: string,
  config: AdapterConfig,
  pairs: readonly LoraPair[],
): void {
  const rankOf = rankPattern(configFile, config);
  const seen = new Map<Projection, { name: string; in: number; out: number }>();
  let hidden: { name: string; size: number } | undefined;
  const sameHidden = (name: string, size: number, what: string) => {
    if (!hidden) hidden = { name, size };
    else if (hidden.size !== size) {
      throw new ConvertError(
        file,
        `its ${what} size is ${size} but ${hidden.name} says the hidden size is ${hidden.size}; the adapter is inconsistent.`,
        name,
      );
    }
  };
  for (const pair of pairs) {
    const aName = nameOf(pair, 'A');
    const bName = nameOf(pair, 'B');
    if (!pair.a)
      throw new ConvertError(file, `it has no matching ${aName}; the adapter is incomplete.`, bName);
    if (!pair.b)
      throw new ConvertError(file, `it has no matching ${bName}; the adapter is incomplete.`, aName);
    for (const t of [pair.a, pair.b]) {
      if (!isSourceDtype(t.dtype)) {
        throw new ConvertError(
          file,
          `dtype ${t.dtype} is not supported; save the adapter in float32, float16 or bfloat16.`,
          t.name,
        );
      }
      if (t.shape.length !== 2 || t.shape.some((d) => d === 0)) {
        throw new ConvertError(file, `shape [${t.shape.join(', ')}] is not a non-empty matrix.`, t.name);
      }
    }
    const [rank, inSize] = pair.a.shape as [number, number];
    const [outSize, rankB] = pair.b.shape as [number, number];
    if (rankB !== rank) {
      throw new ConvertError(
        file,
        `rank mismatch: lora_B is [${outSize}, ${rankB}] but ${aName} is [${rank}, ${inSize}]; lora_B's second ` +
          `dimension must equal lora_A's first (the rank).`,
        bName,
      );
    }
    const expected = rankOf(pair.peftModule);
    if (rank !== expected.rank) {
      throw new ConvertError(
        file,
        `rank ${rank} does not match ${ADAPTER_CONFIG_FILE} (${expected.source} = ${expected.rank}); the weights and ` +
          'the config come from different adapters.',
        aName,
      );
    }
    const prev = seen.get(pair.module);
    if (prev && (prev.in !== inSize || prev.out !== outSize)) {
      throw new ConvertError(
        file,
        `it adapts a ${outSize}×${inSize} weight but ${prev.name} adapts ${prev.out}×${prev.in}; ` +
          'every layer of the base model has the same shapes.',
        aName,
      );
    }
    if (!prev) seen.set(pair.module, { name: aName, in: inSize, out: outSize });
    if (PROJECTIONS[pair.module].in === 'hidden') sameHidden(aName, inSize, 'input');
    if (PROJECTIONS[pair.module].out === 'hidden') sameHidden(bName, outSize, 'output');
  }
}

/** PEFT's rank per module: rank_pattern keys are regexes matched against the end of the module's name. */
function rankPattern(
  configFile: string,
  config: AdapterConfig,
): (module: string) => { rank: number; source: string } {
  const patterns = Object.entries(config.rank_pattern ?? {}).map(([key, rank]) => {
    try {
      return { key, rank, re: new RegExp(`^(?:.*\\.)?(?:${key})$`) };
    } catch {
      throw new ConvertError(
        configFile,
        `rank_pattern key ${JSON.stringify(key)} is not a regular expression.`,
        'rank_pattern',
      );
    }
  });
  return (module) => {
    const hit = patterns.find((p) => p.re.test(module));
    return hit ? { rank: hit.rank, source: `rank_pattern["${hit.key}"]` } : { rank: config.r, source: 'r' };
  };
}

interface Heads {
  heads: number;
  kvHeads: number;
}

/** llama's q/k permutation needs the head counts, but only when the adapter touches q_proj or k_proj. */
function resolveHeads(
  peftDir: string,
  file: string,
  options: ConvertLoraOptions,
  base: BaseConfig | undefined,
  pairs: readonly LoraPair[],
): Heads | undefined {
  const q = pairs.find((p) => p.module === 'self_attn.q_proj');
  const k = pairs.find((p) => p.module === 'self_attn.k_proj');
  if (!q && !k) return undefined;
  const pick = (key: 'heads' | 'kvHeads', baseKey: string): number | undefined => {
    const fromOption = options[key];
    const fromBase = base?.[key];
    if (fromOption !== undefined && fromBase !== undefined && fromOption !== fromBase) {
      throw new ConvertError(
        base!.file,
        `${baseKey} is ${fromBase} but ${fromOption} was given; drop the option or fix it.`,
        baseKey,
      );
    }
    return fromOption ?? fromBase;
  };
  const heads = pick('heads', 'num_attention_heads');
  const kvHeads = pick('kvHeads', 'num_key_value_heads');
  if (heads === undefined || kvHeads === undefined) {
    throw new ConvertError(
      peftDir,
      "llama's q_proj/k_proj adapters must be permuted like the base weights, which needs the base model's head " +
        `counts: pass --heads N --kv-heads N (num_attention_heads, num_key_value_heads in its config.json), or put ` +
        `that ${CONFIG_FILE} in the folder.`,
    );
  }
  const rowsPerHead = (pair: LoraPair | undefined, n: number, option: string): number | undefined => {
    if (!pair) return undefined;
    const rows = pair.b!.shape[0]!;
    if (rows % (2 * n) !== 0) {
      throw new ConvertError(
        file,
        `its ${rows} rows do not split into ${n} heads of an even size; check ${option}.`,
        nameOf(pair, 'B'),
      );
    }
    return rows / n;
  };
  const qDim = rowsPerHead(q, heads, '--heads');
  const kDim = rowsPerHead(k, kvHeads, '--kv-heads');
  if (qDim !== undefined && kDim !== undefined && qDim !== kDim) {
    throw new ConvertError(
      file,
      `${heads} heads give q heads of ${qDim} rows but ${kvHeads} key/value heads give k heads of ${kDim}; ` +
        'check --heads and --kv-heads against the base model.',
      nameOf(k!, 'B'),
    );
  }
  return { heads, kvHeads };
}

function planPair(pair: LoraPair, type: GgmlType, heads: Heads | undefined): PlannedTensor[] {
  const a = pair.a!;
  const b = pair.b!;
  const base = `blk.${pair.layer}.${PROJECTIONS[pair.module].gguf}.weight`;
  const [rank, inSize] = a.shape as [number, number];
  const outSize = b.shape[0]!;
  let rowOrder: Int32Array | undefined;
  // convert_hf_to_gguf.py's LlamaModel.permute: q with n_head, k with n_head_kv; on a LoRA pair it moves B's rows.
  if (heads && pair.module === 'self_attn.q_proj') rowOrder = ropeRowOrder(outSize, heads.heads);
  if (heads && pair.module === 'self_attn.k_proj') rowOrder = ropeRowOrder(outSize, heads.kvHeads);
  return [
    { source: a, info: { name: `${base}.lora_a`, ne: [inSize, rank], type } },
    { source: b, info: { name: `${base}.lora_b`, ne: [rank, outSize], type }, rowOrder },
  ];
}

/** Converts one tensor's raw bytes into its GGUF data region, reordering rows when asked. */
function convertTensor(
  raw: Uint8Array,
  source: SafetensorsTensor,
  out: Uint8Array,
  type: GgmlType,
  rowOrder: Int32Array | undefined,
): void {
  const [rows, cols] = source.shape as [number, number];
  const dtype = source.dtype;
  if (!isSourceDtype(dtype)) throw new Error(`${source.name}: dtype ${dtype} was checked but cannot be read`);
  if (type === GgmlType.F32) {
    decodeRows(
      raw,
      dtype,
      new Uint32Array(out.buffer, out.byteOffset, out.byteLength / 4),
      rows,
      cols,
      rowOrder,
    );
  } else if (dtype === 'F16') {
    copyHalfRows(raw, out, rows, cols, rowOrder); // f16 to f16 bit for bit, signalling NaNs included
  } else {
    const bits = new Uint32Array(rows * cols);
    decodeRows(raw, dtype, bits, rows, cols, rowOrder);
    encodeF32Bits(type, bits, rows * cols, out);
  }
}
