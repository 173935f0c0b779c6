import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Automation,
  StepFailedError,
  type AutomationOptions,
} from '../../../../src/core/automation/automation';
import { LearningPipeline, automationPort } from '../../../../src/core/pipeline';
import { DeployGateError } from '../../../../src/core/errors';
import { ChildProcessRunner } from '../../../../src/core/automation/steps';
import type { Tools } from '../../../../src/core/automation/training';
import { adapterPaths } from '../../../../src/core/workspace/agentDir';
import {
  OLLAMA_STANDIN,
  PYTHON_STANDIN,
  startOllama,
  type OllamaStandin,
} from '../../../support/ollamaStandin';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** The stand-ins for Python (with torch) and Ollama; conversion runs our CLI from source through tsx. */
const tools: Tools = {
  python: PYTHON_STANDIN,
  pythonDir: path.join(ROOT, 'python'),
  node: path.join(ROOT, 'node_modules', '.bin', 'tsx'),
  cli: path.join(ROOT, 'src', 'cli', 'main.ts'),
  ollama: OLLAMA_STANDIN,
};

const CONFIG = {
  autoExport: { minRuns: 10, minReward: 0.7 },
  autoTrain: { minExamples: 10, retrainMinNewExamples: 10, epochs: 1, batchSize: 2 },
  driftDetection: { evaluationRuns: 10, method: 'threshold' },
};
/** For tests that train by hand while attached: no auto-training racing them. */
const MANUAL = { ...CONFIG, autoTrain: { ...CONFIG.autoTrain, enabled: false } };

