// Hugging Face model folder (config.json, model*.safetensors, tokenizer.json) of a qwen2 or llama model → GGUF model
// that llama.cpp and Ollama (`FROM ./model.gguf`) load, so merged fine-tunes deploy without a llama.cpp checkout.
// Follows llama.cpp's convert_hf_to_gguf.py (TextModel, Qwen2Model, LlamaModel) and gguf-py's SpecialVocab: the
// same metadata keys and order, tensor names, ggml shapes and per-tensor types, llama's q/k row permutation and
// Llama 3's rope_freqs. Everything is validated before anything is written; tensors are streamed a chunk at a time,
// so a 7B model is never held in memory, and the output is written atomically.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { ConvertError, InvalidInputError, LearningError } from '../errors';
import { GgmlType, writeGguf, type GgufValue } from './gguf';
import { f16ToF32Table, f32BitsToF16, readJson, ropeRowOrder, schemaError } from './loraConvert';
import { SafetensorsFile, type SafetensorsTensor } from './safetensors';

export const MODEL_ARCHITECTURES = ['qwen2', 'llama'] as const;
export type ModelArchitecture = (typeof MODEL_ARCHITECTURES)[number];
export const MODEL_OUT_TYPES = ['q8_0', 'f16', 'bf16', 'f32'] as const;
export type ModelOutType = (typeof MODEL_OUT_TYPES)[number];
/** Half the size of f16 at almost no loss; Ollama refuses to quantize GGUF files itself, so we do it here. */
export const DEFAULT_MODEL_OUT_TYPE: ModelOutType = 'q8_0';

export interface ConvertModelOptions {
  outType?: ModelOutType;
  /** `general.name`; the model folder's name by default, as llama.cpp does without a model card. */
  name?: string;
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

const CONFIG_FILE = 'config.json';
const TOKENIZER_FILE = 'tokenizer.json';
const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
const INDEX_FILE = 'model.safetensors.index.json';

/** `architectures[0]` in config.json → the GGUF architecture convert_hf_to_gguf.py registers it under. */
const ARCH_OF: Readonly<Record<string, ModelArchitecture>> = {
  Qwen2ForCausalLM: 'qwen2',
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'llama',
};

/** Defaults transformers' Qwen2Config/LlamaConfig fill in (llama.cpp reads config.json through AutoConfig). */
const CONFIG_DEFAULTS: Readonly<Record<ModelArchitecture, { contextLength: number }>> = {
  qwen2: { contextLength: 32768 },
  llama: { contextLength: 2048 },
};
const DEFAULT_RMS_NORM_EPS = 1e-6;
const DEFAULT_ROPE_THETA = 10000;

/** gguf-py's LlamaFileType, written as general.file_type. */
const FILE_TYPE: Readonly<Record<ModelOutType, number>> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };
const WEIGHT_TYPE: Readonly<Record<ModelOutType, GgmlType>> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  q8_0: GgmlType.Q8_0,
  bf16: GgmlType.BF16,
};
const GGML_QUANT_VERSION = 2;
const Q8_0_BLOCK = 32;

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
  rope_theta: z.number().positive().nullish(),
  tie_word_embeddings: z.boolean().nullish(),
  rope_scaling: z
    .looseObject({
      rope_type: z.string().nullish(),
      type: z.string().nullish(),
      factor: z.number().positive().nullish(),
      low_freq_factor: z.number().positive().nullish(),
      high_freq_factor: z.number().positive().nullish(),
      original_max_position_embeddings: positiveInt.nullish(),
    })
    .nullish(),
  quantization_config: z.unknown().optional(),
});

interface ModelConfig {
  arch: ModelArchitecture;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** config.json's head_dim when it has one (llama.cpp writes key/value lengths then). */
  explicitHeadDim?: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
  rmsNormEps: number;
  ropeTheta: number;
  tied: boolean;
  rope: RopeScaling;
  /** The raw JSON, for the special token ids SpecialVocab reads from it. */
  raw: Record<string, unknown>;
}

type RopeScaling =
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

/** Converts the Hugging Face model in `hfDir` to a GGUF model at `outFile`. Throws ConvertError, writing nothing. */
export async function convertModel(
  hfDir: string,
  outFile: string,
  options: ConvertModelOptions = {},
): Promise<ConvertModelResult> {
  if (os.endianness() !== 'LE') throw new LearningError('Converting models needs a little-endian machine.');
  checkOptions(options);
  const outType = options.outType ?? DEFAULT_MODEL_OUT_TYPE;
  const config = readConfig(hfDir);
  const vocab = readVocabulary(hfDir, config);
  checkOutput(outFile);
  const weights = await openWeights(hfDir);
  try {
    const planned = planTensors(hfDir, config, weights.tensors, outType);
    const metadata = buildMetadata(
      config,
      vocab,
      outType,
      options.name ?? path.basename(path.resolve(hfDir)),
    );
    const streamer = new TensorStreamer(planned);
    const bytes = await writeGguf(
      outFile,
      metadata,
      planned.map((t) => ({ ...t.info, produce: (write) => streamer.produce(t, write) })),
      options.onProgress,
    );
    return { file: outFile, arch: config.arch, outType, tensors: planned.length, bytes };
  } finally {
    await weights.close();
  }
}

