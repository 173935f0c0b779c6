// A byte-level BPE tokenizer (tokenizer.json, tokenizer_config.json, the chat template) read into llama.cpp's "gpt2"
// vocabulary: tokens and their types, merges, the pre-tokenizer's name, special token ids and add_*_token flags,
// and the chat templates, as convert_hf_to_gguf.py's _set_vocab_gpt2 and gguf-py's SpecialVocab write them.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { ConvertError } from '../errors';
import { ARCHITECTURE, type Architecture } from './architectures';
import type { GgufValue } from './gguf';
import { isRecord, readJson, schemaError } from './inputFiles';

const TOKENIZER_FILE = 'tokenizer.json';
const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** What the vocabulary needs of config.json. */
export interface VocabularyConfig {
  arch: Architecture;
  vocabSize: number;
  /** The raw JSON, for the special token ids SpecialVocab reads from it. */
  raw: Record<string, unknown>;
}

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

export interface Vocabulary {
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

/** Reads `hfDir`'s tokenizer files for a model of `config`'s architecture and vocabulary size. */
export function readVocabulary(hfDir: string, config: VocabularyConfig): Vocabulary {
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
    addSpacePrefix:
      ARCHITECTURE[config.arch].llamaMetadata && typeof addPrefix === 'boolean' ? addPrefix : undefined,
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

/** The vocabulary's metadata, added to `m` in the order convert_hf_to_gguf.py's set_vocab writes it. */
export function addVocabularyMetadata(m: Map<string, GgufValue>, vocab: Vocabulary): void {
  const u32 = (key: string, value: number) => m.set(key, { type: 'uint32', value });
  const str = (key: string, value: string) => m.set(key, { type: 'string', value });
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
}
