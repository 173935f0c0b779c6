import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gguf, GGMLQuantizationType } from '@huggingface/gguf';
import { main } from '../../../src/cli/main';
import { peftName, SMALL, syntheticTensors, writeAdapter } from '../../support/peft';
import { makeWorkspace, removeWorkspace } from '../../support/workspace';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdin: () => Promise.resolve(''),
    out: (s) => (out += s),
    err: (s) => (err += s),
  });
  return { code, out, err };
}

describe('agent-learning convert-lora', () => {
  let dir: string;
  let peft: string;
  let out: string;

  beforeEach(() => {
    dir = makeWorkspace();
    peft = path.join(dir, 'adapter');
    out = path.join(dir, 'adapter.gguf');
    writeAdapter(peft, syntheticTensors(SMALL));
  });

  afterEach(() => removeWorkspace(dir));

  it('converts a PEFT folder to a GGUF adapter, prints what it wrote and exits 0', async () => {
    const r = await cli([
      'convert-lora',
      peft,
      '--out',
      out,
      '--arch',
      'llama',
      '--outtype',
      'f16',
      '--heads',
      '4',
      '--kv-heads',
      '2',
    ]);

    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    assert.ok(r.out.startsWith(`Wrote ${out}: 28 tensors, llama, f16, lora_alpha 32, `), r.out);
    const parsed = await gguf(out, { allowLocalFile: true });
    assert.equal(parsed.metadata['general.architecture'], 'llama');
    assert.equal(parsed.tensorInfos.length, 28);
    assert.ok(parsed.tensorInfos.every((t) => t.dtype === GGMLQuantizationType.F16));
  });

  it('writes f32 by default', async () => {
    const r = await cli(['convert-lora', peft, '--out', out, '--arch', 'qwen2']);

    assert.equal(r.code, 0, r.err);
    const parsed = await gguf(out, { allowLocalFile: true });
    assert.ok(parsed.tensorInfos.every((t) => t.dtype === GGMLQuantizationType.F32));
  });

  for (const [title, argv, message] of [
    ['no --out', ['--arch', 'qwen2'], /needs --out/],
    ['no folder', ['--out', 'x.gguf'], /usage: agent-learning convert-lora <peft-dir> --out FILE\.gguf/],
    ['an unknown --arch', ['--out', 'x.gguf', '--arch', 'gpt2'], /--arch takes qwen2 or llama/],
    ['an unknown --outtype', ['--out', 'x.gguf', '--outtype', 'q8_0'], /--outtype takes f32 or f16/],
    [
      'a --heads that is not a positive integer',
      ['--out', 'x.gguf', '--heads', '0'],
      /--heads takes a positive integer/,
    ],
    [
      'a --kv-heads that is not a number',
      ['--out', 'x.gguf', '--kv-heads', 'eight'],
      /--kv-heads takes a positive integer/,
    ],
  ] as const) {
    it(`exits 2 with the usage on ${title}`, async () => {
      const folder = title === 'no folder' ? [] : [peft];
      const r = await cli(['convert-lora', ...folder, ...argv]);

      assert.equal(r.code, 2);
      assert.match(r.err, message);
      assert.match(r.err, /Usage: agent-learning/);
      assert.deepEqual(fs.readdirSync(dir), ['adapter']);
    });
  }

  it('exits 1 naming the tensor when the adapter is malformed, and writes nothing', async () => {
    const tensors = syntheticTensors(SMALL).filter((t) => t.name !== peftName(1, 'k_proj', 'B'));
    writeAdapter(peft, tensors);

    const r = await cli(['convert-lora', peft, '--out', out, '--arch', 'qwen2']);

    assert.equal(r.code, 1);
    assert.match(r.err, /^agent-learning: Cannot convert .*adapter_model\.safetensors/);
    assert.ok(r.err.includes(peftName(1, 'k_proj', 'A')), r.err);
    assert.equal(fs.existsSync(out), false);
  });
});
