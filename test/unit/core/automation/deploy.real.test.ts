// Deploying to real Ollama servers, built from Ollama's Go module by test/ollama/setup.sh (which `npm test` runs
// first): the ADAPTER path on 0.34.0 and the merged path on the newest release the Go module proxy serves. The
// trainer and merger are the Python stand-ins (no torch here); converting is our CLI, creating is the real
// `ollama create`. What these builds cannot do: load a model, so no /api/generate (from 0.34.0 every GGUF model runs
// in a separate llama-server that Ollama's CMake build fetches from llama.cpp's repository), and on 0.34.0 import a
// GGUF file (its create validates one with llama-quantize, from the same build). So the base model is put in the
// store as a pull leaves it.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Automation, StepFailedError } from '../../../../src/core/automation/automation';
import { ChildProcessRunner } from '../../../../src/core/automation/steps';
import type { Tools } from '../../../../src/core/automation/training';
import { adapterPaths } from '../../../../src/core/workspace/agentDir';
import { LearningPipeline, automationPort } from '../../../../src/core/pipeline';
import { hfTensors, writeModel, type Shape } from '../../../support/hfModel';
import { PYTHON_STANDIN } from '../../../support/ollamaStandin';
import {
  findOllamaBinary,
  ollamaBinaryPath,
  REAL_OLLAMA_VERSIONS,
  startRealOllama,
  type RealOllama,
} from '../../../support/realOllama';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'main.ts');

/** The stand-in trainer's model (test/standins/fake_python.py), so that its adapters fit this base. */
const BASE_SHAPE: Shape = { layers: 2, hidden: 64, intermediate: 160, heads: 4, kvHeads: 2, vocab: 40 };
/** Under the tag the base table knows, a tiny model (as a pull would leave the real one). */
const BASE = 'qwen2.5-coder:7b';
const MODEL = 'my-coder-tuned-coder';

const CONFIG = {
  autoExport: { minRuns: 10, minReward: 0.7 },
  autoTrain: {
    enabled: false,
    baseModel: BASE,
    minExamples: 10,
    epochs: 1,
    batchSize: 2,
    loraRank: 4,
  },
  autoDeploy: { enabled: false },
};

interface Shown {
  modelfile: string;
  details: { family: string; parent_model: string };
  model_info: Record<string, unknown>;
}