describe('Automation: train → convert/merge → deploy → drift → rollback (stand-in trainer and Ollama)', function () {
  this.timeout(60_000);
  let ws: string;
  let pipeline: LearningPipeline;
  let ollama: OllamaStandin;
  let logs: string[];
  let savedEnv: NodeJS.ProcessEnv;

  async function setUp(
    version: string,
    config: object = CONFIG,
    options: Partial<AutomationOptions> = {},
  ): Promise<Automation> {
    ws = makeWorkspace();
    writeAgentFile(ws, 'learning-config.json', config);
    ollama = await startOllama(version);
    savedEnv = { ...process.env };
    // The `ollama` CLI child processes find the stand-in server and its state through these.
    Object.assign(process.env, ollama.env);
    logs = [];
    pipeline = await LearningPipeline.open(ws, { log: (l) => logs.push(l), pollIntervalMs: 0 });
    const automation = new Automation(automationPort(pipeline), {
      runner: new ChildProcessRunner((l) => logs.push(l)),
      tools,
      ollamaHost: ollama.host,
      log: (l) => logs.push(l),
      ...options,
    });
    return automation;
  }

  afterEach(async () => {
    await pipeline?.close();
    await ollama?.stop();
    if (savedEnv) process.env = savedEnv;
    delete process.env.AGENT_LEARNING_STANDIN_EVAL;
    delete process.env.AGENT_LEARNING_STANDIN_FAIL;
    if (ws) removeWorkspace(ws);
  });

  async function record(
    n: number,
    model: string,
    reward: 'good' | 'bad',
    from = 0,
    complexity: 'small' | 'medium' | 'large' = 'medium',
  ): Promise<void> {
    for (let i = from; i < from + n; i++) {
      await pipeline.recordRun(`task-${i}`, model, 'default', {
        input: `Write function number ${i}`,
        output: `def f${i}():\n    return ${i}\n`,
        compile: reward === 'good',
        tests: { passed: reward === 'good' ? 4 : 0, total: 4 },
        complexity,
      });
    }
  }

  async function pull(name: string): Promise<void> {
    const res = await fetch(`http://${ollama.host}/api/pull`, {
      method: 'POST',
      body: JSON.stringify({ model: name, stream: false }),
    });
    assert.equal(res.status, 200);
  }

  const creates = () => ollama.calls().filter((c) => c.argv?.[0] === 'create');

  it('deploys with ADAPTER on Ollama 0.34.0: backup, Modelfile, ollama create, router variant, event', async () => {
    const automation = await setUp('0.34.0');
    await pull('qwen2.5-coder:7b');
    await record(12, 'qwen2.5-coder:7b', 'good');
    const p = adapterPaths(pipeline.agentDir, 'coder');

    const trained = await automation.train('coder');
    assert.ok(trained.eval?.improved);
    assert.ok(fs.existsSync(path.join(p.trained, 'adapter_model.safetensors')));
    assert.ok(!fs.existsSync(p.training), 'the staging folder became trained/');
    assert.match(fs.readFileSync(p.launcher, 'utf8'), /runpy\.run_path\(SCRIPT/);
    assert.match(fs.readFileSync(p.lastTrain, 'utf8'), /^\d{4}-.*\n\d+ examples\nwatermark 12\n$/);
    assert.ok(logs.includes('🚀 Training LoRA adapter for coder...'));
    assert.ok(logs.some((l) => l.startsWith('✅ LoRA training complete for coder')));

    const deployed = await automation.deploy('coder');
    assert.deepEqual(deployed, {
      key: 'coder',
      model: 'my-coder-tuned-coder',
      method: 'adapter',
      ollamaVersion: '0.34.0',
    });
    const modelfile = fs.readFileSync(p.modelfile, 'utf8');
    assert.match(modelfile, /^FROM qwen2\.5-coder:7b$/m);
    assert.match(modelfile, /^ADAPTER \.\/lora\/coder\/adapter\.gguf$/m);
    assert.match(modelfile, /^PARAMETER temperature 0\.2$/m);
    assert.equal(fs.readFileSync(p.gguf).subarray(0, 4).toString(), 'GGUF');
    assert.ok(!fs.existsSync(p.ggufBackup), 'nothing to back up on a first deploy');
    const [create] = creates();
    assert.deepEqual(create!.argv, ['create', 'my-coder-tuned-coder', '-f', p.modelfile]);
    assert.equal(create!.exitCode, 0);
    for (const line of [
      '🚀 Deploying to Ollama: my-coder-tuned-coder',
      '   Run with: ollama run my-coder-tuned-coder',
      '✅ Model deployed: my-coder-tuned-coder',
      '✅ Added my-coder-tuned-coder to model variants',
    ])
      assert.ok(logs.includes(line), line);
    const variants = JSON.parse(fs.readFileSync(path.join(pipeline.agentDir, 'model_variants.json'), 'utf8'));
    assert.deepEqual(
      variants.variants.find((v: { id: string }) => v.id === 'my-coder-tuned-coder'),
      {
        id: 'my-coder-tuned-coder',
        costPer1kTokens: 0,
        tiers: ['small', 'medium', 'large'],
        roles: ['coder'],
      },
    );
    const event = automationPort(pipeline).lastEvent('deploy', 'coder')!;
    assert.match(String(event.data!.baseDigest), /^[0-9a-f]{64}$/);
    assert.equal(event.data!.method, 'adapter');
    // Until drift detection has judged it, the role's runs go to the tuned model; other roles never get it.
    assert.equal(pipeline.selectModel('medium', undefined, 'coder').id, 'my-coder-tuned-coder');
    assert.equal(pipeline.selectModel('medium', undefined, 'coder').reason, 'evaluating');
    for (let i = 0; i < 20; i++)
      assert.notEqual(pipeline.selectModel('medium', undefined, 'judge').id, 'my-coder-tuned-coder');
  });

  for (const [base, hf] of [
    ['qwen2.5-coder:7b', 'qwen2'],
    ['llama3.1:8b', 'llama'],
  ] as const) {
    it(`on Ollama 0.34.1, which refuses ADAPTER, merges and imports a GGUF model we convert (${hf})`, async () => {
      const automation = await setUp('0.34.1', {
        ...CONFIG,
        autoTrain: { ...CONFIG.autoTrain, baseModel: base },
      });
      await pull(base);
      await record(12, base, 'good');
      const p = adapterPaths(pipeline.agentDir, 'coder');
      await automation.train('coder');
      const deployed = await automation.deploy('coder');
      assert.equal(deployed.method, 'merged');
      const modelfile = fs.readFileSync(p.modelfile, 'utf8');
      assert.match(modelfile, /^FROM \.\/lora\/coder\/merged\.gguf$/m);
      assert.doesNotMatch(modelfile, /ADAPTER/);
      assert.equal(fs.readFileSync(p.merged).subarray(0, 4).toString(), 'GGUF');
      assert.ok(!fs.existsSync(p.mergedHf), 'the merged Hugging Face copy is removed once converted');
      assert.deepEqual(creates()[0]!.argv, ['create', 'my-coder-tuned-coder', '-f', p.modelfile]);
      const show = await fetch(`http://${ollama.host}/api/show`, {
        method: 'POST',
        body: JSON.stringify({ model: 'my-coder-tuned-coder' }),
      });
      const shown = (await show.json()) as { model_info: Record<string, unknown> };
      assert.equal(shown.model_info['general.architecture'], hf);

      // A second deploy keeps the first model as the backup, and a rollback brings it back.
      const first = fs.readFileSync(p.merged);
      await automation.train('coder');
      await automation.deploy('coder');
      assert.deepEqual(fs.readFileSync(p.mergedBackup), first);
      assert.equal((await automation.rollback('coder')).action, 'restored');
      assert.deepEqual(fs.readFileSync(p.merged), first);
    });
  }

  it('refuses "method": "adapter" on Ollama 0.34.1 and says what to set, changing nothing', async () => {
    const automation = await setUp('0.34.1', { ...CONFIG, autoDeploy: { method: 'adapter' } });
    await pull('qwen2.5-coder:7b');
    await record(12, 'qwen2.5-coder:7b', 'good');
    await automation.train('coder');
    await assert.rejects(automation.deploy('coder'), (err: Error) => {
      assert.match(err.message, /rejects ADAPTER.*"autoDeploy\.method"/s);
      assert.equal((err as StepFailedError).setting, 'autoDeploy.method', 'Open Setting goes to the key');
      return true;
    });
    assert.equal(creates().length, 0);
    assert.ok(!fs.existsSync(adapterPaths(pipeline.agentDir, 'coder').modelfile));
  });

  it('asks for "autoDeploy.method" when Ollama says 0.0.0 (a source build without a version), changing nothing', async () => {
    // `go install github.com/ollama/ollama@…` without Ollama's release -ldflags answers 0.0.0 on /api/version.
    const automation = await setUp('0.0.0');
    await pull('qwen2.5-coder:7b');
    await record(12, 'qwen2.5-coder:7b', 'good');
    await automation.train('coder');
    await assert.rejects(automation.deploy('coder'), (err: Error) => {
      assert.ok(err instanceof StepFailedError);
      assert.equal(err.step, 'Deploy');
      assert.match(err.message, /version is 0\.0\.0 .*"autoDeploy\.method" to "merged"/s);
      assert.equal(err.setting, 'autoDeploy.method');
      return true;
    });
    assert.equal(creates().length, 0);
    assert.ok(!fs.existsSync(adapterPaths(pipeline.agentDir, 'coder').modelfile));
  });

  it('says to pull the base model when Ollama does not have it', async () => {
    const automation = await setUp('0.34.0');
    await record(12, 'qwen2.5-coder:7b', 'good');
    await automation.train('coder');
    await assert.rejects(automation.deploy('coder'), (err: Error) => {
      assert.match(err.message, /ollama pull qwen2\.5-coder:7b/);
      assert.equal((err as StepFailedError).setting, 'autoTrain.baseModel');
      return true;
    });
  });

  it('names agentLearning.ollamaHost when Ollama cannot be reached, before anything is changed', async () => {
    const automation = await setUp('0.34.0', CONFIG, { ollamaHost: 'http://127.0.0.1:9' });
    await record(12, 'qwen2.5-coder:7b', 'good');
    await automation.train('coder');
    await assert.rejects(automation.deploy('coder'), (err: Error) => {
      assert.ok(err instanceof StepFailedError, String(err));
      assert.equal(err.step, 'Deploy');
      assert.equal(err.setting, 'agentLearning.ollamaHost');
      return true;
    });
  });

  it('asks for agentLearning.ollamaHost at each use, so a value that applies later (a workspace trusted) is the one used', async () => {
    // Unset, as VS Code gives a restricted setting's workspace value before the workspace is trusted.
    const settings: { ollamaHost?: string } = {};
    const automation = await setUp('0.34.0', CONFIG, { ollamaHost: () => settings.ollamaHost });
    await pull('qwen2.5-coder:7b');
    await record(12, 'qwen2.5-coder:7b', 'good');
    await automation.train('coder');

    settings.ollamaHost = ollama.host; // the user trusts the workspace: its settings.json value applies
    await automation.deploy('coder');

    assert.equal(creates().length, 1);
  });

  it('does not deploy an adapter whose held-out loss got worse, unless forced', async () => {
    const automation = await setUp('0.34.0');
    await pull('qwen2.5-coder:7b');
    await record(12, 'qwen2.5-coder:7b', 'good');
    process.env.AGENT_LEARNING_STANDIN_EVAL = 'worse';
    const trained = await automation.train('coder');
    assert.equal(trained.eval?.improved, false);
    await assert.rejects(
      automation.deploy('coder'),
      (err: unknown) =>
        err instanceof DeployGateError && err.key === 'coder' && /did not improve/.test(err.message),
    );
    assert.equal(creates().length, 0);
    assert.equal(automationPort(pipeline).lastEvent('deploy-skipped', 'coder')?.role, 'coder');
    await automation.deploy('coder', { force: true });
    assert.equal(creates().length, 1);
  });

  it('keeps the last trained adapter when a training fails, and says which step failed', async () => {
    const automation = await setUp('0.34.0');
    await record(12, 'qwen2.5-coder:7b', 'good');
    const p = adapterPaths(pipeline.agentDir, 'coder');
    await automation.train('coder');
    const before = fs.readFileSync(path.join(p.trained, 'adapter_model.safetensors'));
    process.env.AGENT_LEARNING_STANDIN_FAIL = 'train';
    await assert.rejects(automation.train('coder'), (err: Error) => {
      assert.ok(err instanceof StepFailedError);
      assert.equal(err.step, 'Training');
      assert.match(err.message, /exited with code 1/);
      return true;
    });
    assert.deepEqual(fs.readFileSync(path.join(p.trained, 'adapter_model.safetensors')), before);
    assert.match(
      automationPort(pipeline).lastEvent('training-failed', 'coder')!.message,
      /Training coder failed/,
    );
  });

  it('writes the launcher and the Modelfile in place of links planted in .agent/, never through them', async () => {
    const automation = await setUp('0.34.0', MANUAL);
    const outside = fs.mkdtempSync(path.join(path.dirname(ws), 'al-outside-'));
    try {
      const victim = path.join(outside, 'victim.py');
      fs.writeFileSync(victim, 'precious');
      const p = adapterPaths(pipeline.agentDir, 'coder');
      fs.symlinkSync(victim, p.launcher);
      fs.symlinkSync(path.join(outside, 'Modelfile'), p.modelfile);
      await pull('qwen2.5-coder:7b');
      await record(12, 'qwen2.5-coder:7b', 'good');

      await automation.train('coder');
      await automation.deploy('coder');

      assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
      assert.deepEqual(fs.readdirSync(outside), ['victim.py'], 'no Modelfile created outside');
      assert.ok(fs.lstatSync(p.launcher).isFile());
      assert.match(fs.readFileSync(p.launcher, 'utf8'), /runpy\.run_path\(SCRIPT/);
      assert.ok(fs.lstatSync(p.modelfile).isFile());
      assert.match(fs.readFileSync(p.modelfile, 'utf8'), /^ADAPTER \.\/lora\/coder\/adapter\.gguf$/m);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('stamps the last training and its duration with the injected clock', async () => {
    let clock = Date.UTC(2030, 0, 2, 3, 4, 5);
    const runner = new ChildProcessRunner();
    // The training takes 90 s by this clock, however long the stand-in trainer really takes.
    const automation = await setUp('0.34.0', MANUAL, {
      now: () => clock,
      runner: {
        run: (step) => {
          clock += 90_000;
          return runner.run(step);
        },
      },
    });
    await record(12, 'qwen2.5-coder:7b', 'good');
    await automation.train('coder');
    const lastTrain = fs.readFileSync(adapterPaths(pipeline.agentDir, 'coder').lastTrain, 'utf8');
    assert.equal(lastTrain.split('\n')[0], '2030-01-02T03:05:35.000Z');
    assert.equal(automationPort(pipeline).lastEvent('training', 'coder')!.data.seconds, 90);
  });

  it('reports a missing dataset line by the trainer exit code, before anything is trained', async () => {
    const automation = await setUp('0.34.0');
    await record(12, 'qwen2.5-coder:7b', 'good');
    const p = adapterPaths(pipeline.agentDir, 'coder');
    await pipeline.exportDataset('coder');
    fs.appendFileSync(p.dataset, '{not json\n');
    await assert.rejects(automation.train('coder'), /dataset is missing, empty, malformed or too small/);
    assert.ok(!fs.existsSync(p.trained));
  });

  it('leaves adapter, backup and Modelfile as they were when ollama create fails', async () => {
    const automation = await setUp('0.34.0');
    await pull('qwen2.5-coder:7b');
    await record(12, 'qwen2.5-coder:7b', 'good');
    const p = adapterPaths(pipeline.agentDir, 'coder');
    await automation.train('coder');
    await automation.deploy('coder');
    const adapter = fs.readFileSync(p.gguf);
    const modelfile = fs.readFileSync(p.modelfile, 'utf8');
    await automation.train('coder');
    // The server still says 0.34.0 but the CLI was upgraded: it refuses ADAPTER.
    process.env.FAKE_OLLAMA_VERSION = '0.34.1';
    await assert.rejects(automation.deploy('coder'), (err: Error) => {
      assert.ok(err instanceof StepFailedError);
      assert.match(err.message, /ollama create my-coder-tuned-coder failed: it exited with code 1.*ADAPTER/s);
      return true;
    });
    assert.deepEqual(fs.readFileSync(p.gguf), adapter);
    assert.equal(fs.readFileSync(p.modelfile, 'utf8'), modelfile);
    assert.ok(!fs.existsSync(p.ggufBackup));
    assert.deepEqual(fs.readdirSync(p.dir).sort(), ['adapter.gguf', 'trained']);
  });

  it('rolls back to the backup adapter when the redeployed model does worse than its previous version', async () => {
    const automation = await setUp('0.34.0', MANUAL);
    automation.attach();
    await pull('qwen2.5-coder:7b');
    await record(12, 'qwen2.5-coder:7b', 'good');
    const p = adapterPaths(pipeline.agentDir, 'coder');
    await automation.train('coder');
    await automation.deploy('coder');
    await record(10, 'my-coder-tuned-coder', 'good', 100);
    await automation.checkDrift();
    assert.match(
      automationPort(pipeline).lastEvent('evaluated', 'coder')!.message,
      /^Kept my-coder-tuned-coder/,
    );
    assert.equal(pipeline.selectModel('medium', undefined, 'coder').reason === 'evaluating', false);
    const first = fs.readFileSync(p.gguf);

    await automation.train('coder');
    await automation.deploy('coder');
    assert.deepEqual(fs.readFileSync(p.ggufBackup), first, 'the previous adapter is the backup');
    await record(10, 'my-coder-tuned-coder', 'bad', 200);
    await automation.checkDrift();
    assert.match(automationPort(pipeline).lastEvent('drift', 'coder')!.message, /my-coder-tuned-coder/);
    const rollback = automationPort(pipeline).lastEvent('rollback', 'coder')!;
    assert.equal(rollback.data!.action, 'restored');
    assert.deepEqual(fs.readFileSync(p.gguf), first, 'the backup is live again');
    assert.ok(fs.existsSync(path.join(p.dir, 'adapter.rejected.gguf')));
    assert.equal(creates().length, 3);
    assert.ok(logs.some((l) => l.startsWith('⚠️ Drift detected for my-coder-tuned-coder')));
    assert.ok(logs.some((l) => l.startsWith('↩️ Rolled back my-coder-tuned-coder')));
  });

  it('withdraws a first deployment that drifts, since there is nothing to go back to', async () => {
    const automation = await setUp('0.34.0', MANUAL);
    automation.attach();
    await pull('qwen2.5-coder:7b');
    // Not the base tag: the baseline is then the role's runs before the deploy.
    await record(12, 'qwen2.5-coder:32b', 'good');
    await automation.train('coder');
    await automation.deploy('coder');
    await record(10, 'my-coder-tuned-coder', 'bad', 100);
    await automation.checkDrift();
    assert.equal(automationPort(pipeline).lastEvent('rollback', 'coder')!.data!.action, 'withdrawn');
    for (let i = 0; i < 20; i++)
      assert.notEqual(pipeline.selectModel('medium', undefined, 'coder').id, 'my-coder-tuned-coder');
  });

  it('trains and deploys on its own when an export reaches autoTrain.minExamples, then retrains only on new data', async () => {
    const automation = await setUp('0.34.0');
    await pull('qwen2.5-coder:7b');
    automation.attach();
    const done = new Promise<void>((resolve) =>
      automation.onDidChange(() => automation.busy().length === 0 && creates().length > 0 && resolve()),
    );
    await record(10, 'qwen2.5-coder:7b', 'good');
    await done;
    assert.ok(logs.includes('🚀 Auto-training LoRA adapter for coder...'));
    assert.equal(automationPort(pipeline).lastEvent('deploy', 'coder')!.data!.model, 'my-coder-tuned-coder');
    const trainings = () => (logs.join('\n').match(/Auto-training LoRA adapter for coder/g) ?? []).length;
    // A re-export with no new high-quality runs since the training does not train again.
    await pipeline.exportDataset('coder');
    assert.equal(trainings(), 1);
  });

  it('trains an adapter per complexity tier with enough data of its own when curriculum is on', async () => {
    const automation = await setUp('0.34.0', {
      ...CONFIG,
      autoExport: { minRuns: 24, minReward: 0.7 },
      autoTrain: { ...CONFIG.autoTrain, curriculum: true },
    });
    await pull('qwen2.5-coder:7b');
    automation.attach();
    const settled = new Promise<void>((resolve) =>
      automation.onDidChange(() => automation.busy().length === 0 && creates().length === 2 && resolve()),
    );
    await record(12, 'qwen2.5-coder:7b', 'good', 0, 'large');
    await record(6, 'qwen2.5-coder:7b', 'good', 100, 'small');
    await record(6, 'qwen2.5-coder:7b', 'good', 200, 'medium');
    await settled;
    const agentDir = pipeline.agentDir;
    const large = fs
      .readFileSync(path.join(agentDir, 'sft', 'coder-large_sft.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(large.length, 12, 'the large tier trains on its own runs only');
    assert.ok(!fs.existsSync(path.join(agentDir, 'sft', 'coder-small_sft.jsonl')), 'small has too few runs');
    assert.deepEqual(
      creates().map((c) => c.argv![1]),
      ['my-coder-tuned-coder', 'my-coder-tuned-coder-large'],
    );
    assert.match(
      fs.readFileSync(path.join(agentDir, 'Modelfile.coder-large'), 'utf8'),
      /ADAPTER \.\/lora\/coder-large\/adapter\.gguf/,
    );
    // Each tier's runs go to its own tuned model while they are evaluated.
    assert.equal(pipeline.selectModel('large', undefined, 'coder').id, 'my-coder-tuned-coder-large');
    assert.equal(pipeline.selectModel('medium', undefined, 'coder').id, 'my-coder-tuned-coder');
    const variants = JSON.parse(fs.readFileSync(path.join(agentDir, 'model_variants.json'), 'utf8'));
    assert.deepEqual(
      variants.variants.find((v: { id: string }) => v.id === 'my-coder-tuned-coder-large').tiers,
      ['large'],
    );
  });

  it('goes on evaluating a deployed model after a restart', async () => {
    const automation = await setUp('0.34.0', MANUAL);
    await pull('qwen2.5-coder:7b');
    await record(12, 'qwen2.5-coder:7b', 'good');
    await automation.train('coder');
    await automation.deploy('coder');
    await record(3, 'my-coder-tuned-coder', 'good', 100);
    await pipeline.close();
    pipeline = await LearningPipeline.open(ws, { log: (l) => logs.push(l), pollIntervalMs: 0 });
    const again = new Automation(automationPort(pipeline), {
      runner: new ChildProcessRunner(),
      tools,
      ollamaHost: ollama.host,
    });
    again.attach();
    assert.deepEqual(again.evaluating(), [{ key: 'coder', model: 'my-coder-tuned-coder', runs: 3 }]);
    assert.equal(pipeline.selectModel('medium', undefined, 'coder').reason, 'evaluating');
    again.dispose();
  });

  it('runs nothing in an untrusted workspace', async () => {
    const automation0 = await setUp('0.34.0');
    automation0.dispose();
    const automation = new Automation(automationPort(pipeline), {
      runner: new ChildProcessRunner(),
      tools,
      ollamaHost: ollama.host,
      trusted: () => false,
      log: (l) => logs.push(l),
    });
    automation.attach();
    await record(10, 'qwen2.5-coder:7b', 'good');
    await pipeline.flush(); // the auto-export, and the training it makes due, run after the recordRun
    await assert.rejects(automation.train('coder'), /untrusted workspace/);
    assert.ok(logs.includes('⏸️ Auto-train is off in an untrusted workspace (trust it to enable).'));
    assert.ok(!fs.existsSync(adapterPaths(pipeline.agentDir, 'coder').dir));
  });
});
