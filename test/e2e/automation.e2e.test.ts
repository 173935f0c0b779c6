// End-to-end: Export → Train → Convert → Deploy → Drift → Roll Back from the palette of a real VS Code, each step a
// Task in the integrated terminal. Where this machine has them (npm test makes both before this suite), the trainer
// is the real train_lora.py on the CPU, in the tests' Python environment, with a tiny random base model made on the
// spot, and Ollama is the real 0.34.0 built from its Go module; elsewhere the stand-ins of test/standins take their
// place, and the suite's name says so. Everything between them is the shipped extension.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PYTHON_STANDIN, OLLAMA_STANDIN, startOllama } from '../support/ollamaStandin';
import { findOllamaBinary, REAL_OLLAMA_VERSIONS, startRealOllama } from '../support/realOllama';
import { makeTinyBase, TINY_BASE_TAG, VENV_PYTHON } from '../support/tinyBase';
import { useVsCode } from './fixtures';
import { goodRun, badRun, type Plan, type PlannedRun } from './scenarios';
import { waitForFile } from './wait';

/** A good run whose text the tiny base's tokenizer knows, so twelve of them are enough for it to learn. */
function learnableRun(n: number): PlannedRun {
  const [verb, name, op] = n % 2 ? ['adds', 'add', '+'] : ['subtracts', 'sub', '-'];
  const run = goodRun(n);
  return {
    ...run,
    result: {
      ...run.result,
      input: `Write a function that ${verb} two numbers. (${n})`,
      output: `def ${name}(a, b):\n    return a ${op} b\n# ${n}\n`,
    },
  };
}

/** The trainer and the Ollama the suite deploys to: the real ones where this machine has them. */
interface Peers {
  /** Says which, for the suite's name. */
  label: string;
  /** Ollama's address as `host:port`. */
  host: string;
  settings: Record<string, unknown>;
  /** What learning-config.json adds for them. */
  config: Record<string, unknown>;
  /** How long a training may take. */
  trainMs: number;
  /** The `ollama` CLI calls the server saw (the stand-in logs them; the real one does not). */
  createCalls(): string[][] | undefined;
  stop(): Promise<void>;
}

const ADAPTER_VERSION = REAL_OLLAMA_VERSIONS.adapter;
const REAL = fs.existsSync(VENV_PYTHON) && findOllamaBinary(ADAPTER_VERSION) !== undefined;

