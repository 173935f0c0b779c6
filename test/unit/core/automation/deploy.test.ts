import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { knownBaseTags, resolveBaseModel } from '../../../../src/core/automation/baseModels';
import { defaultConfig, parseConfig } from '../../../../src/core/workspace/config';
import { createStep, modelfileText } from '../../../../src/core/automation/deploy';
import { LearningError } from '../../../../src/core/errors';
import {
  compareVersions,
  deployMethodFor,
  normaliseHost,
  OllamaClient,
} from '../../../../src/core/automation/ollama';
import {
  launcherSource,
  parseProgressLine,
  ProgressTail,
  readLastTrain,
  trainStep,
  writeLastTrain,
  type Tools,
} from '../../../../src/core/automation/training';
import { adapterPaths } from '../../../../src/core/workspace/agentDir';

const tools: Tools = {
  python: 'python3',
  pythonDir: path.resolve('python'),
  node: process.execPath,
  cli: path.resolve('dist/cli.js'),
  ollama: 'ollama',
};

describe('base model table', () => {
  it('maps Ollama tags to their Hugging Face repositories and architectures', () => {
    assert.deepEqual(resolveBaseModel('qwen2.5-coder:7b'), {
      tag: 'qwen2.5-coder:7b',
      hfModel: 'Qwen/Qwen2.5-Coder-7B-Instruct',
      arch: 'qwen2',
    });
    assert.equal(resolveBaseModel('qwen2.5-coder').hfModel, 'Qwen/Qwen2.5-Coder-7B-Instruct');
    assert.equal(
      resolveBaseModel('qwen2.5-coder:1.5b-instruct-q4_K_M').hfModel,
      'Qwen/Qwen2.5-Coder-1.5B-Instruct',
    );
    assert.equal(resolveBaseModel('qwen2.5-coder:32b-base').hfModel, 'Qwen/Qwen2.5-Coder-32B');
    const llama = resolveBaseModel('llama3.1:8b');
    assert.deepEqual(llama, {
      tag: 'llama3.1:8b',
      hfModel: 'meta-llama/Llama-3.1-8B-Instruct',
      arch: 'llama',
      heads: 32,
      kvHeads: 8,
    });
    assert.equal(resolveBaseModel('llama3.2:3b').heads, 24);
    for (const tag of knownBaseTags()) assert.ok(resolveBaseModel(tag).hfModel.includes('/'), tag);
  });

  it('takes autoTrain.hfModel over the table, and needs an architecture for unknown tags', () => {
    assert.equal(resolveBaseModel('qwen2.5-coder:7b', 'me/my-qwen').hfModel, 'me/my-qwen');
    assert.deepEqual(resolveBaseModel('my-model:1b', 'me/my-llama', 'llama'), {
      tag: 'my-model:1b',
      hfModel: 'me/my-llama',
      arch: 'llama',
    });
    assert.throws(
      () => resolveBaseModel('mistral:7b'),
      (e: Error) => {
        assert.ok(e instanceof LearningError);
        assert.match(e.message, /"autoTrain\.hfModel"/);
        assert.match(e.message, /qwen2\.5-coder:7b/);
        return true;
      },
    );
    assert.throws(
      () => resolveBaseModel('phi3:mini', 'microsoft/Phi-3-mini', 'phi3'),
      /architecture of "phi3:mini"/,
    );
  });
});

describe('Ollama client and versions', () => {
  it('reads OLLAMA_HOST forms as the ollama CLI does', () => {
    assert.equal(normaliseHost('127.0.0.1:11434'), 'http://127.0.0.1:11434');
    assert.equal(normaliseHost('http://localhost:8080/'), 'http://localhost:8080');
    assert.equal(normaliseHost('ollama.internal'), 'http://ollama.internal:11434');
    assert.equal(normaliseHost('https://ollama.example.com'), 'https://ollama.example.com');
    assert.equal(normaliseHost('0.0.0.0'), 'http://127.0.0.1:11434');
  });

  it('chooses the adapter path up to 0.34.0 and the merged path from 0.34.1', () => {
    assert.equal(deployMethodFor('0.34.0'), 'adapter');
    assert.equal(deployMethodFor('0.5.12'), 'adapter');
    assert.equal(deployMethodFor('0.34.1'), 'merged');
    assert.equal(deployMethodFor('0.35.0-rc1'), 'merged');
    assert.equal(deployMethodFor('1.0'), 'merged');
    assert.equal(compareVersions('0.34', '0.34.0'), 0);
    assert.equal(compareVersions('v0.10.2', '0.9.9'), 1);
  });

  it('says how to start Ollama when it is not reachable', async () => {
    const client = new OllamaClient('127.0.0.1:9', fetch, 2000);
    await assert.rejects(client.version(), /not reachable at http:\/\/127\.0\.0\.1:9.*ollama serve/s);
  });
});

