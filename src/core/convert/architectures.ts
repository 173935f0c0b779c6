// The model architectures the converters know, one entry each: the names Hugging Face gives them, the GGUF
// architecture llama.cpp registers them under, their tensors in llama.cpp's names, and what each needs (biases,
// llama's q/k row permutation, the rope scalings carried over, extra metadata). Follows convert_hf_to_gguf.py's
// Qwen2Model and LlamaModel and gguf-py's TensorNameMap.

export const ARCHITECTURES = ['qwen2', 'llama'] as const;
/** A GGUF architecture (`general.architecture`). */
export type Architecture = (typeof ARCHITECTURES)[number];

export type RopeScalingKind = 'linear' | 'yarn' | 'llama3';

interface ArchitectureSpec {
  /** config.json's `architectures[0]` classes convert_hf_to_gguf.py registers under this architecture. */
  hfClasses: readonly string[];
  /** config.json's `model_type` values of those models (what an adapter folder's base config names). */
  modelTypes: readonly string[];
  /** max_position_embeddings when config.json has none: transformers' Qwen2Config/LlamaConfig default. */
  defaultContextLength: number;
  /**
   * rope_theta when config.json has none: the documented default (transformers' default_theta for the config
   * class). Without one, a config that leaves out rope_theta is refused rather than guessed.
   */
  defaultRopeTheta?: number;
  /** qwen2 always has q/k/v biases; llama has them, and o_proj's and the MLP's, only with attention_bias/mlp_bias. */
  biases: 'qkv' | 'optional';
  /** LlamaModel.permute: llama's q/k rows are interleaved per head for llama.cpp's rotary embedding. */
  permutesQK: boolean;
  /** The rope scalings convert_hf_to_gguf.py carries over; the converter refuses the others. */
  ropeScalings: readonly RopeScalingKind[];
  /** LlamaModel writes vocab_size, rope.dimension_count and tokenizer.ggml.add_space_prefix; Qwen2Model does not. */
  llamaMetadata: boolean;
}

export const ARCHITECTURE: Readonly<Record<Architecture, ArchitectureSpec>> = {
  qwen2: {
    hfClasses: ['Qwen2ForCausalLM'],
    modelTypes: ['qwen2'],
    defaultContextLength: 32768,
    defaultRopeTheta: 10000,
    biases: 'qkv',
    permutesQK: false,
    ropeScalings: ['yarn'],
    llamaMetadata: false,
  },
  llama: {
    hfClasses: ['LlamaForCausalLM', 'MistralForCausalLM'],
    modelTypes: ['llama', 'mistral'],
    defaultContextLength: 2048,
    defaultRopeTheta: 10000,
    biases: 'optional',
    permutesQK: true,
    ropeScalings: ['linear', 'llama3'],
    llamaMetadata: true,
  },
};

export function isArchitecture(name: string | undefined): name is Architecture {
  return (ARCHITECTURES as readonly (string | undefined)[]).includes(name);
}

/** The architecture of config.json's `architectures[0]`, if the converters know it. */
export function architectureOfClass(hfClass: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => ARCHITECTURE[a].hfClasses.includes(hfClass));
}

/** The architecture of config.json's `model_type`, if the converters know it. */
export function architectureOfModelType(modelType: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => ARCHITECTURE[a].modelTypes.includes(modelType));
}

export const KNOWN_CLASSES = ARCHITECTURES.flatMap((a) => ARCHITECTURE[a].hfClasses);
export const KNOWN_MODEL_TYPES = ARCHITECTURES.flatMap((a) => ARCHITECTURE[a].modelTypes).sort();

/** llama.cpp's LLAMA_MAX_LAYERS (src/llama-hparams.h): it loads no model or adapter with more layers. */
export const MAX_LAYERS = 512;

