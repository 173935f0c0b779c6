import assert from 'node:assert/strict';
import {
  architectureOfClass,
  architectureOfModelType,
  checkpointTensors,
  isArchitecture,
  ropeRowOrder,
} from '../../../../src/core/convert/architectures';

// The architecture table: lookups by Hugging Face's names, the tensors each architecture's checkpoint holds, and
// llama's q/k row permutation.

const DIMS = {
  hidden: 8,
  intermediate: 12,
  heads: 2,
  kvHeads: 1,
  headDim: 4,
  layers: 1,
  vocabSize: 10,
  tied: false,
};

describe('architectures', () => {
  it('looks architectures up by class, model_type and name, and nothing else', () => {
    assert.equal(architectureOfClass('MistralForCausalLM'), 'llama');
    assert.equal(architectureOfClass('Qwen2ForCausalLM'), 'qwen2');
    assert.equal(architectureOfClass('constructor'), undefined);
    assert.equal(architectureOfModelType('mistral'), 'llama');
    assert.equal(architectureOfModelType('toString'), undefined);
    assert.ok(isArchitecture('qwen2') && isArchitecture('llama'));
    assert.ok(!isArchitecture('mistral') && !isArchitecture(undefined));
  });

  it('lists a qwen2 layer with required q/k/v biases and no other bias, in llama.cpp’s names and order', () => {
    const tensors = checkpointTensors('qwen2', DIMS);
    assert.deepEqual(
      tensors.map((t) => [t.hfName, t.ggufName, t.shape, t.required, t.rowsPerHead]),
      [
        ['model.embed_tokens.weight', 'token_embd.weight', [10, 8], true, undefined],
        ['model.layers.0.input_layernorm.weight', 'blk.0.attn_norm.weight', [8], true, undefined],
        ['model.layers.0.self_attn.q_proj.weight', 'blk.0.attn_q.weight', [8, 8], true, undefined],
        ['model.layers.0.self_attn.q_proj.bias', 'blk.0.attn_q.bias', [8], true, undefined],
        ['model.layers.0.self_attn.k_proj.weight', 'blk.0.attn_k.weight', [4, 8], true, undefined],
        ['model.layers.0.self_attn.k_proj.bias', 'blk.0.attn_k.bias', [4], true, undefined],
        ['model.layers.0.self_attn.v_proj.weight', 'blk.0.attn_v.weight', [4, 8], true, undefined],
        ['model.layers.0.self_attn.v_proj.bias', 'blk.0.attn_v.bias', [4], true, undefined],
        ['model.layers.0.self_attn.o_proj.weight', 'blk.0.attn_output.weight', [8, 8], true, undefined],
        ['model.layers.0.post_attention_layernorm.weight', 'blk.0.ffn_norm.weight', [8], true, undefined],
        ['model.layers.0.mlp.gate_proj.weight', 'blk.0.ffn_gate.weight', [12, 8], true, undefined],
        ['model.layers.0.mlp.up_proj.weight', 'blk.0.ffn_up.weight', [12, 8], true, undefined],
        ['model.layers.0.mlp.down_proj.weight', 'blk.0.ffn_down.weight', [8, 12], true, undefined],
        ['model.norm.weight', 'output_norm.weight', [8], true, undefined],
        ['lm_head.weight', 'output.weight', [10, 8], true, undefined],
      ],
    );
  });

  it('lists a llama layer with optional biases and q/k permuted per head; a tied model needs no lm_head', () => {
    const tensors = checkpointTensors('llama', { ...DIMS, tied: true });
    const optional = tensors.filter((t) => !t.required).map((t) => t.ggufName);
    assert.deepEqual(optional, [
      'blk.0.attn_q.bias',
      'blk.0.attn_k.bias',
      'blk.0.attn_v.bias',
      'blk.0.attn_output.bias',
      'blk.0.ffn_gate.bias',
      'blk.0.ffn_up.bias',
      'blk.0.ffn_down.bias',
      'output.weight',
    ]);
    const permuted = tensors
      .filter((t) => t.rowsPerHead !== undefined)
      .map((t) => [t.ggufName, t.rowsPerHead]);
    assert.deepEqual(permuted, [
      ['blk.0.attn_q.weight', 4],
      ['blk.0.attn_q.bias', 4],
      ['blk.0.attn_k.weight', 4],
      ['blk.0.attn_k.bias', 4],
    ]);
  });

  it('interleaves the two halves of each head’s rotary rows, like LlamaModel.permute', () => {
    // reshape(2 heads, 2, 2, …).swapaxes(1, 2): head rows [a0 a1 b0 b1] become [a0 b0 a1 b1]
    assert.deepEqual([...ropeRowOrder(8, 2)], [0, 2, 1, 3, 4, 6, 5, 7]);
    assert.deepEqual([...ropeRowOrder(6, 1)], [0, 3, 1, 4, 2, 5]);
  });
});