async function startRealPeers(): Promise<Peers> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-e2e-base-'));
  const base = makeTinyBase(dir);
  const ollama = await startRealOllama(ADAPTER_VERSION, {
    pulled: [{ name: TINY_BASE_TAG, gguf: base.gguf, arch: 'qwen2' }],
  });
  // VS Code's tasks inherit code-server's environment: the trainer loads the base from this cache, offline.
  Object.assign(process.env, { HF_HUB_CACHE: base.hubCache, HF_HUB_OFFLINE: '1' });
  return {
    label: `real train_lora.py on the CPU and real Ollama ${ADAPTER_VERSION}`,
    host: ollama.host,
    settings: {
      'agentLearning.pythonPath': VENV_PYTHON,
      'agentLearning.ollamaPath': ollama.command,
      'agentLearning.ollamaHost': ollama.url,
    },
    config: { baseModel: TINY_BASE_TAG, epochs: 4, learningRate: 0.003, allowCpu: true },
    trainMs: 300_000,
    createCalls: () => undefined,
    stop: async () => {
      delete process.env.HF_HUB_CACHE;
      delete process.env.HF_HUB_OFFLINE;
      await ollama.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startStandinPeers(): Promise<Peers> {
  const ollama = await startOllama(ADAPTER_VERSION);
  // VS Code's tasks inherit code-server's environment: this is how the stand-in CLI finds its server's state.
  Object.assign(process.env, { FAKE_OLLAMA_DIR: ollama.dir, FAKE_OLLAMA_VERSION: ADAPTER_VERSION });
  await fetch(`http://${ollama.host}/api/pull`, {
    method: 'POST',
    body: JSON.stringify({ model: 'qwen2.5-coder:7b', stream: false }),
  });
  return {
    label: 'stand-in trainer and Ollama: this machine has no .venv or Ollama build',
    host: ollama.host,
    settings: {
      'agentLearning.pythonPath': PYTHON_STANDIN,
      'agentLearning.ollamaPath': OLLAMA_STANDIN,
      'agentLearning.ollamaHost': `http://${ollama.host}`,
    },
    config: { epochs: 1 },
    trainMs: 60_000,
    createCalls: () =>
      ollama.calls().flatMap((c) => (c.argv?.[0] === 'create' && c.exitCode === 0 ? [c.argv] : [])),
    stop: async () => {
      delete process.env.FAKE_OLLAMA_DIR;
      delete process.env.FAKE_OLLAMA_VERSION;
      await ollama.stop();
    },
  };
}

const TWELVE_GOOD: Plan = {
  role: 'coder',
  complexity: 'medium',
  record: Array.from({ length: 12 }, (_, i) => learnableRun(i + 1)),
};

describe(`Train and deploy from the palette in a real VS Code (${REAL ? `real train_lora.py on the CPU and real Ollama ${ADAPTER_VERSION}` : 'stand-in trainer and Ollama: this machine has no .venv or Ollama build'})`, function () {
  let peers: Peers;
  const workspaceSettings: Record<string, unknown> = {};
  const autoTrain: Record<string, unknown> = {};

  // Registered before useVsCode's hook, so the server runs (and the settings point at it) before the workspace is made.
  before(async function () {
    this.timeout(300_000);
    peers = REAL ? await startRealPeers() : await startStandinPeers();
    Object.assign(workspaceSettings, peers.settings);
    Object.assign(autoTrain, peers.config);
  });
  after(async () => {
    await peers?.stop();
  });

  const vscode = useVsCode('train-deploy', {
    plan: TWELVE_GOOD,
    seed: (ws) => {
      // Machine-scoped settings: in a remote window (code-server is one) VS Code reads them from the workspace.
      fs.mkdirSync(path.join(ws.dir, '.vscode'), { recursive: true });
      fs.writeFileSync(path.join(ws.dir, '.vscode', 'settings.json'), JSON.stringify(workspaceSettings));
      fs.mkdirSync(ws.agentDir, { recursive: true });
      fs.writeFileSync(
        ws.agentFile('learning-config.json'),
        JSON.stringify({
          autoExport: { minRuns: 1000 },
          autoTrain: { enabled: false, ...autoTrain },
          driftDetection: { evaluationRuns: 10, method: 'threshold' },
        }),
      );
    },
  });

  it('trains in a terminal task, then deploys with ollama create and adds the model to the router', async function () {
    const { session, workspace } = vscode;
    const seen = await workspace.waitForResult('', { detail: vscode.detail });
    assert.equal(seen.runs.length, 12);

    await session.runCommand('Agent Learning: Train LoRA Adapter');
    this.timeout(peers.trainMs + 180_000);
    await waitForFile(workspace.agentFile('last-train-coder.txt'), {
      detail: vscode.detail,
      timeoutMs: peers.trainMs,
    });
    assert.ok(fs.existsSync(workspace.agentFile('lora', 'coder', 'trained', 'adapter_model.safetensors')));
    assert.ok(fs.existsSync(workspace.agentFile('train_coder.py')));
    await session.waitForNotification(/trained the coder adapter/i);
    await session.screenshot('trained');

    await session.runCommand('Agent Learning: Deploy to Ollama');
    const modelfile = await waitForFile(workspace.agentFile('Modelfile.coder'), { detail: vscode.detail });
    assert.match(modelfile, /^ADAPTER \.\/lora\/coder\/adapter\.gguf$/m);
    await session.waitForNotification(/deployed my-coder-tuned-coder/i, { timeoutMs: 60_000 });
    const creates = peers.createCalls();
    if (creates)
      assert.deepEqual(creates, [
        ['create', 'my-coder-tuned-coder', '-f', workspace.agentFile('Modelfile.coder')],
      ]);
    const tags = (await (await fetch(`http://${peers.host}/api/tags`)).json()) as {
      models: { name: string }[];
    };
    assert.ok(tags.models.some((m) => m.name.startsWith('my-coder-tuned-coder')));
    const variants = JSON.parse(fs.readFileSync(workspace.agentFile('model_variants.json'), 'utf8')) as {
      variants: { id: string }[];
    };
    assert.ok(variants.variants.some((v) => v.id === 'my-coder-tuned-coder'));
    await session.screenshot('deployed');
  });

  it('rolls the deployment back when the tuned model does worse, and says so on the timeline', async function () {
    const { workspace } = vscode;
    workspace.writePlan(
      {
        role: 'coder',
        complexity: 'medium',
        record: Array.from({ length: 10 }, (_, i) => ({
          ...badRun(100 + i),
          modelId: 'my-coder-tuned-coder',
        })),
      },
      '2',
    );
    await workspace.waitForResult('2', { detail: vscode.detail });
    await vscode.session.waitForNotification(/my-coder-tuned-coder did worse than the model it replaced/i);
    const variants = JSON.parse(fs.readFileSync(workspace.agentFile('model_variants.json'), 'utf8')) as {
      variants: { id: string }[];
    };
    assert.ok(
      !variants.variants.some((v) => v.id === 'my-coder-tuned-coder'),
      'still routed to the drifting model',
    );
    await vscode.session.screenshot('rolled-back');
    assert.ok(!fs.existsSync(path.join(workspace.agentDir, 'lora', 'coder', 'adapter.backup.gguf')));
  });
});