function checkOptions(options: ConvertModelOptions): void {
  if (options.outType !== undefined && !MODEL_OUT_TYPES.includes(options.outType))
    throw new InvalidInputError('outType', `must be one of ${MODEL_OUT_TYPES.join(', ')}`);
  if (options.name !== undefined && options.name.trim() === '')
    throw new InvalidInputError('name', 'must not be empty');
}

function checkOutput(outFile: string): void {
  const dir = path.dirname(path.resolve(outFile));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new ConvertError(outFile, `its folder ${dir} does not exist; create it first.`);
  if (fs.existsSync(outFile) && fs.statSync(outFile).isDirectory())
    throw new ConvertError(outFile, 'it is a folder; give the GGUF file to write, e.g. model.gguf.');
}

// ---------------------------------------------------------------------------------------------------------------
// config.json

const MODEL_FOLDER_HINT =
  'is it a Hugging Face model folder (save_pretrained output: config.json, model*.safetensors, tokenizer.json)?';

function readConfig(hfDir: string): ModelConfig {
  const file = path.join(hfDir, CONFIG_FILE);
  const raw = readJson(file, MODEL_FOLDER_HINT);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw schemaError(file, parsed.error);
  const c = parsed.data;
  const hfArch = c.architectures[0]!;
  const arch = ARCH_OF[hfArch];
  if (!arch) {
    throw new ConvertError(
      file,
      `architecture ${hfArch} is not supported; this converter knows ${Object.keys(ARCH_OF).join(', ')}. ` +
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
    contextLength: c.max_position_embeddings ?? CONFIG_DEFAULTS[arch].contextLength,
    rmsNormEps: c.rms_norm_eps ?? DEFAULT_RMS_NORM_EPS,
    ropeTheta: c.rope_theta ?? DEFAULT_ROPE_THETA,
    tied: c.tie_word_embeddings ?? false,
    rope: ropeScaling(file, arch, c),
    raw: raw as Record<string, unknown>,
  };
}

/** The rope scalings llama.cpp's converter carries over for each architecture; anything else is refused. */
function ropeScaling(file: string, arch: ModelArchitecture, c: z.infer<typeof configSchema>): RopeScaling {
  const s = c.rope_scaling;
  const type = s?.rope_type ?? s?.type;
  if (!s || type === undefined || type === null || type === 'default') return { kind: 'none' };
  const refuse = (reason: string): never => {
    throw new ConvertError(file, reason, 'rope_scaling');
  };
  const factor = s.factor ?? undefined;
  if (arch === 'qwen2' && type === 'yarn') {
    if (factor === undefined || !s.original_max_position_embeddings)
      refuse('yarn rope scaling needs factor and original_max_position_embeddings.');
    return { kind: 'yarn', factor: factor!, originalContext: s.original_max_position_embeddings! };
  }
  if (arch === 'llama' && type === 'linear') {
    if (factor === undefined) refuse('linear rope scaling needs a factor.');
    return { kind: 'linear', factor: factor! };
  }
  if (arch === 'llama' && type.toLowerCase() === 'llama3') {
    return {
      kind: 'llama3',
      factor: factor ?? 8,
      lowFreqFactor: s.low_freq_factor ?? 1,
      highFreqFactor: s.high_freq_factor ?? 4,
      // transformers reads it from rope_scaling; llama.cpp's converter from the top level; both default to 8192
      originalContext: s.original_max_position_embeddings ?? c.original_max_position_embeddings ?? 8192,
    };
  }
  return refuse(
    `rope scaling "${type}" is not supported for ${arch} (${arch === 'qwen2' ? 'yarn' : 'linear and llama3'} are); ` +
      'remove rope_scaling to convert the model without it, or convert it with llama.cpp.',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer: gguf-py's "gpt2" (byte-level BPE) vocabulary, as convert_hf_to_gguf.py's _set_vocab_gpt2 writes it

/** llama.cpp's gguf TokenType. */
const TokenType = { NORMAL: 1, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5 } as const;

/**
 * tokenizer.ggml.pre for the pre-tokenizer split regexes llama.cpp implements (llama-vocab.cpp keeps each original
 * as a comment). llama.cpp's converter picks the name by hashing the tokenizer's output on a test text; without the
 * tokenizers library we recognise the regex itself, which is what those names stand for.
 */
const PRE_TOKENIZERS: ReadonlyArray<{ pre: string; model: string; regex: string }> = [
  {
    pre: 'qwen2',
    model: 'Qwen2/Qwen2.5',
    regex:
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  },
  {
    pre: 'llama-bpe',
    model: 'Llama 3',
    regex:
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  },
];

const addedTokenSchema = z.looseObject({
  id: z.number().int().nonnegative(),
  content: z.string(),
  special: z.boolean().optional(),
});
const tokenizerSchema = z.looseObject({
  added_tokens: z.array(addedTokenSchema).nullish(),
  pre_tokenizer: z.unknown().optional(),
  post_processor: z.unknown().optional(),
  model: z.looseObject({
    type: z.string().optional(),
    vocab: z.record(z.string(), z.number().int().nonnegative()),
    merges: z.array(z.union([z.string(), z.array(z.string())])).optional(),
    byte_fallback: z.boolean().nullish(),
  }),
});
type AddedToken = z.infer<typeof addedTokenSchema>;

/** SpecialVocab's token types, in its order; `cls` has no GGUF key in current gguf-py and is skipped on writing. */
const SPECIAL_TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'];
const SPECIAL_ID_KEY: Readonly<Record<string, string>> = {
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id', // sic: gguf-py's constant
  pad: 'tokenizer.ggml.padding_token_id',
  mask: 'tokenizer.ggml.mask_token_id',
  eot: 'tokenizer.ggml.eot_token_id',
  eom: 'tokenizer.ggml.eom_token_id',
};
const ADD_SPECIAL_KEY: Readonly<Record<string, string>> = {
  bos: 'tokenizer.ggml.add_bos_token',
  eos: 'tokenizer.ggml.add_eos_token',
  sep: 'tokenizer.ggml.add_sep_token',
};

type ChatTemplate = string | Array<{ name: string; template: string }>;

interface Vocabulary {
  pre: string;
  tokens: string[];
  types: Int32Array;
  merges: string[];
  /** Special token type → id, in the order gguf-py writes them. */
  specialIds: Map<string, number>;
  addSpecial: Map<string, boolean>;
  chatTemplate?: ChatTemplate;
  /** tokenizer_config.json's add_prefix_space, which LlamaModel writes as tokenizer.ggml.add_space_prefix. */
  addSpacePrefix?: boolean;
}

function readVocabulary(hfDir: string, config: ModelConfig): Vocabulary {
  const file = path.join(hfDir, TOKENIZER_FILE);
  if (fs.existsSync(path.join(hfDir, 'tokenizer.model'))) {
    throw new ConvertError(
      path.join(hfDir, 'tokenizer.model'),
      'SentencePiece tokenizers (tokenizer.model, e.g. Llama 2 and Mistral 7B) are not supported; this converter ' +
        "handles byte-level BPE tokenizers (Qwen2.5, Llama 3). Convert the model with llama.cpp's convert_hf_to_gguf.py.",
    );
  }
  const parsed = tokenizerSchema.safeParse(
    readJson(
      file,
      `the model folder needs its tokenizer; save it with tokenizer.save_pretrained() beside the weights.`,
    ),
  );
  if (!parsed.success) throw schemaError(file, parsed.error);
  const tokenizer = parsed.data;
  if (tokenizer.model.type !== undefined && tokenizer.model.type !== 'BPE') {
    throw new ConvertError(
      file,
      `the tokenizer is ${tokenizer.model.type}, but only byte-level BPE tokenizers (Qwen2.5, Llama 3) are supported.`,
      'model.type',
    );
  }
  if (tokenizer.model.byte_fallback) {
    throw new ConvertError(
      file,
      'the BPE tokenizer uses byte_fallback (a Llama 2 style tokenizer); only byte-level BPE tokenizers (Qwen2.5, ' +
        'Llama 3) are supported.',
      'model.byte_fallback',
    );
  }
  const pre = preTokenizer(file, tokenizer.pre_tokenizer);
  const added = tokenizer.added_tokens ?? [];

  // transformers' tokenizer.vocab: the model's vocabulary with the added tokens over it.
  const idOf = new Map<string, number>(Object.entries(tokenizer.model.vocab));
  for (const t of added) idOf.set(t.content, t.id);
  const tokenOf = new Map<number, string>();
  for (const [token, id] of idOf) {
    if (id >= config.vocabSize) {
      throw new ConvertError(
        file,
        `token ${JSON.stringify(token)} has id ${id}, but config.json's vocab_size is ${config.vocabSize}; the ` +
          'tokenizer and the model do not belong together.',
        'model.vocab',
      );
    }
    tokenOf.set(id, token);
  }
  const addedById = new Map<number, AddedToken>(added.map((t) => [t.id, t]));
  const tokens: string[] = [];
  const types = new Int32Array(config.vocabSize);
  for (let i = 0; i < config.vocabSize; i++) {
    let token = tokenOf.get(i);
    const addedToken = addedById.get(i);
    if (token === undefined) {
      token = `[PAD${i}]`;
      types[i] = TokenType.UNUSED;
    } else if (addedToken && addedToken.content === token) {
      if (addedToken.special || looksSpecial(token)) types[i] = TokenType.CONTROL;
      else {
        token = token.replaceAll('\u2581', ' '); // pre-normalize user-defined spaces, as llama.cpp does
        types[i] = TokenType.USER_DEFINED;
      }
    } else types[i] = TokenType.NORMAL;
    tokens.push(token);
  }

  const tokenizerConfigFile = path.join(hfDir, TOKENIZER_CONFIG_FILE);
  const tokenizerConfig = fs.existsSync(tokenizerConfigFile) ? readJson(tokenizerConfigFile, '') : undefined;
  if (tokenizerConfig !== undefined && !isRecord(tokenizerConfig))
    throw new ConvertError(tokenizerConfigFile, 'it is not a JSON object.');
  const special = specialVocab(hfDir, tokenizerConfigFile, tokenizer, tokenizerConfig, config.raw);
  const addPrefix = tokenizerConfig?.add_prefix_space;
  return {
    pre,
    tokens,
    types,
    merges: readMerges(file, tokenizer.model.merges ?? []),
    ...special,
    addSpacePrefix: config.arch === 'llama' && typeof addPrefix === 'boolean' ? addPrefix : undefined,
  };
}

function preTokenizer(file: string, preTokenizer: unknown): string {
  const splits: unknown[] = [];
  const walk = (node: unknown) => {
    if (!isRecord(node)) return;
    if (node.type === 'Sequence' && Array.isArray(node.pretokenizers)) node.pretokenizers.forEach(walk);
    else if (node.type === 'Split' && isRecord(node.pattern))
      splits.push(node.pattern.Regex ?? node.pattern.String);
  };
  walk(preTokenizer);
  const known = splits.length === 1 ? PRE_TOKENIZERS.find((p) => p.regex === splits[0]) : undefined;
  if (!known) {
    throw new ConvertError(
      file,
      `its pre-tokenizer (${splits.length === 0 ? 'no Split regex' : splits.map((s) => JSON.stringify(s)).join(', ')}) ` +
        `is not one this converter knows (${PRE_TOKENIZERS.map((p) => p.model).join(', ')}), so llama.cpp would ` +
        "split text differently from the model's training; convert the model with llama.cpp's convert_hf_to_gguf.py.",
      'pre_tokenizer',
    );
  }
  return known.pre;
}

/** convert_hf_to_gguf.py's does_token_look_special: added tokens some models forget to mark as special. */
function looksSpecial(token: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(token) ||
    (token.startsWith('<|') && token.endsWith('|>')) ||
    (token.startsWith('<\uff5c') && token.endsWith('\uff5c>')) ||
    (token.startsWith('<unused') && token.endsWith('>'))
  );
}

/** Merges as "a b"; transformers ≥ 4.45 stores [a, b] pairs, whose spaces gguf-py encodes as U+0120 like GPT-2. */
function readMerges(file: string, merges: ReadonlyArray<string | string[]>): string[] {
  return merges.map((m, i) => {
    if (typeof m === 'string') return m;
    if (m.length !== 2) throw new ConvertError(file, `merge ${i} is not a pair of tokens.`, 'model.merges');
    return m.map((part) => part.replaceAll(' ', '\u0120')).join(' ');
  });
}

/**
 * gguf-py's SpecialVocab: special token ids and add_*_token flags from tokenizer.json's post-processor,
 * tokenizer_config.json and config.json (in that order, first found wins), and the chat template.
 * generation_config.json is not read, as gguf-py does not.
 */
function specialVocab(
  hfDir: string,
  tokenizerConfigFile: string,
  tokenizer: z.infer<typeof tokenizerSchema>,
  original: Record<string, unknown> | undefined,
  modelConfig: Record<string, unknown>,
): Pick<Vocabulary, 'specialIds' | 'addSpecial' | 'chatTemplate'> {
  const specialIds = new Map<string, number>();
  const addSpecial = new Map<string, boolean>();
  const types = [...SPECIAL_TYPES];
  const set = (type: string, id: unknown) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || specialIds.has(type)) return;
    if (id < 0)
      throw new ConvertError(tokenizerConfigFile, `${type} token id ${id} is negative.`, `${type}_token`);
    specialIds.set(type, id);
  };
  // gguf-py edits its copy of tokenizer_config; so do we (a shallow copy: only top-level keys change).
  const tc = original === undefined ? undefined : { ...original };
  const hasConfig = tc !== undefined && Object.keys(tc).length > 0;
  readPostProcessor(tokenizer.post_processor, tc, hasConfig, types, addSpecial);

  let chatTemplate: ChatTemplate | undefined;
  if (tc && hasConfig) {
    chatTemplate = readChatTemplate(hfDir, tokenizerConfigFile, tc);
    const added = tokenizer.added_tokens ?? [];
    for (const type of types) {
      const add = tc[`add_${type}_token`];
      if (typeof add === 'boolean') addSpecial.set(type, add);
      const entry = tc[`${type}_token`];
      const content = typeof entry === 'string' ? entry : isRecord(entry) ? entry.content : undefined;
      if (typeof content !== 'string') continue;
      set(type, added.find((t) => t.content === content)?.id);
    }
  }
  for (const type of types) set(type, modelConfig[`${type}_token_id`]);
  return { specialIds, addSpecial, chatTemplate };
}

