// The whole second half of the loop for real, on the CPU: runs recorded by the pipeline (real sql.js), its SFT
// export, the real train_lora.py (torch, transformers, PEFT from python/requirements.lock, in the environment
// test/python/setup.sh makes), the real merge_lora.py, our convert-model, and `ollama create` on a real Ollama
// built from its Go module (test/ollama/setup.sh), then Roll Back. The base is a tiny random Qwen2 made on the spot
// by python/tests/tiny_models.py and put in a Hugging Face cache folder under the tag's repository id, as a
// download would leave it: training and merging then load it offline, with no network. What the Ollama builds here
// cannot do is load a model (see test/ollama/setup.sh), so nothing is generated from it.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Automation } from '../../src/core/automation/automation';
import { ChildProcessRunner } from '../../src/core/automation/steps';
import type { Tools } from '../../src/core/automation/training';
import { adapterPaths } from '../../src/core/workspace/agentDir';
import { LearningPipeline, automationPort } from '../../src/core/pipeline';
import { REAL_OLLAMA_VERSIONS, startRealOllama, type RealOllama } from '../support/realOllama';
import { makeTinyBase, TINY_BASE_REPO, TINY_BASE_TAG, VENV_PYTHON } from '../support/tinyBase';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../support/workspace';

const ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'main.ts');
const PYTHON = VENV_PYTHON;
const BASE_TAG = TINY_BASE_TAG;
const BASE_REPO = TINY_BASE_REPO;
const MODEL = 'my-coder-tuned-coder';

const CONFIG = {
  autoExport: { minRuns: 10, minReward: 0.7 },
  autoTrain: {
    enabled: false,
    baseModel: BASE_TAG,
    minExamples: 10,
    epochs: 4,
    learningRate: 0.003,
    allowCpu: true,
  },
  autoDeploy: { enabled: false, method: 'merged', quantize: 'f16' },
};

describe('The real loop: export, train_lora.py, merge_lora.py, convert-model, a real Ollama, Roll Back', function () {
  this.timeout(600_000);
  let dir: string;
  let hubCache: string;
  let baseGguf: string;
  let ws: string;
  let pipeline: LearningPipeline | undefined;
  let ollama: RealOllama | undefined;
  const saved = { HF_HUB_CACHE: process.env.HF_HUB_CACHE, HF_HUB_OFFLINE: process.env.HF_HUB_OFFLINE };
  const logs: string[] = [];

  before(() => {
    assert.ok(fs.existsSync(PYTHON), `no ${PYTHON}: run "bash test/python/setup.sh" (npm test does)`);
    dir = makeWorkspace();
    const base = makeTinyBase(dir);
    hubCache = base.hubCache;
    baseGguf = base.gguf;
    // Training and merging run in child processes, which inherit this: the cache, and no network at all.
    process.env.HF_HUB_CACHE = hubCache;
    process.env.HF_HUB_OFFLINE = '1';
  });

  after(async () => {
    await pipeline?.close();
    await ollama?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (ws) removeWorkspace(ws);
    if (dir) removeWorkspace(dir);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      process.stderr.write(`--- log ---\n${logs.slice(-80).join('\n')}\n`);
      if (ollama) process.stderr.write(`--- Ollama log ---\n${ollama.log().slice(-3000)}\n`);
    }
  });

  it(`learns from recorded runs and deploys the merged model to Ollama ${REAL_OLLAMA_VERSIONS.newest}, then rolls back`, async () => {
    ollama = await startRealOllama(REAL_OLLAMA_VERSIONS.newest, {
      pulled: [{ name: BASE_TAG, gguf: baseGguf, arch: 'qwen2' }],
    });
    ws = makeWorkspace();
    writeAgentFile(ws, 'learning-config.json', CONFIG);
    pipeline = await LearningPipeline.open(ws, { log: (l) => logs.push(l), pollIntervalMs: 0 });
    const tools: Tools = {
      python: PYTHON,
      pythonDir: path.join(ROOT, 'python'),
      node: TSX,
      cli: CLI,
      ollama: ollama.command,
    };
    const automation = new Automation(automationPort(pipeline), {
      runner: new ChildProcessRunner((l) => logs.push(l)),
      tools,
      ollamaHost: ollama.host,
      log: (l) => logs.push(l),
    });
    const tasks = [
      ['adds', 'add', '+'],
      ['subtracts', 'sub', '-'],
    ];
    for (let i = 0; i < 24; i++) {
      const [verb, name, op] = tasks[i % 2]!;
      await pipeline.recordRun(`task-${i}`, BASE_TAG, 'default', {
        input: `Write a function that ${verb} two numbers. (${i})`,
        output: `def ${name}(a, b):\n    return a ${op} b\n# ${i}\n`,
        compile: true,
        tests: { passed: 4, total: 4 },
      });
    }
    const p = adapterPaths(pipeline.agentDir, 'coder');

    const trained = await automation.train('coder');
    const evaluation = JSON.parse(fs.readFileSync(path.join(p.trained, 'eval.json'), 'utf8'));
    assert.equal(evaluation.backend, 'peft');
    assert.equal(evaluation.base_model, BASE_REPO);
    assert.ok(evaluation.eval_loss_after < evaluation.eval_loss_before, JSON.stringify(evaluation));
    assert.equal(evaluation.gate.passed, true, evaluation.gate.reason);
    assert.ok(trained, 'train() reports the training');
    // The training folder became the trained one, progress lines included.
    const progress = fs
      .readFileSync(path.join(p.trained, path.basename(p.progress)), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(progress.at(-1).step, progress.at(-1).total);
    assert.ok(progress.every((l) => l.tokens_per_s > 0 && typeof l.lr === 'number'));

    const deployed = await automation.deploy('coder');
    assert.equal(deployed.method, 'merged');
    const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const show = async (model: string) =>
      (await (
        await fetch(`${ollama!.url}/api/show`, { method: 'POST', body: JSON.stringify({ model }) })
      ).json()) as {
        modelfile: string;
        model_info: Record<string, unknown>;
      };
    const tags = async () =>
      (
        (await (await fetch(`${ollama!.url}/api/tags`)).json()) as {
          models: { name: string; digest: string }[];
        }
      ).models;
    const first = await show(MODEL);
    assert.equal(first.model_info['general.architecture'], 'qwen2');
    assert.match(first.modelfile, new RegExp(`^FROM .*sha256-${sha256(p.merged)}$`, 'm'));
    const firstDigest = (await tags()).find((m) => m.name === `${MODEL}:latest`)?.digest;
    assert.equal(
      automationPort(pipeline).lastEvent('deploy', 'coder')!.data!.baseDigest,
      (await tags()).find((m) => m.name === BASE_TAG)?.digest,
    );

    // A second round (one epoch more: another adapter, so another merged model), then Roll Back to the first.
    writeAgentFile(ws, 'learning-config.json', { ...CONFIG, autoTrain: { ...CONFIG.autoTrain, epochs: 5 } });
    pipeline.reloadConfig();
    await automation.train('coder');
    await automation.deploy('coder');
    assert.notEqual((await tags()).find((m) => m.name === `${MODEL}:latest`)?.digest, firstDigest);
    assert.equal((await automation.rollback('coder')).action, 'restored');
    assert.equal((await tags()).find((m) => m.name === `${MODEL}:latest`)?.digest, firstDigest);
  });
});