describe('training and deploy plans', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-plans-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('passes the config to the trainer as an argument list', () => {
    const config = parseConfig({ autoTrain: { loraRank: 8, epochs: 1, learningRate: 0.0001 } });
    const p = adapterPaths(path.join(dir, '.agent'), 'coder');
    const step = trainStep(p, 'Qwen/Qwen2.5-Coder-7B-Instruct', config, tools, dir);
    assert.equal(step.command, 'python3');
    assert.equal(step.args[0], path.join(tools.pythonDir, 'train_lora.py'));
    const flag = (name: string) => step.args[step.args.indexOf(name) + 1];
    assert.equal(flag('--rank'), '8');
    assert.equal(flag('--alpha'), '32');
    assert.equal(flag('--epochs'), '1');
    assert.equal(flag('--learning-rate'), '0.0001');
    assert.equal(flag('--data'), path.join(dir, '.agent', 'sft', 'coder_sft.jsonl'));
    assert.equal(flag('--output'), path.join(dir, '.agent', 'lora', 'coder', 'training'));
    assert.equal(
      adapterPaths(path.join(dir, '.agent'), 'coder', 'large').dataset,
      path.join(dir, '.agent', 'sft', 'coder-large_sft.jsonl'),
    );
  });

  it('writes a launcher that runs the shipped trainer with the same arguments, even with quotes in paths', () => {
    const agentDir = path.join(dir, `it's "odd" \\ dir`, '.agent');
    fs.mkdirSync(agentDir, { recursive: true });
    const p = adapterPaths(agentDir, 'coder');
    // A stand-in train_lora.py that prints the arguments it got.
    const pythonDir = path.join(dir, 'py');
    fs.mkdirSync(pythonDir);
    fs.writeFileSync(
      path.join(pythonDir, 'train_lora.py'),
      'import json, sys\nprint(json.dumps(sys.argv[1:]))\n',
    );
    const config = defaultConfig();
    fs.writeFileSync(
      p.launcher,
      launcherSource(p, 'Qwen/Qwen2.5-Coder-7B-Instruct', config, { ...tools, pythonDir }),
    );
    const out = execFileSync('python3', [p.launcher, '--allow-cpu'], { encoding: 'utf8' });
    const step = trainStep(p, 'Qwen/Qwen2.5-Coder-7B-Instruct', config, { ...tools, pythonDir }, dir);
    assert.deepEqual(JSON.parse(out), [...step.args.slice(1), '--allow-cpu']);
  });

  it('writes Modelfiles for the adapter path and the merged path', () => {
    const config = defaultConfig();
    const agentDir = path.join(dir, '.agent');
    const p = adapterPaths(agentDir, 'coder');
    assert.equal(
      modelfileText(config, p, { method: 'adapter', base: 'qwen2.5-coder:7b', weights: p.gguf }),
      [
        '# Generated by Agent Learning for "coder" (adapter deploy). Rewritten on each deploy and rollback.',
        'FROM qwen2.5-coder:7b',
        'ADAPTER ./lora/coder/adapter.gguf',
        'PARAMETER temperature 0.2',
        'PARAMETER top_p 0.9',
        'PARAMETER top_k 40',
        '',
      ].join('\n'),
    );
    const merged = modelfileText(config, p, {
      method: 'merged',
      base: 'qwen2.5-coder:7b',
      weights: p.merged,
      template: '{{ .Prompt }}',
    });
    assert.match(merged, /^FROM \.\/lora\/coder\/merged\.gguf$/m);
    assert.match(merged, /^TEMPLATE """\{\{ \.Prompt \}\}"""$/m);
    assert.doesNotMatch(merged, /ADAPTER/);
    const hostile = modelfileText(config, p, {
      method: 'merged',
      base: 'x',
      weights: p.merged,
      template: 'a"""\nFROM evil',
    });
    assert.doesNotMatch(hostile, /TEMPLATE|evil/);
    // Both paths give Ollama a finished GGUF file: no --quantize (0.34.1 refuses it for GGUF).
    assert.deepEqual(createStep(config, p, 'ollama', dir, { OLLAMA_HOST: 'h:1' }), {
      id: 'create',
      title: 'ollama create my-coder-tuned-coder',
      command: 'ollama',
      args: ['create', 'my-coder-tuned-coder', '-f', p.modelfile],
      cwd: dir,
      env: { OLLAMA_HOST: 'h:1' },
    });
  });

  it('parses progress lines and follows a growing progress file', () => {
    assert.deepEqual(parseProgressLine('{"step":3,"total":10,"loss":1.5,"eta_s":12}'), {
      step: 3,
      total: 10,
      loss: 1.5,
      etaS: 12,
    });
    assert.equal(parseProgressLine('Loading checkpoint shards'), undefined);
    assert.equal(parseProgressLine('{"step":-1,"total":10}'), undefined);
    const file = path.join(dir, 'progress.jsonl');
    const seen: number[] = [];
    const tail = new ProgressTail(file, (p) => seen.push(p.step), 60_000);
    tail.poll(); // no file yet
    fs.writeFileSync(file, '{"step":1,"total":3,"loss":2,"eta_s":5}\n{"step":2,"to');
    tail.poll();
    fs.appendFileSync(file, 'tal":3,"loss":1.5,"eta_s":2}\n');
    tail.dispose();
    assert.deepEqual(seen, [1, 2]);
  });

  it('keeps last-train tracking in .agent/last-train-{role}.txt', () => {
    const file = path.join(dir, 'last-train-coder.txt');
    assert.equal(readLastTrain(file), undefined);
    writeLastTrain(file, { at: '2026-11-25T10:00:00.000Z', examples: 505, watermarkPk: 1234 });
    assert.equal(fs.readFileSync(file, 'utf8'), '2026-11-25T10:00:00.000Z\n505 examples\nwatermark 1234\n');
    assert.deepEqual(readLastTrain(file), {
      at: '2026-11-25T10:00:00.000Z',
      examples: 505,
      watermarkPk: 1234,
    });
  });
});
