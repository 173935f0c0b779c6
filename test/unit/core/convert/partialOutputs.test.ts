import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convertLora } from '../../../../src/core/convert/loraConvert';
import { convertModel } from '../../../../src/core/convert/modelConvert';
import { hfTensors, QWEN, writeModel } from '../../../support/hfModel';
import { SMALL, syntheticTensors, writeAdapter } from '../../../support/peft';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

/** The id of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

describe('partial outputs of interrupted conversions', () => {
  let dir: string;
  let outDir: string;
  let out: string;
  const hourAgo = new Date(Date.now() - 3_600_000);

  beforeEach(() => {
    dir = makeWorkspace();
    outDir = path.join(dir, 'out');
    fs.mkdirSync(outDir);
    out = path.join(outDir, 'model.gguf');
  });

  afterEach(() => removeWorkspace(dir));

  /** A temp file as the atomic writers name them, last written at `mtime`. */
  function partial(name: string, mtime: Date): string {
    const file = path.join(outDir, name);
    fs.writeFileSync(file, 'half a model');
    fs.utimesSync(file, mtime, mtime);
    return file;
  }

  it("removes a dead run's partial output of the same file when a conversion starts, and nothing else", async () => {
    const dead = deadPid();
    const stale = partial(`model.gguf.tmp-${dead}-0a1b2c3d`, hourAgo);
    // A live process's (the one that started this test), one written since this process started (its writer
    // may be alive where its id cannot be seen), and another output's.
    const live = partial(`model.gguf.tmp-${process.ppid}-0a1b2c3d`, hourAgo);
    const recent = partial(`model.gguf.tmp-${dead}-deadbeef`, new Date());
    const other = partial(`other.gguf.tmp-${dead}-0a1b2c3d`, hourAgo);
    const model = path.join(dir, 'merged');
    writeModel(model, 'qwen2', QWEN, hfTensors('qwen2', QWEN, 'BF16', true));

    await convertModel(model, out);

    assert.ok(!fs.existsSync(stale), 'the stale partial output is removed');
    for (const kept of [live, recent, other]) assert.ok(fs.existsSync(kept), `${kept} is kept`);
    assert.deepEqual(
      fs.readdirSync(outDir).sort(),
      ['model.gguf', path.basename(live), path.basename(recent), path.basename(other)].sort(),
    );
  });

  it("removes a dead run's partial output of a LoRA adapter when its conversion starts", async () => {
    out = path.join(outDir, 'adapter.gguf');
    const stale = partial(`adapter.gguf.tmp-${deadPid()}-0a1b2c3d`, hourAgo);
    const peft = path.join(dir, 'adapter');
    writeAdapter(peft, syntheticTensors(SMALL));

    await convertLora(peft, out, { arch: 'qwen2' });

    assert.ok(!fs.existsSync(stale));
    assert.deepEqual(fs.readdirSync(outDir), ['adapter.gguf']);
  });

  it('removes a stale partial output even when the conversion is then refused', async () => {
    const stale = partial(`model.gguf.tmp-${deadPid()}-0a1b2c3d`, hourAgo);
    const model = path.join(dir, 'merged');
    writeModel(model, 'qwen2', QWEN, hfTensors('qwen2', QWEN, 'BF16', true));
    fs.rmSync(path.join(model, 'model.safetensors'));

    await assert.rejects(convertModel(model, out), { name: 'ConvertError' });

    assert.ok(!fs.existsSync(stale));
  });
});
