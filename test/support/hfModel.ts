// Tiny Hugging Face model folders (config.json, tokenizer files, safetensors weights) written byte by byte, for
// the model converter's tests and for the real-Ollama deploy tests that import what it converts. Expectations
// follow llama.cpp's convert_hf_to_gguf.py and gguf-py.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { encode, writeSafetensors, type Dtype, type RawTensor } from './peft';
import { mulberry32 } from './random';
export type Arch = 'qwen2' | 'llama';

export interface Shape {
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  vocab: number;
}

/** intermediate 80: ffn_down's rows (80 values) are not whole Q8_0 blocks, so llama.cpp keeps it in f16. */
export const QWEN: Shape = { layers: 2, hidden: 64, intermediate: 80, heads: 4, kvHeads: 2, vocab: 40 };
export const LLAMA: Shape = { layers: 2, hidden: 64, intermediate: 96, heads: 4, kvHeads: 2, vocab: 40 };
export const HEAD = 16;

const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export const BASE_VOCAB = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'Ġ', 'Ċ'].concat([
  'ab',
  'abc',
  'cd',
  'Ġa',
  'Ġab',
  'ef',
  'gh',
  'efg',
  'Ġx',
  'y',
]);
export const QWEN_ADDED = [
  { id: 20, content: '<|endoftext|>', special: true },
  { id: 21, content: '<|im_start|>', special: true },
  { id: 22, content: '<|im_end|>', special: true },
  { id: 23, content: '<tool_call>', special: false },
  { id: 24, content: '<|fim_pad|>', special: false }, // looks special: llama.cpp makes it a control token
  { id: 25, content: '\u2581x', special: false }, // user-defined: its ▁ becomes a space
];
export const LLAMA_ADDED = [
  { id: 20, content: '<|begin_of_text|>', special: true },
  { id: 21, content: '<|end_of_text|>', special: true },
  { id: 22, content: '<|eot_id|>', special: true },
];
export const QWEN_MERGES = ['a b', 'ab c', 'c d', 'Ġ a', 'Ġa b', 'e f', 'g h', 'ef g'];
const LLAMA_MERGES = [
  ['a', 'b'],
  ['ab', 'c'],
  ['c', 'd'],
  ['Ġ', 'a'],
  ['Ġa', 'b'],
  ['e', 'f'],
  [' x', 'y'],
];
export const QWEN_TEMPLATE =
  "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
export const LLAMA_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{{ m['content'] }}<|eot_id|>{% endfor %}";

export function tokenizerJson(arch: Arch): Record<string, unknown> {
  const added = arch === 'qwen2' ? QWEN_ADDED : LLAMA_ADDED;
  const bos = { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } };
  return {
    version: '1.0',
    added_tokens: added.map((t) => ({
      ...t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    })),
    normalizer: arch === 'qwen2' ? { type: 'NFC' } : null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: arch === 'qwen2' ? QWEN2_REGEX : LLAMA3_REGEX },
          behavior: 'Isolated',
          invert: false,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor:
      arch === 'qwen2'
        ? { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }
        : {
            type: 'Sequence',
            processors: [
              { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
              {
                type: 'TemplateProcessing',
                single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
                pair: [
                  bos,
                  { Sequence: { id: 'A', type_id: 0 } },
                  bos,
                  { Sequence: { id: 'B', type_id: 1 } },
                ],
                special_tokens: {},
              },
            ],
          },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      byte_fallback: false,
      ignore_merges: arch === 'llama',
      vocab: Object.fromEntries(BASE_VOCAB.map((t, i) => [t, i])),
      merges: arch === 'qwen2' ? QWEN_MERGES : LLAMA_MERGES,
    },
  };
}

function tokenizerConfig(arch: Arch): Record<string, unknown> {
  return arch === 'qwen2'
    ? {
        add_bos_token: false,
        add_prefix_space: false, // qwen2 ignores it; llama writes it
        bos_token: null,
        eos_token: '<|im_end|>',
        pad_token: '<|endoftext|>',
        unk_token: null,
        chat_template: QWEN_TEMPLATE,
        tokenizer_class: 'Qwen2Tokenizer',
      }
    : {
        add_prefix_space: false,
        bos_token: '<|begin_of_text|>',
        eos_token: { content: '<|eot_id|>', lstrip: false },
        tokenizer_class: 'PreTrainedTokenizerFast',
      };
}

export function modelConfig(arch: Arch, s: Shape, tied: boolean): Record<string, unknown> {
  const common = {
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    vocab_size: s.vocab,
    tie_word_embeddings: tied,
    torch_dtype: 'bfloat16',
  };
  return arch === 'qwen2'
    ? {
        ...common,
        architectures: ['Qwen2ForCausalLM'],
        model_type: 'qwen2',
        max_position_embeddings: 32768,
        rms_norm_eps: 1e-6,
        rope_theta: 1000000.0,
        rope_scaling: null,
        bos_token_id: 20,
        eos_token_id: 20,
        sliding_window: 131072,
        use_sliding_window: false,
      }
    : {
        ...common,
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        head_dim: HEAD,
        max_position_embeddings: 131072,
        rms_norm_eps: 1e-5,
        rope_theta: 500000.0,
        rope_scaling: {
          factor: 8.0,
          low_freq_factor: 1.0,
          high_freq_factor: 4.0,
          original_max_position_embeddings: 8192,
          rope_type: 'llama3',
        },
        attention_bias: true,
        bos_token_id: 20,
        eos_token_id: [21, 22],
      };
}

