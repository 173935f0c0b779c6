// Hugging Face model folder (config.json, model*.safetensors, tokenizer.json) of a qwen2 or llama model → GGUF model
// that llama.cpp and Ollama (`FROM ./model.gguf`) load, so merged fine-tunes deploy without a llama.cpp checkout.
// Follows llama.cpp's convert_hf_to_gguf.py (TextModel, Qwen2Model, LlamaModel): the same metadata keys and order,
// tensor names, ggml shapes and per-tensor types, llama's q/k row permutation and Llama 3's rope_freqs. This file
// orchestrates: the config, vocabulary, tensor table and number formats live beside it. Everything is validated
// before anything is written; tensors are streamed a chunk at a time, so a 7B model is never held in memory, and
// the output is written atomically.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConvertError, InvalidInputError, LearningError } from '../errors';
import { ARCHITECTURE, ARCHITECTURES, checkpointTensors, type Architecture } from './architectures';
import { GGML_QUANT_VERSION, GgmlType, ggmlBlock, writeGguf, type GgufValue } from './gguf';
import { readModelConfig, type ModelConfig } from './hfConfig';
import { checkOutputFolder, openWeights, type SourceTensor } from './inputFiles';
import { ChunkPipeline, type ChunkSpec } from './encodePool';
import { isSourceDtype } from './numeric';
import { removeStalePartialOutputs } from './partialOutputs';
import { llama3RopeFactors } from './rope';
import { bytesPerValue, type SafetensorsTensor } from './safetensors';
import { addVocabularyMetadata, readVocabulary, type Vocabulary } from './vocab';

export const MODEL_ARCHITECTURES = ARCHITECTURES;
export type ModelArchitecture = Architecture;
export const MODEL_OUT_TYPES = ['q8_0', 'f16', 'bf16', 'f32'] as const;
export type ModelOutType = (typeof MODEL_OUT_TYPES)[number];
/** Half the size of f16 at almost no loss; Ollama refuses to quantize GGUF files itself, so we do it here. */
export const DEFAULT_MODEL_OUT_TYPE: ModelOutType = 'q8_0';

export interface ConvertModelOptions {
  outType?: ModelOutType;
  /** `general.name`; the model folder's name by default, as llama.cpp does without a model card. */
  name?: string;
  /** Worker threads that encode the tensors; by default one a core, at most four. */
  threads?: number;
  /** Called after each tensor with the bytes written so far and the file's final size. */
  onProgress?: (written: number, total: number) => void;
}

export interface ConvertModelResult {
  file: string;
  arch: ModelArchitecture;
  outType: ModelOutType;
  tensors: number;
  bytes: number;
}

/** gguf-py's LlamaFileType, written as general.file_type. */
const FILE_TYPE: Readonly<Record<ModelOutType, number>> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };
const WEIGHT_TYPE: Readonly<Record<ModelOutType, GgmlType>> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  q8_0: GgmlType.Q8_0,
  bf16: GgmlType.BF16,
};

/** Converts the Hugging Face model in `hfDir` to a GGUF model at `outFile`. Throws ConvertError, writing nothing. */
export async function convertModel(
  hfDir: string,
  outFile: string,
  options: ConvertModelOptions = {},
): Promise<ConvertModelResult> {
  if (os.endianness() !== 'LE') throw new LearningError('Converting models needs a little-endian machine.');
  checkOptions(options);
  const outType = options.outType ?? DEFAULT_MODEL_OUT_TYPE;
  const config = readModelConfig(hfDir);
  checkOutput(outFile);
  removeStalePartialOutputs(outFile);
  const weights = await openWeights(hfDir);
  try {
    // The sizes config.json claims are checked against the weights' headers before anything is sized by them: the
    // vocabulary is padded to vocab_size (2e9 took 5.5 GB before failing for want of weights).
    const planned = planTensors(hfDir, config, weights.tensors, outType);
    const vocab = readVocabulary(hfDir, config);
    const metadata = buildMetadata(
      config,
      vocab,
      outType,
      options.name ?? path.basename(path.resolve(hfDir)),
    );
    const streamer = new TensorStreamer(planned, options.threads);
    try {
      const bytes = await writeGguf(
        outFile,
        metadata,
        planned.map((t) => ({ ...t.info, produce: (write) => streamer.produce(t, write) })),
        options.onProgress,
      );
      return { file: outFile, arch: config.arch, outType, tensors: planned.length, bytes };
    } finally {
      await streamer.close();
    }
  } finally {
    await weights.close();
  }
}

function checkOptions(options: ConvertModelOptions): void {
  if (options.outType !== undefined && !MODEL_OUT_TYPES.includes(options.outType))
    throw new InvalidInputError('outType', `must be one of ${MODEL_OUT_TYPES.join(', ')}`);
  if (options.name !== undefined && options.name.trim() === '')
    throw new InvalidInputError('name', 'must not be empty');
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1))
    throw new InvalidInputError('threads', 'must be a whole number of at least 1');
}

