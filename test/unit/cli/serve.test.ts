import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import Database from 'better-sqlite3';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startChatUpstream, type ChatUpstream } from '../../support/chatUpstream';
import { makeWorkspace, removeWorkspace } from '../../support/workspace';

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