export interface HfTensor extends RawTensor {
  values: number[];
}

/** A checkpoint's tensors with seeded values k/64 (|k| ≤ 128): exact in f32, f16 and bf16. */
export function hfTensors(arch: Arch, s: Shape, dtype: Dtype, tied: boolean, seed = 1): HfTensor[] {
  const rand = mulberry32(seed);
  return hfTensorShapes(arch, s, tied).map(([name, shape]) => {
    const values = Array.from({ length: shape.reduce((n, d) => n * d, 1) }, () =>
      name.includes('layernorm') || name.includes('norm.weight')
        ? 1 + Math.round(rand() * 32 - 16) / 64
        : Math.round(rand() * 256 - 128) / 64,
    );
    return { name, dtype, shape, values, data: encode(values, dtype) };
  });
}

/** A checkpoint's tensor names and PyTorch shapes, in the order hfTensors writes them. */
export function hfTensorShapes(arch: Arch, s: Shape, tied: boolean): Array<[string, number[]]> {
  const q = s.heads * HEAD;
  const kv = s.kvHeads * HEAD;
  const biases = true; // qwen2 always has q/k/v biases; our llama has attention_bias
  const specs: Array<[string, number[]]> = [['model.embed_tokens.weight', [s.vocab, s.hidden]]];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    specs.push([`${p}input_layernorm.weight`, [s.hidden]]);
    specs.push([`${p}self_attn.q_proj.weight`, [q, s.hidden]]);
    if (biases) specs.push([`${p}self_attn.q_proj.bias`, [q]]);
    specs.push([`${p}self_attn.k_proj.weight`, [kv, s.hidden]]);
    if (biases) specs.push([`${p}self_attn.k_proj.bias`, [kv]]);
    specs.push([`${p}self_attn.v_proj.weight`, [kv, s.hidden]]);
    if (biases) specs.push([`${p}self_attn.v_proj.bias`, [kv]]);
    specs.push([`${p}self_attn.o_proj.weight`, [s.hidden, q]]);
    if (arch === 'llama') specs.push([`${p}self_attn.o_proj.bias`, [s.hidden]]);
    specs.push([`${p}post_attention_layernorm.weight`, [s.hidden]]);
    specs.push([`${p}mlp.gate_proj.weight`, [s.intermediate, s.hidden]]);
    specs.push([`${p}mlp.up_proj.weight`, [s.intermediate, s.hidden]]);
    specs.push([`${p}mlp.down_proj.weight`, [s.hidden, s.intermediate]]);
  }
  specs.push(['model.norm.weight', [s.hidden]]);
  if (!tied) specs.push(['lm_head.weight', [s.vocab, s.hidden]]);
  return specs;
}

export interface ModelFolder {
  tensors?: HfTensor[];
  config?: Record<string, unknown>;
  tokenizer?: Record<string, unknown> | null;
  tokenizerConfig?: Record<string, unknown> | null;
  /** Split the weights over this many files with a model.safetensors.index.json. */
  shards?: number;
}

export function writeModel(
  dir: string,
  arch: Arch,
  s: Shape,
  tensors: HfTensor[],
  folder: ModelFolder = {},
): void {
  fs.mkdirSync(dir, { recursive: true });
  const shards = folder.shards ?? 1;
  if (shards === 1) writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  else {
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < shards; i++) {
      const file = `model-0000${i + 1}-of-0000${shards}.safetensors`;
      const part = tensors.filter((_, j) => Math.floor((j * shards) / tensors.length) === i);
      writeSafetensors(path.join(dir, file), part, { metadata: { format: 'pt' } });
      for (const t of part) weightMap[t.name] = file;
    }
    fs.writeFileSync(
      path.join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
    );
  }
  const tied = !tensors.some((t) => t.name === 'lm_head.weight');
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify(folder.config ?? modelConfig(arch, s, tied)),
  );
  if (folder.tokenizer !== null)
    fs.writeFileSync(
      path.join(dir, 'tokenizer.json'),
      JSON.stringify(folder.tokenizer ?? tokenizerJson(arch)),
    );
  if (folder.tokenizerConfig !== null) {
    fs.writeFileSync(
      path.join(dir, 'tokenizer_config.json'),
      JSON.stringify(folder.tokenizerConfig ?? tokenizerConfig(arch)),
    );
  }
  if (arch === 'llama') fs.writeFileSync(path.join(dir, 'chat_template.jinja'), LLAMA_TEMPLATE);
}