function checkOutput(outFile: string): void {
  checkOutputFolder(outFile);
  if (fs.existsSync(outFile) && fs.statSync(outFile).isDirectory())
    throw new ConvertError(outFile, 'it is a folder; give the GGUF file to write, e.g. model.gguf.');
}

// ---------------------------------------------------------------------------------------------------------------
// Tensors: the checkpoint's against the architecture's table

interface PlannedTensor {
  info: { name: string; ne: number[]; type: GgmlType };
  source?: SourceTensor;
  /** Generated data (rope_freqs). */
  values?: Float32Array;
  /** llama's q/k: rows are permuted within heads of this many rows. */
  rowsPerHead?: number;
}

const LAYER_TENSOR = /^model\.layers\.(\d+)\./;

function planTensors(
  hfDir: string,
  c: ModelConfig,
  tensors: ReadonlyMap<string, SourceTensor>,
  outType: ModelOutType,
): PlannedTensor[] {
  const expected = checkpointTensors(c.arch, c);
  const byName = new Map(expected.map((e) => [e.hfName, e]));
  for (const [name, { file, tensor }] of tensors) {
    if (name.endsWith('.rotary_emb.inv_freq')) continue; // recomputed by llama.cpp; convert_hf_to_gguf.py skips it
    const e = byName.get(name);
    if (!e) {
      const layer = LAYER_TENSOR.exec(name);
      throw new ConvertError(
        file.path,
        layer && Number(layer[1]) >= c.layers
          ? `layer ${layer[1]} is beyond config.json's num_hidden_layers (${c.layers}); the weights and the config ` +
              'do not belong together.'
          : `unknown tensor: a ${c.arch} model holds embed_tokens, norm, lm_head and per layer the input/post-attention ` +
              `norms, self_attn.{q,k,v,o}_proj and mlp.{gate,up,down}_proj${ARCHITECTURE[c.arch].biases === 'qkv' ? ' (with q/k/v biases)' : ''}.`,
        name,
      );
    }
    if (!isSourceDtype(tensor.dtype)) {
      throw new ConvertError(
        file.path,
        `dtype ${tensor.dtype} is not supported; save the model in bfloat16, float16 or float32.`,
        name,
      );
    }
    if (tensor.shape.length !== e.shape.length || tensor.shape.some((d, i) => d !== e.shape[i])) {
      throw new ConvertError(
        file.path,
        `shape [${tensor.shape.join(', ')}] does not match config.json, which implies [${e.shape.join(', ')}] ` +
          `(hidden_size ${c.hidden}, intermediate_size ${c.intermediate}, ${c.heads} heads and ${c.kvHeads} key/value ` +
          `heads of ${c.headDim}, vocab_size ${c.vocabSize}); the weights and the config do not belong together.`,
        name,
      );
    }
  }

  const weightType = WEIGHT_TYPE[outType];
  const planned: PlannedTensor[] = [];
  if (c.rope.scaling.kind === 'llama3') {
    const values = llama3RopeFactors(c.rope.theta, c.headDim, c.rope.scaling);
    planned.push({ info: { name: 'rope_freqs.weight', ne: [values.length], type: GgmlType.F32 }, values });
  }
  for (const e of expected) {
    const source = tensors.get(e.hfName);
    if (!source) {
      if (!e.required) continue;
      throw new ConvertError(
        hfDir,
        e.hfName === 'lm_head.weight'
          ? 'the model has no lm_head.weight and config.json does not tie it to the embeddings ' +
              '(tie_word_embeddings); the weights are incomplete: save the model again.'
          : `the tensor is missing from the weights (${c.arch}, ${c.layers} layers); the weights are incomplete: save the model again.`,
        e.hfName,
      );
    }
    const ne = [...e.shape].reverse();
    planned.push({
      info: { name: e.ggufName, ne, type: tensorType(e.ggufName, ne, weightType) },
      source,
      rowsPerHead: e.rowsPerHead,
    });
  }
  return planned;
}

/** convert_hf_to_gguf.py's prepare_tensors: 1-D tensors, norms and biases stay F32; Q8_0 needs whole blocks. */
function tensorType(name: string, ne: readonly number[], weightType: GgmlType): GgmlType {
  if (ne.length <= 1 || name.endsWith('_norm.weight') || !name.endsWith('.weight')) return GgmlType.F32;
  if (ne[0]! % ggmlBlock(weightType).values !== 0) return GgmlType.F16; // gguf-py's QuantError fallback
  return weightType;
}

// ---------------------------------------------------------------------------------------------------------------
// Metadata