/** SpecialVocab's crude reading of tokenizer.json's post-processor: which special tokens wrap every sequence. */
function readPostProcessor(
  postProcessor: unknown,
  tc: Record<string, unknown> | undefined,
  hasConfig: boolean,
  types: string[],
  addSpecial: Map<string, boolean>,
): void {
  const truthy = (v: unknown) =>
    !(v === undefined || v === null || v === false || v === '' || v === 0) &&
    !(Array.isArray(v) && v.length === 0) &&
    !(isRecord(v) && Object.keys(v).length === 0);
  let bos = tc?.bos_token;
  let cls = tc?.cls_token;
  let eos = tc?.eos_token;
  let sep = tc?.sep_token;
  if (!truthy(bos) && truthy(cls) && hasConfig) tc!.bos_token = bos = cls;
  if (!truthy(eos) && truthy(sep) && hasConfig) tc!.eos_token = eos = sep;
  if (!isRecord(postProcessor) || !truthy(postProcessor)) return;
  const processors = Array.isArray(postProcessor.processors) ? postProcessor.processors : [postProcessor];
  const specialId = (item: unknown): unknown =>
    isRecord(item) && isRecord(item.SpecialToken) ? item.SpecialToken.id : undefined;
  const sequenceId = (item: unknown): unknown =>
    isRecord(item) && isRecord(item.Sequence) ? item.Sequence.id : undefined;
  for (const processor of processors) {
    if (!isRecord(processor)) continue;
    if (processor.type === 'RobertaProcessing') {
      addSpecial.set('bos', true);
      addSpecial.set('eos', true);
      addSpecial.set('sep', true);
      if (!truthy(cls) && hasConfig)
        tc!.cls_token = cls = Array.isArray(processor.cls) ? processor.cls[0] : bos;
      if (!truthy(sep) && hasConfig)
        tc!.sep_token = sep = Array.isArray(processor.sep) ? processor.sep[0] : eos;
      continue;
    }
    if (processor.type !== 'TemplateProcessing') continue;
    const single = Array.isArray(processor.single) ? processor.single : [];
    let pair = Array.isArray(processor.pair) ? processor.pair : [];
    let first: unknown;
    let last: unknown;
    if (single.length > 1) {
      first = specialId(single[0]);
      if (truthy(first)) {
        if (!hasConfig) bos = first;
        addSpecial.set('bos', first === bos || first === cls);
      }
      last = specialId(single[single.length - 1]);
      if (truthy(last)) {
        if (!hasConfig) eos = last;
        else if (last !== eos) {
          // the template ends with another token than eos: keep the configured one as end-of-turn (or message)
          if (!types.includes('eot')) {
            types.push('eot');
            tc!.eot_token = eos;
          } else if (!types.includes('eom')) {
            types.push('eom');
            tc!.eom_token = eos;
          }
          tc!.eos_token = eos = last;
        }
        addSpecial.set('eos', last === eos);
      }
    }
    if (pair.length > 0) {
      const start = truthy(first) && specialId(pair[0]) === first ? 1 : 0;
      const stop = truthy(last) && specialId(pair[pair.length - 1]) === last ? pair.length - 1 : pair.length;
      pair = pair.slice(start, stop);
      if (pair.length > 0 && sequenceId(pair[0]) === 'A' && sequenceId(pair[pair.length - 1]) === 'B') {
        const middle = pair.slice(1, -1);
        if (middle.length > 0) {
          let addSep = false;
          const entry = specialId(middle[0]);
          if (truthy(entry) && (entry === sep || entry === eos) && !truthy(last)) addSep = true;
          if (middle.length === 2) {
            const second = specialId(middle[1]);
            if (truthy(second) && (second === sep || second === eos)) addSep = true;
          }
          addSpecial.set('sep', addSep);
          if (addSep && !truthy(sep) && hasConfig) tc!.sep_token = eos;
        }
      }
    }
  }
}

