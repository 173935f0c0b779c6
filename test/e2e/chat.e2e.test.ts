// Tuned and routed models in VS Code's chat (#13), in code-server 4.104.0 (VS Code 1.104, the first with the
// language-model chat provider API): the test extension finds Agent Learning's chat models with
// `vscode.lm.selectChatModels({vendor})` and sends a request to a deployed tuned model and to the router, as a
// user's chat does. Upstream: the stand-in chat server (real Ollama cannot generate on these machines). The answers
// stream back, and each request is stored as a run with source `chat`, the model's role, the model and the tokens.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { startChatUpstream, type ChatUpstream } from '../support/chatUpstream';
import { useVsCode } from './fixtures';
import { assertPlanOk, type Plan } from './scenarios';
import { waitFor } from './wait';

const TUNED = 'my-coder-tuned-fixer';
const PROMPT = 'Fix the off-by-one in range().';
const plan: Plan = {
  chat: [
    { vendor: 'agent-learning', id: TUNED, prompt: PROMPT },
    { vendor: 'agent-learning', id: 'agent-learning/auto', prompt: PROMPT },
  ],
};

interface ChatRun {
  source: string | null;
  role: string;
  model_id: string;
  cost_tokens: number | null;
  duration_ms: number | null;
}

function chatRuns(dbFile: string): ChatRun[] {
  if (!fs.existsSync(dbFile)) return [];
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT source, role, model_id, cost_tokens, duration_ms FROM runs ORDER BY pk')
      .all() as ChatRun[];
  } finally {
    db.close();
  }
}

describe("Tuned and routed models in VS Code's chat (code-server)", function () {
  let upstream: ChatUpstream;
  // Before useVsCode's hook: the workspace's settings name the stand-in's port.
  before(async () => {
    upstream = await startChatUpstream({ chunkDelayMs: 20 });
  });
  after(async () => {
    await upstream?.stop();
  });

  const vscode = useVsCode('chat-models', {
    plan,
    seed: (ws) => {
      // Machine-scoped: in a remote window (code-server is one) VS Code reads it from the workspace.
      fs.mkdirSync(path.join(ws.dir, '.vscode'), { recursive: true });
      fs.writeFileSync(
        path.join(ws.dir, '.vscode', 'settings.json'),
        JSON.stringify({ 'agentLearning.ollamaHost': upstream.host }),
      );
      // A deployed tuned model, as the automation leaves it in model_variants.json, beside the base model.
      fs.mkdirSync(ws.agentDir, { recursive: true });
      fs.writeFileSync(ws.agentFile('learning-config.json'), JSON.stringify({}));
      fs.writeFileSync(
        ws.agentFile('model_variants.json'),
        JSON.stringify({
          variants: [
            { id: 'qwen2.5-coder:7b', costPer1kTokens: 0, tiers: ['small', 'medium', 'large'] },
            { id: TUNED, costPer1kTokens: 0, tiers: ['small', 'medium', 'large'], roles: ['fixer'] },
          ],
        }),
      );
    },
  });

  it('offers the router and the tuned model, streams their answers and stores each request as a chat run', async function () {
    const result = await vscode.workspace.waitForResult('', { timeoutMs: 90_000, detail: vscode.detail });
    assertPlanOk(result);
    const [tuned, auto] = result.chats;
    assert.ok(tuned && auto, JSON.stringify(result.chats));

    const offered = tuned.models.map((m) => m.id);
    for (const id of ['agent-learning/auto', 'agent-learning/coder', 'agent-learning/fixer', TUNED]) {
      assert.ok(offered.includes(id), `${id} is not among the chat models: ${JSON.stringify(offered)}`);
    }
    assert.ok(tuned.models.every((m) => m.vendor === 'agent-learning'));

    for (const chat of [tuned, auto]) {
      assert.equal(chat.pieces.join(''), 'Hello from the stand-in');
      assert.ok(chat.pieces.length > 1, `streamed in pieces, not at once: ${JSON.stringify(chat.pieces)}`);
    }
    const asked = upstream.requests.filter((r) => r.path === '/v1/chat/completions');
    assert.deepEqual(
      asked.map((r) => [r.body?.model, r.body?.stream]),
      [
        [TUNED, true],
        ['qwen2.5-coder:7b', true],
      ],
      'the tuned model as named; the router picks the base model for the default role (coder)',
    );
    assert.deepEqual(
      (asked[0]!.body?.messages as unknown[]).at(-1),
      { role: 'user', content: PROMPT },
      "the chat's message reached the upstream",
    );

    const dbFile = vscode.workspace.agentFile('experience.db');
    let runs: ChatRun[] = [];
    await waitFor('two chat runs in experience.db', () => (runs = chatRuns(dbFile)).length >= 2, {
      timeoutMs: 30_000,
      intervalMs: 200,
      detail: () => JSON.stringify(runs),
    });
    // The stand-in counts 11 prompt tokens and one a word: 11 + 4.
    assert.deepEqual(
      runs.map((r) => [r.source, r.role, r.model_id, r.cost_tokens]),
      [
        ['chat', 'fixer', TUNED, 15],
        ['chat', 'coder', 'qwen2.5-coder:7b', 15],
      ],
    );
    assert.ok(runs.every((r) => r.duration_ms !== null && r.duration_ms > 0));
    await vscode.session.screenshot('chat-models');
  });
});
