// End-to-end: Export → Train → Convert → Deploy → Drift → Roll Back from the palette of a real VS Code, each step a
// Task in the integrated terminal. The trainer and Ollama are the stand-ins in test/standins (no GPU or Ollama
// here); everything between them is the shipped extension.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PYTHON_STANDIN, OLLAMA_STANDIN, startOllama, type OllamaStandin } from '../support/ollamaStandin';
import { useVsCode } from './fixtures';
import { goodRun, badRun, type Plan } from './scenarios';
import { waitForFile } from './wait';

const TWELVE_GOOD: Plan = {
  role: 'coder',
  complexity: 'medium',
  record: Array.from({ length: 12 }, (_, i) => goodRun(i + 1)),
};

describe('Train and deploy from the palette in a real VS Code (stand-in trainer and Ollama)', function () {
  let ollama: OllamaStandin;
  const workspaceSettings: Record<string, unknown> = {};

  // Registered before useVsCode's hook, so the server runs (and the settings point at it) before the workspace is made.
  before(async function () {
    ollama = await startOllama('0.34.0');
    // VS Code's tasks inherit code-server's environment: this is how the stand-in CLI finds its server's state.
    Object.assign(process.env, { FAKE_OLLAMA_DIR: ollama.dir, FAKE_OLLAMA_VERSION: '0.34.0' });
    await fetch(`http://${ollama.host}/api/pull`, {
      method: 'POST',
      body: JSON.stringify({ model: 'qwen2.5-coder:7b', stream: false }),
    });
    Object.assign(workspaceSettings, {
      'agentLearning.pythonPath': PYTHON_STANDIN,
      'agentLearning.ollamaPath': OLLAMA_STANDIN,
      'agentLearning.ollamaHost': `http://${ollama.host}`,
    });
  });
  after(async () => {
    delete process.env.FAKE_OLLAMA_DIR;
    delete process.env.FAKE_OLLAMA_VERSION;
    await ollama?.stop();
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
          autoTrain: { enabled: false, epochs: 1 },
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
    await waitForFile(workspace.agentFile('last-train-coder.txt'), {
      detail: vscode.detail,
      timeoutMs: 60_000,
    });
    assert.ok(fs.existsSync(workspace.agentFile('lora', 'coder', 'trained', 'adapter_model.safetensors')));
    assert.ok(fs.existsSync(workspace.agentFile('train_coder.py')));
    await session.waitForNotification(/trained the coder adapter/i);
    await session.screenshot('trained');

    await session.runCommand('Agent Learning: Deploy to Ollama');
    const modelfile = await waitForFile(workspace.agentFile('Modelfile.coder'), { detail: vscode.detail });
    assert.match(modelfile, /^ADAPTER \.\/lora\/coder\/adapter\.gguf$/m);
    await session.waitForNotification(/deployed my-coder-tuned-coder/i, { timeoutMs: 60_000 });
    const create = ollama.calls().find((c) => c.argv?.[0] === 'create');
    assert.deepEqual(create?.argv, [
      'create',
      'my-coder-tuned-coder',
      '-f',
      workspace.agentFile('Modelfile.coder'),
    ]);
    assert.equal(create?.exitCode, 0);
    const tags = (await (await fetch(`http://${ollama.host}/api/tags`)).json()) as {
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