/** The sizes a layer's tensors are made of. */
export interface LayerDims {
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

type Dim = 'hidden' | 'intermediate' | 'q' | 'kv';

/**
 * The linear modules under `model.layers.N.` (the ones LoRA adapts), in llama.cpp's writing order, with the
 * llama.cpp tensor under `blk.N.` each becomes (the same for llama and qwen2) and the sizes of their
 * [out, in] weights.
 */
export const PROJECTIONS = {
  'self_attn.q_proj': { gguf: 'attn_q', out: 'q', in: 'hidden' },
  'self_attn.k_proj': { gguf: 'attn_k', out: 'kv', in: 'hidden' },
  'self_attn.v_proj': { gguf: 'attn_v', out: 'kv', in: 'hidden' },
  'self_attn.o_proj': { gguf: 'attn_output', out: 'hidden', in: 'q' },
  'mlp.gate_proj': { gguf: 'ffn_gate', out: 'intermediate', in: 'hidden' },
  'mlp.up_proj': { gguf: 'ffn_up', out: 'intermediate', in: 'hidden' },
  'mlp.down_proj': { gguf: 'ffn_down', out: 'hidden', in: 'intermediate' },
} as const satisfies Record<string, { gguf: string; out: Dim; in: Dim }>;
export type Projection = keyof typeof PROJECTIONS;
export const PROJECTION_ORDER = Object.keys(PROJECTIONS) as Projection[];

function size(dim: Dim, d: LayerDims): number {
  if (dim === 'q') return d.heads * d.headDim;
  if (dim === 'kv') return d.kvHeads * d.headDim;
  return d[dim];
}

/** Sizes of a checkpoint: a layer's and the vocabulary's. */
export interface CheckpointDims extends LayerDims {
  layers: number;
  vocabSize: number;
  tied: boolean;
}

export interface CheckpointTensor {
  hfName: string;
  ggufName: string;
  /** PyTorch order. */
  shape: number[];
  required: boolean;
  /** llama's q/k: rows are permuted within heads of this many rows. */
  rowsPerHead?: number;
}

/** The tensors of a llama/qwen2 checkpoint, in llama.cpp's names (gguf-py's TensorNameMap), in writing order. */
export function checkpointTensors(arch: Architecture, c: CheckpointDims): CheckpointTensor[] {
  const spec = ARCHITECTURE[arch];
  const { hidden: H, vocabSize: V } = c;
  const list: CheckpointTensor[] = [
    { hfName: 'model.embed_tokens.weight', ggufName: 'token_embd.weight', shape: [V, H], required: true },
  ];
  // convert_hf_to_gguf.py's LlamaModel.permute: q by the attention heads, k by the key/value heads.
  const permute = spec.permutesQK ? c.headDim : undefined;
  const qkvBias = spec.biases === 'qkv';
  const optional = spec.biases === 'optional';
  for (let l = 0; l < c.layers; l++) {
    const hf = `model.layers.${l}.`;
    const blk = `blk.${l}.`;
    const add = (module: string, gguf: string, shape: number[], required: boolean, rowsPerHead?: number) =>
      list.push({ hfName: hf + module, ggufName: blk + gguf, shape, required, rowsPerHead });
    const weight = (p: Projection, rowsPerHead?: number) => {
      const { gguf, out, in: inDim } = PROJECTIONS[p];
      add(`${p}.weight`, `${gguf}.weight`, [size(out, c), size(inDim, c)], true, rowsPerHead);
    };
    const bias = (p: Projection, required: boolean, rowsPerHead?: number) =>
      add(`${p}.bias`, `${PROJECTIONS[p].gguf}.bias`, [size(PROJECTIONS[p].out, c)], required, rowsPerHead);
    add('input_layernorm.weight', 'attn_norm.weight', [H], true);
    weight('self_attn.q_proj', permute);
    bias('self_attn.q_proj', qkvBias, permute);
    weight('self_attn.k_proj', permute);
    bias('self_attn.k_proj', qkvBias, permute);
    weight('self_attn.v_proj');
    bias('self_attn.v_proj', qkvBias);
    weight('self_attn.o_proj');
    if (optional) bias('self_attn.o_proj', false); // attention_bias
    add('post_attention_layernorm.weight', 'ffn_norm.weight', [H], true);
    weight('mlp.gate_proj');
    weight('mlp.up_proj');
    weight('mlp.down_proj');
    if (optional) {
      // mlp_bias
      bias('mlp.gate_proj', false);
      bias('mlp.up_proj', false);
      bias('mlp.down_proj', false);
    }
  }
  list.push({ hfName: 'model.norm.weight', ggufName: 'output_norm.weight', shape: [H], required: true });
  // Tied embeddings: no lm_head, and llama.cpp reads token_embd for the output.
  list.push({ hfName: 'lm_head.weight', ggufName: 'output.weight', shape: [V, H], required: !c.tied });
  return list;
}

/**
 * `w.reshape(n_head, 2, rows / n_head / 2, …).swapaxes(1, 2).reshape(w.shape)`: within each head, the two halves
 * of the rotary dimensions are interleaved. Returns, for each output row, the input row it comes from.
 */
export function ropeRowOrder(rows: number, nHead: number): Int32Array {
  const half = rows / nHead / 2;
  const order = new Int32Array(rows);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      order[h * 2 * half + i * 2] = h * 2 * half + i;
      order[h * 2 * half + i * 2 + 1] = h * 2 * half + half + i;
    }
  }
  return order;
}