describe('Automation against a real Ollama (built from its Go module)', function () {
  this.timeout(180_000);
  let dir: string;
  let baseGguf: string;
  let ws: string | undefined;
  let pipeline: LearningPipeline | undefined;
  let ollama: RealOllama | undefined;
  let logs: string[];

  before(() => {
    for (const version of Object.values(REAL_OLLAMA_VERSIONS))
      assert.ok(
        findOllamaBinary(version),
        `Ollama ${version} is not built at ${ollamaBinaryPath(version)}: run "bash test/ollama/setup.sh" ` +
          '(npm test does: it builds what is missing, once)',
      );
    // The base model, converted by our own CLI from a tiny Hugging Face folder.
    dir = makeWorkspace();
    writeModel(path.join(dir, 'base-hf'), 'qwen2', BASE_SHAPE, hfTensors('qwen2', BASE_SHAPE, 'F32', true));
    baseGguf = path.join(dir, 'base.gguf');
    execFileSync(TSX, [
      CLI,
      'convert-model',
      path.join(dir, 'base-hf'),
      '--out',
      baseGguf,
      '--outtype',
      'f16',
    ]);
  });
  after(() => dir && removeWorkspace(dir));

  afterEach(async function () {
    await pipeline?.close();
    pipeline = undefined;
    if (ollama && this.currentTest?.state === 'failed') {
      // The server's side of a failure: what it logged.
      process.stderr.write(`--- Ollama ${ollama.version} log ---\n${ollama.log().slice(-4000)}\n`);
    }
    await ollama?.stop();
    ollama = undefined;
    if (ws) removeWorkspace(ws);
    ws = undefined;
  });

  async function setUp(
    version: string,
    opts: { config?: object; pulled?: string[] } = {},
  ): Promise<{ automation: Automation; agentDir: string }> {
    ollama = await startRealOllama(version, {
      pulled: (opts.pulled ?? [BASE]).map((name) => ({ name, gguf: baseGguf, arch: 'qwen2' })),
    });
    ws = makeWorkspace();
    writeAgentFile(ws, 'learning-config.json', opts.config ?? CONFIG);
    logs = [];
    pipeline = await LearningPipeline.open(ws, { log: (l) => logs.push(l), pollIntervalMs: 0 });
    const tools: Tools = {
      python: PYTHON_STANDIN,
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
    for (let i = 0; i < 12; i++) {
      await pipeline.recordRun(`task-${i}`, BASE, 'default', {
        input: `Write function number ${i}`,
        output: `def f${i}():\n    return ${i}\n`,
        compile: true,
        tests: { passed: 4, total: 4 },
      });
    }
    return { automation, agentDir: pipeline.agentDir };
  }

  async function api<T>(route: string, body?: object): Promise<{ status: number; json: T }> {
    const res = await fetch(`${ollama!.url}${route}`, {
      method: body ? 'POST' : 'GET',
      ...(body && { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as T };
  }
  const show = async (model: string) => (await api<Shown>('/api/show', { model })).json;
  const tags = async () =>
    (await api<{ models: { name: string; digest: string }[] }>('/api/tags')).json.models;
  const digestOf = async (name: string) => (await tags()).find((m) => m.name === name)?.digest;
  const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  /** The adapter and weights blobs a model's Modelfile names (`ADAPTER …/blobs/sha256-<hex>`). */
  const adapterBlob = (shown: Shown) => /^ADAPTER .*sha256-([0-9a-f]{64})$/m.exec(shown.modelfile)?.[1];
  const modelBlob = (shown: Shown) => /^FROM .*sha256-([0-9a-f]{64})$/m.exec(shown.modelfile)?.[1];

  /**
   * Another adapter for the next training (the stand-in trainer's tensors follow the rank) and another merged GGUF
   * (the stand-in merger's weights do not follow the adapter; the GGUF type does).
   */
  function reconfigure(rank: number, quantize = 'q8_0'): void {
    writeAgentFile(ws!, 'learning-config.json', {
      ...CONFIG,
      autoTrain: { ...CONFIG.autoTrain, loraRank: rank },
      autoDeploy: { ...CONFIG.autoDeploy, quantize },
    });
    pipeline!.reloadConfig();
  }

  it(`deploys with ADAPTER on Ollama ${REAL_OLLAMA_VERSIONS.adapter}, and Roll Back re-creates the previous model there`, async () => {
    const { automation, agentDir } = await setUp(REAL_OLLAMA_VERSIONS.adapter);
    const p = adapterPaths(agentDir, 'coder');
    await automation.train('coder');
    const deployed = await automation.deploy('coder');
    assert.deepEqual(deployed, {
      key: 'coder',
      model: MODEL,
      method: 'adapter',
      ollamaVersion: REAL_OLLAMA_VERSIONS.adapter,
    });

    const shown = await show(MODEL);
    assert.equal(shown.model_info['general.architecture'], 'qwen2');
    assert.equal(shown.details.parent_model, BASE);
    assert.equal(adapterBlob(shown), sha256(p.gguf), 'Ollama serves the adapter our converter wrote');
    const first = { adapter: sha256(p.gguf), digest: await digestOf(`${MODEL}:latest`) };
    assert.match(first.digest!, /^[0-9a-f]{64}$/);
    const event = automationPort(pipeline!).lastEvent('deploy', 'coder')!;
    assert.equal(event.data!.baseDigest, await digestOf(BASE), 'the deploy records the base it was built on');
    assert.equal(event.data!.ollamaVersion, REAL_OLLAMA_VERSIONS.adapter);
    assert.ok(
      logs.every((l) => !l.includes('\x1B')),
      'the ollama CLI draws progress with terminal escapes; the log shows text only',
    );
    assert.ok(logs.includes('   success'), logs.join('\n'));

    reconfigure(8);
    await automation.train('coder');
    await automation.deploy('coder');
    const second = sha256(p.gguf);
    assert.notEqual(second, first.adapter);
    assert.equal(adapterBlob(await show(MODEL)), second);
    assert.equal(
      automationPort(pipeline!).lastEvent('deploy', 'coder')!.data!.backupBaseDigest,
      await digestOf(BASE),
    );

    assert.equal((await automation.rollback('coder')).action, 'restored');
    assert.equal(adapterBlob(await show(MODEL)), first.adapter, 'the previous adapter is live again');
    assert.equal(await digestOf(`${MODEL}:latest`), first.digest, 'the very model of the first deploy');
    assert.deepEqual((await tags()).map((m) => m.name).sort(), [`${MODEL}:latest`, BASE].sort());
  });

  it(`deploys a merged model on Ollama ${REAL_OLLAMA_VERSIONS.newest}, which refuses ADAPTER, without the base's Jinja template as TEMPLATE, and rolls back`, async () => {
    const { automation, agentDir } = await setUp(REAL_OLLAMA_VERSIONS.newest);
    const p = adapterPaths(agentDir, 'coder');
    await automation.train('coder');
    // Before: /api/show's template (the GGUF's Jinja chat template from 0.34 on) went into TEMPLATE, and the real
    // create refused it: "template error: template: :1: bad character U+005B '['".
    const deployed = await automation.deploy('coder');
    assert.equal(deployed.method, 'merged');
    assert.equal(deployed.ollamaVersion, REAL_OLLAMA_VERSIONS.newest);
    assert.doesNotMatch(fs.readFileSync(p.modelfile, 'utf8'), /ADAPTER|TEMPLATE/);

    const shown = await show(MODEL);
    assert.equal(shown.model_info['general.architecture'], 'qwen2');
    assert.equal(modelBlob(shown), sha256(p.merged), 'Ollama serves the GGUF our convert-model wrote');
    assert.doesNotMatch(shown.modelfile, /^ADAPTER/m);
    const first = { weights: sha256(p.merged), digest: await digestOf(`${MODEL}:latest`) };
    assert.equal(
      automationPort(pipeline!).lastEvent('deploy', 'coder')!.data!.baseDigest,
      await digestOf(BASE),
    );
    assert.ok(!fs.existsSync(p.mergedHf), 'the merged Hugging Face copy is gone once converted');

    reconfigure(8, 'f16');
    await automation.train('coder');
    await automation.deploy('coder');
    assert.notEqual(sha256(p.merged), first.weights);
    assert.equal(modelBlob(await show(MODEL)), sha256(p.merged));

    assert.equal((await automation.rollback('coder')).action, 'restored');
    assert.equal(modelBlob(await show(MODEL)), first.weights, 'the previous merged model is live again');
    assert.equal(await digestOf(`${MODEL}:latest`), first.digest);
  });

  it(`names the create step when the ollama CLI (${REAL_OLLAMA_VERSIONS.newest}) refuses ADAPTER that the server (${REAL_OLLAMA_VERSIONS.adapter}) takes, keeping the live model`, async () => {
    const { automation, agentDir } = await setUp(REAL_OLLAMA_VERSIONS.adapter);
    const p = adapterPaths(agentDir, 'coder');
    await automation.train('coder');
    await automation.deploy('coder');
    const live = { adapter: fs.readFileSync(p.gguf), digest: await digestOf(`${MODEL}:latest`) };
    const modelfile = fs.readFileSync(p.modelfile, 'utf8');

    // The same workspace, now with a newer ollama CLI than the server it talks to.
    const newer = withCli(ollama!.commandWith(findOllamaBinary(REAL_OLLAMA_VERSIONS.newest)!));
    reconfigure(8);
    await automation.train('coder');
    await assert.rejects(newer.deploy('coder'), (err: Error) => {
      assert.ok(err instanceof StepFailedError);
      assert.equal(err.step, `ollama create ${MODEL}`);
      assert.match(err.message, /LoRA adapters are no longer supported/);
      assert.match(err.message, /previous model and its files are as they were/);
      return true;
    });
    assert.deepEqual(fs.readFileSync(p.gguf), live.adapter);
    assert.equal(fs.readFileSync(p.modelfile, 'utf8'), modelfile);
    assert.equal(await digestOf(`${MODEL}:latest`), live.digest);
  });

  /** Another Automation on the same pipeline, whose `ollama` CLI is `cli` and whose server is at `host`. */
  function withCli(cli: string, host = ollama!.host): Automation {
    return new Automation(automationPort(pipeline!), {
      runner: new ChildProcessRunner((l) => logs.push(l)),
      tools: {
        python: PYTHON_STANDIN,
        pythonDir: path.join(ROOT, 'python'),
        node: TSX,
        cli: CLI,
        ollama: cli,
      },
      ollamaHost: host,
      log: (l) => logs.push(l),
    });
  }

  it('names the step and says to start Ollama when it is not running, changing nothing', async () => {
    const { automation, agentDir } = await setUp(REAL_OLLAMA_VERSIONS.adapter);
    await automation.train('coder');
    await ollama!.stop();
    await assert.rejects(automation.deploy('coder'), (err: Error) => {
      assert.ok(err instanceof StepFailedError);
      assert.equal(err.step, 'Deploy');
      assert.match(
        err.message,
        /^Deploy failed: Ollama is not reachable at http:\/\/127\.0\.0\.1:\d+ .*"ollama serve"/s,
      );
      return true;
    });
    assert.ok(!fs.existsSync(adapterPaths(agentDir, 'coder').modelfile));
  });

  it('says another program holds the port when what answers there is not Ollama', async () => {
    const squatter = http.createServer((_, res) => res.writeHead(404).end('404 page not found'));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as AddressInfo).port;
    try {
      // The real server refuses the taken port…
      const binary = findOllamaBinary(REAL_OLLAMA_VERSIONS.adapter)!;
      const refused = spawnServe(binary, `127.0.0.1:${port}`);
      assert.match(await refused, /address already in use/);
      // …and a deploy pointed there says what it found.
      const { automation, agentDir } = await setUp(REAL_OLLAMA_VERSIONS.adapter);
      await automation.train('coder');
      const pointed = withCli(ollama!.command, `127.0.0.1:${port}`);
      await assert.rejects(pointed.deploy('coder'), (err: Error) => {
        assert.ok(err instanceof StepFailedError);
        assert.equal(err.step, 'Deploy');
        assert.match(
          err.message,
          /answered GET \/api\/version with 404 .*not Ollama.*another program using that port/s,
        );
        assert.match(err.message, /"agentLearning\.ollamaHost"/);
        return true;
      });
      assert.ok(!fs.existsSync(adapterPaths(agentDir, 'coder').modelfile));
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  /** `ollama serve` on a given address, to its exit: what it wrote. */
  function spawnServe(binary: string, host: string): Promise<string> {
    return new Promise((resolve) => {
      const home = path.join(dir, 'serve-home');
      fs.mkdirSync(home, { recursive: true });
      const child = spawn(binary, ['serve'], {
        env: {
          ...process.env,
          HOME: home,
          OLLAMA_HOST: host,
          OLLAMA_MODELS: path.join(home, 'models'),
          OLLAMA_NO_CLOUD: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      child.on('close', () => resolve(out));
    });
  }
});
