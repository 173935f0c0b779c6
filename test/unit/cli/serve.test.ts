import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import Database from 'better-sqlite3';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startChatUpstream, type ChatUpstream } from '../../support/chatUpstream';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../support/workspace';

const ROOT = path.resolve(__dirname, '../../..');

describe('agent-learning serve (node dist/cli.js; upstream: a loopback stand-in)', () => {
  let ws: string;
  let upstream: ChatUpstream;

  before(() => execFileSync('node', ['esbuild.js'], { cwd: ROOT, stdio: 'ignore' }));

  beforeEach(async () => {
    ws = makeWorkspace();
    upstream = await startChatUpstream();
  });

  afterEach(async () => {
    await upstream.stop();
    removeWorkspace(ws);
  });

  it('serves both dialects on the given port, records each completion, and saves them on SIGTERM', async () => {
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
    const { url } = JSON.parse(first) as { url: string };
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const answer = await openai.chat.completions.create({
      model: 'qwen2.5-coder:7b',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.choices[0]!.message.content, 'Hello from the stand-in');
    let text = '';
    for await (const part of await new Ollama({ host: url }).chat({
      model: 'qwen2.5-coder:7b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    }))
      text += part.message.content;
    assert.equal(text, 'Hello from the stand-in');

    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /Gateway listening on/);
    const db = new Database(path.join(ws, '.agent', 'experience.db'), { readonly: true });
    try {
      const runs = db.prepare('SELECT model_id, cost_tokens FROM runs ORDER BY pk').all();
      assert.deepEqual(runs, [
        { model_id: 'qwen2.5-coder:7b', cost_tokens: 15 },
        { model_id: 'qwen2.5-coder:7b', cost_tokens: 15 },
      ]);
    } finally {
      db.close();
    }
  });

  /** `serve` started on the workspace; its URL once it listens, its stderr and exit. */
  async function startServe(args: string[], env: Record<string, string>) {
    const child = spawn(
      process.execPath,
      ['dist/cli.js', 'serve', '--workspace', ws, '--port', '0', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, OLLAMA_HOST: upstream.host, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const first = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once('line', resolve);
      void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${stderr}`)));
    });
    return { child, exited, url: (JSON.parse(first) as { url: string }).url, stderr: () => stderr };
  }

  it("refuses a workspace config that names the upstream and the key's variable; the secret goes nowhere", async () => {
    // The reviewer's reproduction: the repository's config sent GITHUB_TOKEN to its own server.
    const attacker = await startChatUpstream();
    try {
      writeAgentFile(ws, 'learning-config.json', {
        gateway: { port: 0, openaiBaseUrl: `${attacker.url}/v1`, apiKeyEnv: 'GITHUB_TOKEN' },
      });
      const serve = await startServe([], { GITHUB_TOKEN: 'ghp_victim_token' });
      const openai = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: 'x', maxRetries: 0 });
      await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
      assert.match(
        serve.stderr(),
        /gateway\.openaiBaseUrl.*is not read from the workspace's config.*--openai-base-url/s,
      );
      assert.match(serve.stderr(), /gateway\.apiKeyEnv/);
      assert.ok(upstream.requests.every((r) => !JSON.stringify(r.headers).includes('ghp_victim_token')));
      assert.equal(attacker.requests.length, 0);
    } finally {
      await attacker.stop();
    }
  });

  it('takes the upstream from --openai-base-url and its key from AGENT_LEARNING_UPSTREAM_API_KEY, sent there only', async () => {
    const openaiUpstream = await startChatUpstream();
    try {
      const serve = await startServe(['--openai-base-url', `${openaiUpstream.url}/v1`], {
        AGENT_LEARNING_UPSTREAM_API_KEY: 'sk-user-key',
      });
      const openai = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: 'x', maxRetries: 0 });
      await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      await new Ollama({ host: serve.url }).list();
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
      assert.equal(openaiUpstream.requests[0]!.headers.authorization, 'Bearer sk-user-key');
      assert.equal(upstream.requests[0]!.path, '/api/tags');
      assert.equal(upstream.requests[0]!.headers.authorization, undefined, 'never to the Ollama host');
    } finally {
      await openaiUpstream.stop();
    }
  });

  it('warns when --bind names an address other machines can reach', async () => {
    const serve = await startServe(['--bind', '0.0.0.0'], {});
    await new Ollama({ host: serve.url.replace('0.0.0.0', '127.0.0.1') }).version();
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr());
    assert.match(serve.stderr(), /--bind 0\.0\.0\.0 lets other machines on the network use your models/);
  });

  it('refuses a bad --port with usage exit code 2', () => {
    assert.throws(
      () =>
        execFileSync(process.execPath, ['dist/cli.js', 'serve', '--port', 'abc'], {
          cwd: ROOT,
          stdio: 'pipe',
        }),
      (err: { status: number; stderr: Buffer }) =>
        err.status === 2 && /--port takes a port number/.test(err.stderr.toString()),
    );
  });
});
