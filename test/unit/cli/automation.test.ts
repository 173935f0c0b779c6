import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LearningPipeline } from '../../../src/core/pipeline';
import { OLLAMA_STANDIN, PYTHON_STANDIN, startOllama, type OllamaStandin } from '../../support/ollamaStandin';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../support/workspace';

const ROOT = path.resolve(__dirname, '../../..');

/** The CLI as a real process, from source: its steps (trainer, converter, ollama) are its child processes. */
function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      // By URL: the CLI passes its loader on to the converter, which runs in the workspace, not here.
      [
        '--import',
        pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
        path.join(ROOT, 'src/cli/main.ts'),
        ...args,
      ],
      { cwd: ROOT, env: { ...process.env, ...env } },
      (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }),
    );
  });
}

describe('agent-learning train / deploy / rollback', function () {
  this.timeout(60_000);
  let ws: string;
  let ollama: OllamaStandin;

  beforeEach(async () => {
    ws = makeWorkspace();
    writeAgentFile(ws, 'learning-config.json', { autoTrain: { enabled: false, epochs: 1 } });
    const pipeline = await LearningPipeline.open(ws, { log: () => undefined, pollIntervalMs: 0 });
    for (let i = 0; i < 12; i++) {
      await pipeline.recordRun(`task-${i}`, 'qwen2.5-coder:7b', 'default', {
        input: `Write function ${i}`,
        output: `def f${i}(): return ${i}`,
        compile: true,
      });
    }
    await pipeline.close();
    ollama = await startOllama('0.34.0');
    await fetch(`http://${ollama.host}/api/pull`, {
      method: 'POST',
      body: JSON.stringify({ model: 'qwen2.5-coder:7b', stream: false }),
    });
  });

  afterEach(async () => {
    await ollama.stop();
    removeWorkspace(ws);
  });

  it('trains, deploys and rolls back through the same plans as the extension, printing JSON', async () => {
    const env = {
      ...ollama.env,
      AGENT_LEARNING_PYTHON: PYTHON_STANDIN,
      AGENT_LEARNING_OLLAMA: OLLAMA_STANDIN,
    };
    const train = await run(['train', '--role', 'coder', '--workspace', ws], env);
    assert.equal(train.code, 0, train.err);
    assert.equal(JSON.parse(train.out).key, 'coder');
    assert.match(train.err, /🚀 Training LoRA adapter for coder\.\.\./);

    const deploy = await run(['deploy', '--role', 'coder', '--workspace', ws], env);
    assert.equal(deploy.code, 0, deploy.err);
    assert.deepEqual(JSON.parse(deploy.out), {
      key: 'coder',
      model: 'my-coder-tuned-coder',
      method: 'adapter',
      ollamaVersion: '0.34.0',
    });
    assert.ok(fs.existsSync(path.join(ws, '.agent', 'lora', 'coder', 'adapter.gguf')));

    const rollback = await run(['rollback', '--role', 'coder', '--workspace', ws], env);
    assert.equal(rollback.code, 0, rollback.err);
    assert.equal(JSON.parse(rollback.out).action, 'withdrawn');
  });

  it('exits 1 with the reason when Ollama is not running, and 2 without --role', async () => {
    const env = { AGENT_LEARNING_PYTHON: PYTHON_STANDIN, OLLAMA_HOST: '127.0.0.1:9' };
    assert.equal((await run(['train', '--role', 'coder', '--workspace', ws], env)).code, 0);
    const deploy = await run(['deploy', '--role', 'coder', '--workspace', ws], env);
    assert.equal(deploy.code, 1);
    assert.match(deploy.err, /Ollama is not reachable at http:\/\/127\.0\.0\.1:9/);
    assert.equal((await run(['deploy', '--workspace', ws], env)).code, 2);
  });
});