function buildMetadata(
  c: ModelConfig,
  vocab: Vocabulary,
  outType: ModelOutType,
  name: string,
): Map<string, GgufValue> {
  const a = c.arch;
  const m = new Map<string, GgufValue>();
  const u32 = (key: string, value: number) => m.set(key, { type: 'uint32', value });
  const f32 = (key: string, value: number) => m.set(key, { type: 'float32', value });
  const str = (key: string, value: string) => m.set(key, { type: 'string', value });
  // In the order convert_hf_to_gguf.py adds them: writer, set_type, model card, set_gguf_parameters, set_vocab.
  str('general.architecture', a);
  str('general.type', 'model');
  str('general.name', name);
  u32(`${a}.block_count`, c.layers);
  u32(`${a}.context_length`, c.contextLength);
  u32(`${a}.embedding_length`, c.hidden);
  u32(`${a}.feed_forward_length`, c.intermediate);
  u32(`${a}.attention.head_count`, c.heads);
  u32(`${a}.attention.head_count_kv`, c.kvHeads);
  f32(`${a}.rope.freq_base`, c.rope.theta);
  f32(`${a}.attention.layer_norm_rms_epsilon`, c.rmsNormEps);
  if (c.explicitHeadDim !== undefined) {
    u32(`${a}.attention.key_length`, c.explicitHeadDim);
    u32(`${a}.attention.value_length`, c.explicitHeadDim);
  }
  u32('general.file_type', FILE_TYPE[outType]);
  if (ARCHITECTURE[a].llamaMetadata) {
    u32(`${a}.vocab_size`, c.vocabSize);
    u32(`${a}.rope.dimension_count`, c.headDim);
  }
  const scaling = c.rope.scaling;
  if (scaling.kind === 'linear' || scaling.kind === 'yarn') {
    str(`${a}.rope.scaling.type`, scaling.kind);
    f32(`${a}.rope.scaling.factor`, scaling.factor);
    if (scaling.kind === 'yarn') u32(`${a}.rope.scaling.original_context_length`, scaling.originalContext);
  }
  u32('general.quantization_version', GGML_QUANT_VERSION);

  addVocabularyMetadata(m, vocab);
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// Tensor data: read a chunk of rows, decode to float32 (permuting rows for llama's q/k), encode to the ggml type

/** Values per chunk: 8 MiB of bf16 read, 16 MiB decoded. */
const CHUNK_VALUES = 1 << 22;

/** Each planned tensor's data in file order: computed values as they are, read tensors encoded a chunk at a time. */
class TensorStreamer {
  private readonly pipeline: ChunkPipeline;

  constructor(planned: readonly PlannedTensor[], threads?: number) {
    this.pipeline = new ChunkPipeline(planned.flatMap(chunksOf), threads);
  }

  async produce(t: PlannedTensor, write: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    if (t.values) {
      await write(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength));
      return;
    }
    const rows = t.source!.tensor.shape[0]!;
    for (let first = 0; first < rows; first += chunkRows(t))
      await write(await this.pipeline.next(t.info.name));
  }

  close(): Promise<void> {
    return this.pipeline.close();
  }
}

/** A read tensor's chunks: whole rows, read through its file's own handle. */
function chunksOf(t: PlannedTensor): ChunkSpec[] {
  if (t.values) return [];
  const { file, tensor } = t.source!;
  const dtype = tensor.dtype;
  if (!isSourceDtype(dtype)) throw new Error(`${tensor.name}: dtype ${dtype} was planned but cannot be read`);
  const cols = rowLength(t);
  const rows = tensor.shape[0]!;
  const rowBytes = cols * bytesPerValue(dtype);
  const step = chunkRows(t);
  const chunks: ChunkSpec[] = [];
  for (let first = 0; first < rows; first += step) {
    const n = Math.min(step, rows - first);
    const range: SafetensorsTensor = {
      ...tensor,
      begin: tensor.begin + first * rowBytes,
      end: tensor.begin + (first + n) * rowBytes,
    };
    chunks.push({
      tensor: t.info.name,
      dtype,
      rows: n,
      cols,
      rowsPerHead: t.rowsPerHead,
      type: t.info.type,
      read: (into) => file.read(range, into),
    });
  }
  return chunks;
}

function rowLength(t: PlannedTensor): number {
  const shape = t.source!.tensor.shape;
  return shape.length === 1 ? 1 : shape[1]!;
}

/** Rows per chunk: whole heads for permuted tensors, so each chunk permutes on its own. */
function chunkRows(t: PlannedTensor): number {
  const cols = rowLength(t);
  const rows = t.source!.tensor.shape[0]!;
  const unit = t.rowsPerHead ?? 1;
  return Math.min(rows, Math.max(unit, Math.floor(CHUNK_VALUES / (cols * unit)) * unit));
}
