import assert from 'node:assert/strict';
import { ConvertError } from '../../../../src/core/errors';
import { readRope, type RopeFields } from '../../../../src/core/convert/rope';

// config.json's rope in both layouts: transformers 4's top-level rope_theta/rope_scaling and transformers 5's
// rope_parameters, read as transformers and llama.cpp's converter read them, and refused where they would differ.

const FILE = '/m/config.json';
const LLAMA3 = {
  rope_type: 'llama3',
  factor: 8.0,
  low_freq_factor: 1.0,
  high_freq_factor: 4.0,
  original_max_position_embeddings: 8192,
};
const LLAMA3_SCALING = {
  kind: 'llama3',
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalContext: 8192,
} as const;

function refusal(key: string, message: RegExp) {
  return (err: unknown) =>
    err instanceof ConvertError && err.file === FILE && err.key === key && message.test(err.message);
}

describe('readRope', () => {
  it('falls back to the documented default theta, 10,000, when config.json names none', () => {
    assert.deepEqual(readRope(FILE, 'qwen2', {}), { theta: 10000, scaling: { kind: 'none' } });
    assert.deepEqual(readRope(FILE, 'llama', { rope_parameters: { rope_type: 'default' } }), {
      theta: 10000,
      scaling: { kind: 'none' },
    });
  });

  it('reads transformers 4’s top-level rope_theta and rope_scaling', () => {
    assert.deepEqual(readRope(FILE, 'llama', { rope_theta: 500000, rope_scaling: LLAMA3 }), {
      theta: 500000,
      scaling: LLAMA3_SCALING,
    });
  });

  it('reads transformers 5’s rope_parameters, whose rope_theta wins over a top-level one', () => {
    assert.deepEqual(readRope(FILE, 'llama', { rope_parameters: { ...LLAMA3, rope_theta: 500000 } }), {
      theta: 500000,
      scaling: LLAMA3_SCALING,
    });
    assert.deepEqual(
      readRope(FILE, 'qwen2', { rope_theta: 1, rope_parameters: { rope_theta: 1e6 } }).theta,
      1e6,
    );
    assert.deepEqual(
      readRope(FILE, 'qwen2', { rope_theta: 1e6, rope_parameters: { rope_type: 'default' } }).theta,
      1e6,
    );
  });

  it('reads the older `type` key, yarn for qwen2 and linear for llama from rope_parameters', () => {
    const yarn: RopeFields = {
      rope_parameters: { type: 'yarn', factor: 4, original_max_position_embeddings: 32768, rope_theta: 1e6 },
    };
    assert.deepEqual(readRope(FILE, 'qwen2', yarn).scaling, {
      kind: 'yarn',
      factor: 4,
      originalContext: 32768,
    });
    assert.deepEqual(
      readRope(FILE, 'llama', { rope_parameters: { rope_type: 'linear', factor: 2 } }).scaling,
      {
        kind: 'linear',
        factor: 2,
      },
    );
  });

  it('takes the original context from the top level when the rope object has none, as llama.cpp does', () => {
    const noContext = { ...LLAMA3, original_max_position_embeddings: undefined };
    const rope = readRope(FILE, 'llama', {
      rope_parameters: noContext,
      original_max_position_embeddings: 4096,
    });
    assert.deepEqual(rope.scaling, { ...LLAMA3_SCALING, originalContext: 4096 });
  });

  it('accepts rope_scaling beside rope_parameters when they say the same', () => {
    const rope = readRope(FILE, 'llama', {
      rope_scaling: LLAMA3,
      rope_parameters: { ...LLAMA3, rope_theta: 5e5 },
    });
    assert.deepEqual(rope, { theta: 5e5, scaling: LLAMA3_SCALING });
  });

  it('refuses rope_scaling and rope_parameters that disagree, since transformers and llama.cpp pick different ones', () => {
    assert.throws(
      () => readRope(FILE, 'llama', { rope_scaling: LLAMA3, rope_parameters: { ...LLAMA3, factor: 32 } }),
      refusal('rope_scaling', /rope_parameters and rope_scaling disagree/),
    );
  });

  it('refuses a rope_type it cannot carry over, naming the key it came from', () => {
    assert.throws(
      () => readRope(FILE, 'qwen2', { rope_parameters: { rope_type: 'llama3', rope_theta: 1e6 } }),
      refusal(
        'rope_parameters',
        /rope_type "llama3" in rope_parameters is not supported for qwen2 \(default, yarn are\)/,
      ),
    );
    assert.throws(
      () => readRope(FILE, 'llama', { rope_parameters: { rope_type: 'longrope' } }),
      refusal('rope_parameters', /"longrope" .* not supported for llama \(default, linear, llama3 are\)/),
    );
    assert.throws(
      () => readRope(FILE, 'llama', { rope_scaling: { type: 'dynamic', factor: 2 } }),
      refusal('rope_scaling', /rope scaling "dynamic" is not supported for llama \(linear and llama3 are\)/),
    );
  });

  it('refuses scalings without the keys they need', () => {
    assert.throws(
      () => readRope(FILE, 'qwen2', { rope_parameters: { rope_type: 'yarn', factor: 4 } }),
      refusal('rope_parameters', /yarn rope scaling needs factor and original_max_position_embeddings/),
    );
    assert.throws(
      () => readRope(FILE, 'llama', { rope_parameters: { rope_type: 'linear' } }),
      refusal('rope_parameters', /linear rope scaling needs a factor/),
    );
  });

  it('refuses a rope per layer type, which llama and qwen2 do not have', () => {
    const nested = {
      rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1e6 } },
    } as RopeFields;
    assert.throws(
      () => readRope(FILE, 'qwen2', nested),
      refusal('rope_parameters', /per layer type \(full_attention\)/),
    );
  });
});