/** tokenizer_config.json's chat_template, else chat_template.jinja (newer transformers save it there), else .json. */
function readChatTemplate(
  hfDir: string,
  tokenizerConfigFile: string,
  tc: Record<string, unknown>,
): ChatTemplate | undefined {
  let alternative: unknown;
  const jinja = path.join(hfDir, 'chat_template.jinja');
  const json = path.join(hfDir, 'chat_template.json');
  if (fs.existsSync(jinja)) {
    alternative = fs.readFileSync(jinja, 'utf8');
    const extraDir = path.join(hfDir, 'additional_chat_templates');
    const extra = fs.existsSync(extraDir)
      ? fs
          .readdirSync(extraDir)
          .filter((f) => f.endsWith('.jinja'))
          .sort()
      : [];
    if (extra.length > 0) {
      alternative = [
        { name: 'default', template: alternative },
        ...extra.map((f) => ({
          name: f.slice(0, -'.jinja'.length),
          template: fs.readFileSync(path.join(extraDir, f), 'utf8'),
        })),
      ];
    }
  } else if (fs.existsSync(json)) {
    const parsed = readJson(json, '');
    alternative = isRecord(parsed) ? parsed.chat_template : undefined;
  }
  const template = 'chat_template' in tc ? tc.chat_template : alternative;
  if (template === undefined || template === null) return undefined;
  if (typeof template === 'string') return template;
  if (
    Array.isArray(template) &&
    template.every((t) => isRecord(t) && typeof t.name === 'string' && typeof t.template === 'string')
  )
    return template as Array<{ name: string; template: string }>;
  throw new ConvertError(
    tokenizerConfigFile,
    'chat_template must be a string or a list of {name, template}.',
    'chat_template',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Weights

interface SourceTensor {
  file: SafetensorsFile;
  tensor: SafetensorsTensor;
}

interface Weights {
  tensors: Map<string, SourceTensor>;
  close(): Promise<void>;
}

/** convert_hf_to_gguf.py's parts: model.safetensors.index.json's weight_map, else every model*.safetensors. */
async function openWeights(hfDir: string): Promise<Weights> {
  const indexFile = path.join(hfDir, INDEX_FILE);
  let weightMap: Record<string, string> | undefined;
  let parts: string[];
  if (fs.existsSync(indexFile)) {
    const parsed = z
      .looseObject({ weight_map: z.record(z.string(), z.string()) })
      .safeParse(readJson(indexFile, ''));
    if (!parsed.success) throw schemaError(indexFile, parsed.error);
    weightMap = parsed.data.weight_map;
    parts = [...new Set(Object.values(weightMap))].sort();
    for (const part of parts) {
      if (path.basename(part) !== part || part === '..' || part === '.')
        throw new ConvertError(
          indexFile,
          `weight_map names ${JSON.stringify(part)}, not a file in the folder.`,
        );
    }
  } else {
    const names = fs.existsSync(hfDir) ? fs.readdirSync(hfDir) : [];
    parts = names.filter((f) => f.startsWith('model') && f.endsWith('.safetensors')).sort();
    if (parts.length === 0) {
      const bin = names.some((f) => f.startsWith('pytorch_model') && f.endsWith('.bin'));
      throw new ConvertError(
        hfDir,
        bin
          ? 'it holds pytorch_model*.bin weights; only safetensors can be read: save the model with ' +
              'save_pretrained(..., safe_serialization=True).'
          : `there are no model*.safetensors weights: ${MODEL_FOLDER_HINT}`,
      );
    }
  }

  const files: SafetensorsFile[] = [];
  const close = async () => {
    for (const f of files) await f.close();
  };
  try {
    const tensors = new Map<string, SourceTensor>();
    for (const part of parts) {
      const file = await SafetensorsFile.open(path.join(hfDir, part));
      files.push(file);
      for (const [name, tensor] of file.tensors) {
        const other = tensors.get(name);
        if (other) {
          throw new ConvertError(
            file.path,
            `the tensor is also in ${path.basename(other.file.path)}; keep only one copy of the weights.`,
            name,
          );
        }
        if (weightMap && weightMap[name] !== part) {
          throw new ConvertError(
            file.path,
            `${INDEX_FILE} ${weightMap[name] === undefined ? 'does not list the tensor' : `puts the tensor in ${weightMap[name]}`}; ` +
              'the index and the weight files do not match: save the model again.',
            name,
          );
        }
        tensors.set(name, { file, tensor });
      }
    }
    for (const [name, part] of Object.entries(weightMap ?? {})) {
      if (!tensors.has(name)) {
        throw new ConvertError(
          path.join(hfDir, part),
          `${INDEX_FILE} lists the tensor in this file, but it is not there: the file is incomplete; save the model again.`,
          name,
        );
      }
    }
    return { tensors, close };
  } catch (err) {
    await close();
    throw err;
  }
}

interface PlannedTensor {
  info: { name: string; ne: number[]; type: GgmlType };
  source?: SourceTensor;
  /** Generated data (rope_freqs). */
  values?: Float32Array;
  /** llama's q/k: rows are permuted within heads of this many rows. */
  rowsPerHead?: number;
}

interface ExpectedTensor {
  hfName: string;
  ggufName: string;
  /** PyTorch order. */
  shape: number[];
  required: boolean;
  rowsPerHead?: number;
}

/** The tensors of a llama/qwen2 checkpoint, in llama.cpp's names (gguf-py's TensorNameMap), in writing order. */
function expectedTensors(c: ModelConfig): ExpectedTensor[] {
  const { hidden: H, intermediate: I, vocabSize: V, headDim: D } = c;
  const llama = c.arch === 'llama';
  const list: ExpectedTensor[] = [
    { hfName: 'model.embed_tokens.weight', ggufName: 'token_embd.weight', shape: [V, H], required: true },
  ];
  for (let l = 0; l < c.layers; l++) {
    const hf = `model.layers.${l}.`;
    const blk = `blk.${l}.`;
    const add = (module: string, gguf: string, shape: number[], required: boolean, rowsPerHead?: number) =>
      list.push({ hfName: hf + module, ggufName: blk + gguf, shape, required, rowsPerHead });
    // convert_hf_to_gguf.py's LlamaModel.permute: q by the attention heads, k by the key/value heads.
    const permute = llama ? D : undefined;
    add('input_layernorm.weight', 'attn_norm.weight', [H], true);
    add('self_attn.q_proj.weight', 'attn_q.weight', [c.heads * D, H], true, permute);
    add('self_attn.q_proj.bias', 'attn_q.bias', [c.heads * D], !llama, permute);
    add('self_attn.k_proj.weight', 'attn_k.weight', [c.kvHeads * D, H], true, permute);
    add('self_attn.k_proj.bias', 'attn_k.bias', [c.kvHeads * D], !llama, permute);
    add('self_attn.v_proj.weight', 'attn_v.weight', [c.kvHeads * D, H], true);
    add('self_attn.v_proj.bias', 'attn_v.bias', [c.kvHeads * D], !llama);
    add('self_attn.o_proj.weight', 'attn_output.weight', [H, c.heads * D], true);
    if (llama) add('self_attn.o_proj.bias', 'attn_output.bias', [H], false); // attention_bias
    add('post_attention_layernorm.weight', 'ffn_norm.weight', [H], true);
    add('mlp.gate_proj.weight', 'ffn_gate.weight', [I, H], true);
    add('mlp.up_proj.weight', 'ffn_up.weight', [I, H], true);
    add('mlp.down_proj.weight', 'ffn_down.weight', [H, I], true);
    if (llama) {
      // mlp_bias
      add('mlp.gate_proj.bias', 'ffn_gate.bias', [I], false);
      add('mlp.up_proj.bias', 'ffn_up.bias', [I], false);
      add('mlp.down_proj.bias', 'ffn_down.bias', [H], false);
    }
  }
  list.push({ hfName: 'model.norm.weight', ggufName: 'output_norm.weight', shape: [H], required: true });
  // Tied embeddings: no lm_head, and llama.cpp reads token_embd for the output.
  list.push({ hfName: 'lm_head.weight', ggufName: 'output.weight', shape: [V, H], required: !c.tied });
  return list;
}

const SOURCE_DTYPES = ['BF16', 'F16', 'F32'];
const LAYER_TENSOR = /^model\.layers\.(\d+)\./;

function planTensors(
  hfDir: string,
  c: ModelConfig,
  tensors: ReadonlyMap<string, SourceTensor>,
  outType: ModelOutType,
): PlannedTensor[] {
  const expected = expectedTensors(c);
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
              `norms, self_attn.{q,k,v,o}_proj and mlp.{gate,up,down}_proj${c.arch === 'qwen2' ? ' (with q/k/v biases)' : ''}.`,
        name,
      );
    }
    if (!SOURCE_DTYPES.includes(tensor.dtype)) {
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
  if (c.rope.kind === 'llama3') {
    const values = llama3RopeFactors(c.ropeTheta, c.headDim, c.rope);
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
  if (weightType === GgmlType.Q8_0 && ne[0]! % Q8_0_BLOCK !== 0) return GgmlType.F16; // gguf-py's QuantError fallback
  return weightType;
}

/**
 * LlamaModel.generate_extra_tensors: Llama 3.1's frequency factors per rotary dimension pair, in float32 like
 * PyTorch computes them there.
 */
function llama3RopeFactors(
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
  f32(`${a}.rope.freq_base`, c.ropeTheta);
  f32(`${a}.attention.layer_norm_rms_epsilon`, c.rmsNormEps);
  if (c.explicitHeadDim !== undefined) {
    u32(`${a}.attention.key_length`, c.explicitHeadDim);
    u32(`${a}.attention.value_length`, c.explicitHeadDim);
  }
  u32('general.file_type', FILE_TYPE[outType]);
  if (a === 'llama') {
    u32(`${a}.vocab_size`, c.vocabSize);
    u32(`${a}.rope.dimension_count`, c.headDim);
  }
  if (c.rope.kind === 'linear' || c.rope.kind === 'yarn') {
    str(`${a}.rope.scaling.type`, c.rope.kind);
    f32(`${a}.rope.scaling.factor`, c.rope.factor);
    if (c.rope.kind === 'yarn') u32(`${a}.rope.scaling.original_context_length`, c.rope.originalContext);
  }
  u32('general.quantization_version', GGML_QUANT_VERSION);

  if (vocab.addSpacePrefix !== undefined)
    m.set('tokenizer.ggml.add_space_prefix', { type: 'bool', value: vocab.addSpacePrefix });
  str('tokenizer.ggml.model', 'gpt2');
  str('tokenizer.ggml.pre', vocab.pre);
  m.set('tokenizer.ggml.tokens', { type: 'stringArray', value: vocab.tokens });
  m.set('tokenizer.ggml.token_type', { type: 'int32Array', value: vocab.types });
  // Written even when empty: llama.cpp refuses a gpt2 vocabulary without merges (gguf-py would leave it out).
  m.set('tokenizer.ggml.merges', { type: 'stringArray', value: vocab.merges });
  for (const [type, id] of vocab.specialIds) {
    const key = SPECIAL_ID_KEY[type];
    if (key) u32(key, id);
  }
  for (const [type, add] of vocab.addSpecial) {
    const key = ADD_SPECIAL_KEY[type];
    if (key) m.set(key, { type: 'bool', value: add });
  }
  const template = vocab.chatTemplate;
  if (typeof template === 'string') str('tokenizer.chat_template', template);
  else if (template) {
    // gguf-py's add_chat_template for a list: "default" is the template, the others are named ones
    const names: string[] = [];
    let fallback: string | undefined;
    for (const t of template) {
      const id = t.name.replace(/[^A-Za-z0-9]/g, '_');
      if (!id) continue;
      if (id === 'default') fallback = t.template;
      else {
        if (!names.includes(id)) names.push(id);
        str(`tokenizer.chat_template.${id}`, t.template);
      }
    }
    if (names.length > 0) m.set('tokenizer.chat_templates', { type: 'stringArray', value: names });
    if (fallback !== undefined) str('tokenizer.chat_template', fallback);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// Tensor data: read a chunk of rows, decode to float32 (permuting rows for llama's q/k), encode to the ggml type

/** Values per chunk: 8 MiB of bf16 read, 16 MiB decoded. */
const CHUNK_VALUES = 1 << 22;
const DTYPE_BYTES: Readonly<Record<string, number>> = { BF16: 2, F16: 2, F32: 4 };

class TensorStreamer {
  private readonly raw: Uint8Array;
  private readonly bits: Uint32Array;
  private readonly values: Float32Array;
  private readonly out: Uint8Array;

  constructor(planned: readonly PlannedTensor[]) {
    const most = Math.max(1, ...planned.map((t) => (t.source ? chunkRows(t) * rowLength(t) : 0)));
    this.raw = new Uint8Array(most * 4);
    this.values = new Float32Array(most);
    this.bits = new Uint32Array(this.values.buffer);
    this.out = new Uint8Array(most * 4);
  }

  async produce(t: PlannedTensor, write: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    if (t.values) {
      await write(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength));
      return;
    }
    const { file, tensor } = t.source!;
    const cols = rowLength(t);
    const rows = tensor.shape[0]!;
    const rowBytes = cols * DTYPE_BYTES[tensor.dtype]!;
    const step = chunkRows(t);
    for (let first = 0; first < rows; first += step) {
      const n = Math.min(step, rows - first);
      // A byte range of the tensor, read through the file's own handle.
      const range: SafetensorsTensor = {
        ...tensor,
        begin: tensor.begin + first * rowBytes,
        end: tensor.begin + (first + n) * rowBytes,
      };
      const raw = await file.read(range, this.raw);
      const order = t.rowsPerHead ? ropeRowOrder(n, n / t.rowsPerHead) : undefined;
      decode(raw, tensor.dtype, this.bits, n, cols, order);
      await write(this.encode(t.info.type, n * cols));
    }
  }

  private encode(type: GgmlType, count: number): Uint8Array {
    const bits = this.bits;
    switch (type) {
      case GgmlType.F32:
        return new Uint8Array(this.values.buffer, 0, count * 4);
      case GgmlType.F16: {
        const dst = new Uint16Array(this.out.buffer, 0, count);
        for (let i = 0; i < count; i++) dst[i] = f32BitsToF16(bits[i]!);
        return this.out.subarray(0, count * 2);
      }
      case GgmlType.BF16: {
        const dst = new Uint16Array(this.out.buffer, 0, count);
        for (let i = 0; i < count; i++) dst[i] = f32BitsToBf16(bits[i]!);
        return this.out.subarray(0, count * 2);
      }
      case GgmlType.Q8_0:
        return this.out.subarray(0, encodeQ8_0(this.values, count, this.out));
    }
  }
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

/** Raw little-endian rows → float32 bit patterns; output row r is input row order[r]. Exact for every dtype. */
function decode(
  raw: Uint8Array,
  dtype: string,
  dst: Uint32Array,
  rows: number,
  cols: number,
  order: Int32Array | undefined,
): void {
  let copy: (from: number, to: number, n: number) => void;
  if (dtype === 'F32') {
    const src = new Uint32Array(raw.buffer, raw.byteOffset, rows * cols);
    copy = (from, to, n) => dst.set(src.subarray(from, from + n), to);
  } else if (dtype === 'F16') {
    const src = new Uint16Array(raw.buffer, raw.byteOffset, rows * cols);
    const table = f16ToF32Table();
    copy = (from, to, n) => {
      for (let i = 0; i < n; i++) dst[to + i] = table[src[from + i]!]!;
    };
  } else {
    const src = new Uint16Array(raw.buffer, raw.byteOffset, rows * cols);
    copy = (from, to, n) => {
      for (let i = 0; i < n; i++) dst[to + i] = src[from + i]! << 16;
    };
  }
  if (!order) copy(0, 0, rows * cols);
  else for (let r = 0; r < rows; r++) copy(order[r]! * cols, r * cols, cols);
}

/** ggml_compute_fp32_to_bf16 (and gguf-py's BF16): NaN made quiet, otherwise round to nearest even. */
function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16; // below 2^32 for every non-NaN pattern
}

// Scratch for the f16 bits of a block's scale (encodeQ8_0 is synchronous, so sharing it is safe).
const scale = new Float32Array(1);
const scaleBits = new Uint32Array(scale.buffer);

/**
 * Q8_0 blocks of 32 values: an f16 scale d = max|x| / 127 and 32 int8 q = round(x · (1/d)), rounding half away
 * from zero, all in float32: bit-exact with gguf-py's quants.Q8_0 and ggml's quantize_row_q8_0_ref. Returns the
 * bytes written to `out`.
 */
function encodeQ8_0(values: Float32Array, count: number, out: Uint8Array): number {
  const q = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
  const blocks = count / Q8_0_BLOCK;
  for (let b = 0; b < blocks; b++) {
    const from = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const a = Math.abs(values[from + j]!);
      if (a > amax) amax = a;
    }
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    scale[0] = d;
    const half = f32BitsToF16(scaleBits[0]!);
    const at = b * (Q8_0_BLOCK + 2);
    out[at] = half & 0xff;
    out[at + 1] = half >>> 8;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const v = Math.fround(values[from + j]! * id);
      q[at + 2 + j] = v < 0 ? -Math.floor(0.5 - v) : Math.floor(v + 0.5);
    }
  }
  return blocks * (Q8_0_BLOCK + 2);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
