import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { hfTensorShapes, modelConfig, QWEN, writeModel, type Shape } from '../../support/hfModel';
import { writeSafetensors } from '../../support/peft';
import { makeWorkspace, removeWorkspace } from '../../support/workspace';

const ROOT = path.resolve(__dirname, '../../..');

/** `agent-learning convert-model` as a real process, from source. */
let started: ChildProcess[] = [];

function startCli(args: string[], nodeOptions: string[] = []): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      ...nodeOptions,
      '--import',
      pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
      path.join(ROOT, 'src/cli/main.ts'),
      'convert-model',
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.push(child);
  return child;
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  err: string;
}

function ended(child: ChildProcess): Promise<Ended> {
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, err })));
}

describe('agent-learning convert-model', function () {
  this.timeout(120_000);
  let dir: string;
  let model: string;
  let out: string;

  beforeEach(() => {
    dir = makeWorkspace();
    model = path.join(dir, 'merged');
    out = path.join(dir, 'out', 'model.gguf');
    fs.mkdirSync(path.dirname(out));
    fs.writeFileSync(out, 'previous model');
  });

  afterEach(() => {
    // A process a failed test left stopped is not left behind.
    for (const child of started)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    started = [];
    removeWorkspace(dir);
  });

  it('refuses a config.json with vocab_size 2e9 and no weights at once, without sizing anything by it', async () => {
    writeModel(model, 'qwen2', QWEN, [], {
      config: { ...modelConfig('qwen2', QWEN, true), vocab_size: 2e9 },
    });
    fs.rmSync(path.join(model, 'model.safetensors'));

    // A small heap: padding the vocabulary to 2e9 tokens first ran 53 s to 5.5 GB and died out of memory.
    const r = await ended(startCli([model, '--out', out], ['--max-old-space-size=256']));

    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /there are no model\*\.safetensors weights/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous model');
  });

  it("refuses a vocab_size that the weights contradict, naming the tensor and config.json's sizes", async () => {
    const tensors = hfTensorShapes('qwen2', QWEN, true).map(([name, shape]) => ({
      name,
      dtype: 'BF16',
      shape,
      data: new Uint8Array(shape.reduce((n, d) => n * d, 2)),
    }));
    writeModel(model, 'qwen2', QWEN, [], {
      config: { ...modelConfig('qwen2', QWEN, true), vocab_size: 2e9 },
    });
    writeSafetensors(path.join(model, 'model.safetensors'), tensors);

    const r = await ended(startCli([model, '--out', out], ['--max-old-space-size=256']));

    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /model\.embed_tokens\.weight/);
    assert.match(r.err, /shape \[40, 64\] does not match config\.json, which implies \[2000000000, 64\]/);
    assert.match(r.err, /vocab_size 2000000000/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous model');
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`removes its partial output when ${signal} interrupts it, and keeps the previous model`, async () => {
      // Big enough (30M values) that the file is still being written when the test stops the process.
      const big: Shape = { layers: 8, hidden: 512, intermediate: 2048, heads: 32, kvHeads: 8, vocab: 40 };
      const tensors = hfTensorShapes('qwen2', big, true).map(([name, shape]) => ({
        name,
        dtype: 'BF16',
        shape,
        data: new Uint8Array(shape.reduce((n, d) => n * d, 2)).fill(0x3f),
      }));
      writeModel(model, 'qwen2', big, []);
      writeSafetensors(path.join(model, 'model.safetensors'), tensors);
      const outDir = path.dirname(out);
      const watcher = fs.watch(outDir);
      const tempAppeared = new Promise<void>((resolve) =>
        watcher.on('change', (_event, name) => {
          if (String(name).startsWith('model.gguf.tmp-')) resolve();
        }),
      );

      const child = startCli([model, '--out', out]);
      const result = ended(child);
      await tempAppeared;
      child.kill('SIGSTOP'); // holds it mid-write, whatever the machine's speed
      watcher.close();
      const partial = fs.readdirSync(outDir).filter((n) => n.startsWith('model.gguf.tmp-'));
      assert.equal(partial.length, 1, 'the conversion is under way');
      assert.equal(fs.readFileSync(out, 'utf8'), 'previous model', 'the conversion is under way');
      child.kill(signal);
      child.kill('SIGCONT');
      const r = await result;

      assert.equal(r.signal, signal, r.err);
      assert.deepEqual(fs.readdirSync(outDir), ['model.gguf'], 'no partial output is left');
      assert.equal(fs.readFileSync(out, 'utf8'), 'previous model');
    });
  }
});
