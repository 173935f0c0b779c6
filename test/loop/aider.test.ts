// A real coding agent against the gateway: Aider (aider-chat from PyPI at the exact versions of
// test/aider/requirements.lock, installed by test/aider/setup.sh) run non-interactively, as a user would, against
// `agent-learning serve`. Its upstream is the loopback stand-in that speaks Ollama's OpenAI-compatible API (the Ollama
// built here cannot generate: test/ollama/setup.sh); the stand-in answers with an Aider edit block, so Aider edits a
// real file, and its usage counts are what the runs must carry.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { startChatUpstream, type ChatUpstream } from '../support/chatUpstream';
import { savedRunsWithTexts } from '../support/savedRuns';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../support/workspace';

const ROOT = path.resolve(__dirname, '..', '..');

/** Aider's "diff" edit format: the file, then a SEARCH/REPLACE block in a fence. */
const EDIT = [
  'greet.py',
  '```python',
  '<<<<<<< SEARCH',
  "    return 'hi'",
  '=======',
  "    return 'hello, gateway'",
  '>>>>>>> REPLACE',
  '```',
  '',
].join('\n');

interface StoredRun {
  role: string;
  task_slug: string;
  model_id: string;
  cost_tokens: number | null;
  input: string;
  output: string;
}

describe('Aider (aider-chat from PyPI) against agent-learning serve', function () {
  this.timeout(600_000);
  let aider: string;
  let ws: string;
  let home: string;
  let upstream: ChatUpstream;

  before(() => {
    // Cold: a minute or two (the environment is cached under ~/.cache/agent-learning/aider).
    const out = execFileSync('bash', ['test/aider/setup.sh'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    aider = out.trim().split('\n').at(-1)!;
    assert.ok(fs.existsSync(aider), `test/aider/setup.sh printed ${aider}, which does not exist`);
    execFileSync('node', ['esbuild.js'], { cwd: ROOT, stdio: 'ignore' });
  });

  beforeEach(async () => {
    ws = makeWorkspace();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'al-aider-home-'));
    upstream = await startChatUpstream({ reply: EDIT, promptTokens: 321 });
    fs.writeFileSync(path.join(ws, 'greet.py'), "def greet():\n    return 'hi'\n");
  });

  afterEach(async () => {
    await upstream.stop();
    removeWorkspace(ws);
    removeWorkspace(home);
  });

  /** `serve` on the workspace, upstream the stand-in; its URL once it listens. */
  async function startServe() {
    const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--workspace', ws, '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, OLLAMA_HOST: upstream.host },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const first = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once('line', resolve);
      void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${stderr}`)));
    });
    const stop = async () => {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      return stderr;
    };
    return { url: (JSON.parse(first) as { url: string }).url, stop };
  }

  /** Runs Aider once in the workspace, as a script would: one message, every question answered yes, then exit. */
  async function runAider(url: string, args: string[]): Promise<string> {
    const child = spawn(
      aider,
      [
        'greet.py',
        '--message',
        "Make greet() return 'hello, gateway'.",
        '--yes-always',
        '--no-git',
        '--openai-api-base',
        `${url}/v1`,
        '--openai-api-key',
        'not-a-key',
        '--no-check-update',
        '--no-show-model-warnings',
        '--analytics-disable',
        '--map-tokens',
        '0',
        '--no-pretty',
        '--no-fancy-input',
        ...args,
      ],
      {
        cwd: ws,
        // Its own HOME (Aider keeps ~/.aider there), and none of the caller's OPENAI_* or AIDER_* settings.
        env: { PATH: process.env.PATH ?? '', HOME: home, LANG: 'C.UTF-8' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, output);
    return output;
  }

  function storedRuns(): StoredRun[] {
    return savedRunsWithTexts(path.join(ws, '.agent')) as unknown as StoredRun[];
  }

  it("records Aider's architect and editor requests (streamed) as runs of their roles, with the routed models and the upstream's token counts, and Aider applies the edit", async () => {
    writeAgentFile(ws, 'learning-config.json', { gateway: { port: 0, defaultTask: 'aider' } });
    // One model per role, so the router's pick is known.
    writeAgentFile(ws, 'model_variants.json', {
      variants: [
        { id: 'planner-model', roles: ['planner'] },
        { id: 'coder-model', roles: ['coder'] },
      ],
    });
    const serve = await startServe();
    const output = await runAider(serve.url, [
      '--architect',
      '--model',
      'openai/agent-learning/planner',
      '--editor-model',
      'openai/agent-learning/coder',
      '--editor-edit-format',
      'diff',
    ]);
    const log = await serve.stop();

    assert.equal(
      fs.readFileSync(path.join(ws, 'greet.py'), 'utf8'),
      "def greet():\n    return 'hello, gateway'\n",
      output,
    );
    // What Aider sent, as the upstream got it: both streamed, each to the model the router picked for its role.
    assert.deepEqual(
      upstream.requests.map((r) => [r.path, r.body?.model, r.body?.stream]),
      [
        ['/v1/chat/completions', 'planner-model', true],
        ['/v1/chat/completions', 'coder-model', true],
      ],
    );
    const runs = storedRuns();
    const completionTokens = EDIT.split(/(?<= )/).length;
    assert.deepEqual(
      runs.map((r) => [r.role, r.task_slug, r.model_id, r.cost_tokens]),
      [
        ['planner', 'aider', 'planner-model', 321 + completionTokens],
        ['coder', 'aider', 'coder-model', 321 + completionTokens],
      ],
      log,
    );
    // The conversation Aider sent and the edit it got back, as the SFT export will read them.
    const planner = JSON.parse(runs[0]!.input) as { messages: { role: string; content: string }[] };
    assert.equal(planner.messages[0]!.role, 'system');
    assert.ok(
      planner.messages.some(
        (m) => m.role === 'user' && m.content.includes("Make greet() return 'hello, gateway'."),
      ),
      runs[0]!.input,
    );
    assert.deepEqual(JSON.parse(runs[1]!.output), { role: 'assistant', content: EDIT });
    assert.doesNotMatch(
      log + fs.readFileSync(path.join(ws, '.agent', 'experience.db')).toString('latin1'),
      /not-a-key/,
    );
  });

  it('records a request for a model by its own name (not streamed) under the default role, the model as named', async () => {
    writeAgentFile(ws, 'learning-config.json', { gateway: { port: 0 } });
    const serve = await startServe();
    await runAider(serve.url, ['--model', 'openai/qwen2.5-coder:7b', '--edit-format', 'diff', '--no-stream']);
    await serve.stop();
    assert.equal(
      fs.readFileSync(path.join(ws, 'greet.py'), 'utf8'),
      "def greet():\n    return 'hello, gateway'\n",
    );
    assert.deepEqual(
      upstream.requests.map((r) => [r.body?.model, r.body?.stream]),
      [['qwen2.5-coder:7b', undefined]],
    );
    assert.deepEqual(
      storedRuns().map((r) => [r.role, r.task_slug, r.model_id, r.cost_tokens]),
      [['coder', 'gateway', 'qwen2.5-coder:7b', 321 + EDIT.split(/(?<= )/).length]],
    );
  });
});
