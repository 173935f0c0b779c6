// Signals the editor observes for a GATEWAY run (#13), in code-server: an agent pointed at the gateway (the test
// agent, with Node's fetch) asks for a completion, then adds a line with a type error to `src/range.ts` through the
// editor. The gateway records the run (no files named: the file changed around it is adopted), the built-in
// TypeScript server's diagnostic becomes its `errors.type`, the share of the change still there at the first
// checkpoint its `kept`; the workspace's test task, run from the palette, fails, and its exit code becomes `tests`;
// an Undo in the editor throws the change away: `kept` drops to 0 and, with `editorSignals.keptWeight` > 0, so does
// the stored reward (the type error left with the change, and the run keeps it). Upstream: the stand-in chat server.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { startChatUpstream, type ChatUpstream } from '../support/chatUpstream';
import { freePort } from './codeServer';
import { useVsCode } from './fixtures';
import { assertPlanOk, type Plan } from './scenarios';
import { waitForSignal, waitForText } from './pageChecks';
import { waitFor } from './wait';

const FILE = 'src/range.ts';
/** Free of errors before the agent's change: its errors are the change's. */
const ORIGINAL = [
  'export function range(n: number): number[] {',
  '  const out: number[] = [];',
  '  for (let i = 0; i < n; i++) out.push(i);',
  '  return out;',
  '}',
  '',
].join('\n');
/** The agent's change: one line, and a type error in it (a string where a number is declared). */
const CHANGE = '\nexport const total: number = range(3).join("+");\n';
const STATUS_ITEM = 'agent-learning.agent-learning.agentLearning.gateway';
/** Each signal's weight: rewardWeights' defaults (0.25), and the implicit verdict's, set in the scenario's config. */
const W = 0.25;

interface Stored {
  source: string | null;
  reward: number;
  /** The latest value of each observed signal, with who observed it: `errors.type` → [1, 'editor:diagnostics']. */
  signals: Record<string, [number, string]>;
}

/** The workspace's only run and its observed signals, read from experience.db with better-sqlite3. */
function storedRun(dbFile: string): (Stored & { id: string }) | undefined {
  if (!fs.existsSync(dbFile)) return undefined;
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const run = db.prepare('SELECT id, source, reward FROM runs ORDER BY pk LIMIT 1').get() as
      { id: string; source: string | null; reward: number } | undefined;
    if (!run) return undefined;
    const rows = db
      .prepare('SELECT kind, source, value FROM run_signals WHERE run_id = ? ORDER BY at, source')
      .all(run.id) as { kind: string; source: string; value: number }[];
    return { ...run, signals: Object.fromEntries(rows.map((r) => [r.kind, [r.value, r.source]])) };
  } finally {
    db.close();
  }
}

const rewardText = (reward: number) => new RegExp(`^${reward.toFixed(2).replace('.', '\\.')}$`);

describe('Signals the editor observes for a gateway run (code-server)', function () {
  let upstream: ChatUpstream;
  let port: number;
  // Before useVsCode's hook: the workspace's files name the stand-in's and the gateway's ports.
  before(async () => {
    upstream = await startChatUpstream();
    port = await freePort();
  });
  after(async () => {
    await upstream?.stop();
  });

  const vscode = useVsCode('gateway-signals', {
    // The user's settings for this machine: a code-server window is a remote one, and reads machine-overridable
    // settings such as this one from the remote's user settings, not the browser's.
    machineSettings: { 'agentLearning.gateway.enabled': true },
    userSettings: {
      // The test agent's own files (its plan, log and results) are no agent's change: a user whose agent keeps a
      // log in the workspace excludes it the same way (else it would be part of the run, and never reverted).
      'files.watcherExclude': { '**/.e2e/**': true },
    },
    seed: (ws) => {
      fs.mkdirSync(path.join(ws.dir, 'src'), { recursive: true });
      fs.writeFileSync(path.join(ws.dir, FILE), ORIGINAL);
      fs.writeFileSync(
        path.join(ws.dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { strict: true, noEmit: true, target: 'es2022' },
          include: ['src'],
        }),
      );
      fs.mkdirSync(path.join(ws.dir, '.vscode'), { recursive: true });
      // Machine-scoped: in a remote window (code-server is one) VS Code reads it from the workspace. The gateway's
      // `/v1` requests go to the Ollama host's own OpenAI-compatible API: the stand-in's.
      fs.writeFileSync(
        path.join(ws.dir, '.vscode', 'settings.json'),
        JSON.stringify({ 'agentLearning.ollamaHost': upstream.host }),
      );
      // The project's test task, in the Test group; it fails (no npm install in a throwaway workspace).
      fs.writeFileSync(
        path.join(ws.dir, '.vscode', 'tasks.json'),
        JSON.stringify({
          version: '2.0.0',
          tasks: [
            {
              label: 'unit tests',
              type: 'shell',
              command: 'node -e "process.exit(1)"',
              group: { kind: 'test', isDefault: true },
              problemMatcher: [],
            },
          ],
        }),
      );
      fs.mkdirSync(ws.agentDir, { recursive: true });
      fs.writeFileSync(
        ws.agentFile('learning-config.json'),
        JSON.stringify({
          gateway: { port },
          // The implicit verdict counts (off by default); what was kept is measured 5 s after the run (and at
          // an hour, which keeps the run observed for the whole test). Diagnostics count 200 ms after they stop
          // changing (default 1.5 s), so that a count after the revert would show before the test looks.
          // The run's change (its diff) is taken when its window closes: 6 s after it here (default 30 s).
          editorSignals: { keptWeight: W, keptAfterSec: [5, 3600], settleMs: 200, runWindowMs: 6000 },
        }),
      );
    },
  });

  it("adopts the file changed after a gateway run; its type error, the test task's exit code and a revert each change the stored reward and show in the run view", async function () {
    const { session, workspace } = vscode;
    const dbFile = workspace.agentFile('experience.db');
    let stored: ReturnType<typeof storedRun>;
    const waitForStored = (what: string, ok: (s: Stored) => boolean) =>
      waitFor(what, () => (stored = storedRun(dbFile)) !== undefined && ok(stored) && stored, {
        timeoutMs: 90_000,
        intervalMs: 250,
        detail: () => `the run in experience.db: ${JSON.stringify(stored)}\n${vscode.detail()}`,
      });
    const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;

    // The gateway is listening once its status bar item names the port.
    const gatewayListening = () =>
      waitFor(
        `the gateway's status bar item to show port ${port}`,
        async () =>
          (await session.statusBarItem(STATUS_ITEM).textContent({ timeout: 2000 }))?.includes(`:${port}`),
        { timeoutMs: 30_000, intervalMs: 250, detail: vscode.detail },
      );
    await gatewayListening();

    const plan: Plan = {
      turns: [
        {
          baseUrl: `http://127.0.0.1:${port}/v1`,
          model: 'qwen2.5-coder:7b',
          prompt: 'Add the total of range(3) to src/range.ts.',
          edit: { file: FILE, append: CHANGE },
        },
      ],
    };
    workspace.writePlan(plan, '-gateway');
    const result = await workspace.waitForResult('-gateway', { timeoutMs: 60_000, detail: vscode.detail });
    assertPlanOk(result);
    assert.equal(result.runs.length, 0, 'the agent did not use the API');
    assert.equal(result.turns[0]?.status, 200);
    assert.equal(result.turns[0]?.reply, 'Hello from the stand-in');
    assert.deepEqual(
      upstream.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body?.model),
      ['qwen2.5-coder:7b'],
      'the gateway forwarded the request to the stand-in',
    );

    // 1 + 2. The gateway's run; its change (the file, named nowhere) was adopted: the TypeScript server's error is
    // its errors.type (errors term 1/(1+1)), and the whole change was still there at 5 s (kept 1).
    const { id } = (await waitForStored(
      'the gateway run with the type error and kept 1 (reward 0.75)',
      (s) =>
        s.signals['errors.type']?.[0] === 1 &&
        s.signals.kept?.[0] === 1 &&
        near(s.reward, (0.5 * W + 1 * W) / (2 * W)),
    )) as Stored & { id: string };
    assert.equal(stored!.source, 'gateway');
    assert.deepEqual(stored!.signals['errors.type'], [1, 'editor:diagnostics']);
    assert.deepEqual(stored!.signals.kept, [1, 'editor:kept']);

    // 3. The test task from the palette: it exits 1, so tests is 0 (a failed test run).
    await session.runCommand('Tasks: Run Test Task');
    await waitForStored(
      'tests 0 from the task (reward 0.5)',
      (s) => s.signals.tests?.[0] === 0 && near(s.reward, (0.5 * W + 0 * W + 1 * W) / (3 * W)),
    );
    assert.deepEqual(stored!.signals.tests, [0, 'editor:task']);

    // The run view (the review queue's only run) shows each signal with its origin.
    await session.runCommand('Agent Learning: Next Run to Review');
    let view = await session.findFrame('[data-section="signals"]', { timeoutMs: 30_000 });
    await waitForText(view, '.run-source', /via gateway/, 'the run source', 60_000);
    await waitForSignal(view, 'tests', /^failed$/, /observed by editor:task/);
    await waitForSignal(view, 'type', /^1 error$/, /observed by editor:diagnostics/);
    await waitForSignal(view, 'kept', /^100% of the change kept$/);
    await waitForText(view, '.reward-value', rewardText(0.5), 'the reward', 60_000);
    // The change the editor took once the run's window closed: the file it adopted, and the agent's line in the diff.
    await waitForText(
      view,
      '.change-summary',
      /^1 file changed, \+2 −0 · observed by the editor, /,
      'the change',
      60_000,
    );
    await waitForText(
      view,
      '.changed-files li',
      /^src\/range\.ts \+2 −0$/,
      'the changed file, seen before the run',
      60_000,
    );
    assert.ok(
      (await view.locator('pre.diff .diff-add').allTextContents()).includes(
        '+export const total: number = range(3).join("+");\n',
      ),
      'the diff shows the line the agent added',
    );
    await view.locator('[data-section="change"]').scrollIntoViewIfNeeded({ timeout: 5000 });
    await session.screenshot('gateway-run-view-change');
    await view.locator('[data-signal="kept"]').scrollIntoViewIfNeeded({ timeout: 5000 });
    await session.screenshot('gateway-run-view');

    // 4. The user throws the agent's change away: Undo in its editor. ("File: Revert File" would not do: running
    // the task saved the file first, as VS Code does by default with task.saveBeforeRun.)
    await session.editorTab('range.ts').click({ timeout: 15_000 });
    await session.page.locator('.monaco-editor .view-lines').first().click({ timeout: 15_000 });
    await session.page.keyboard.press('Control+Z');
    await waitForStored(
      'kept 0 after the revert (reward 0.17)',
      (s) => s.signals.kept?.[0] === 0 && near(s.reward, (0.5 * W + 0 * W + 0 * W) / (3 * W)),
    );
    assert.deepEqual(stored!.signals.kept, [0, 'editor:kept']);
    // The TypeScript server has checked the text without the change: no problems left.
    await session.page
      .locator('.statusbar-item[id="status.problems"][aria-label="No Problems"]')
      .waitFor({ state: 'visible', timeout: 30_000 });

    await session.editorTab('Run: gateway').click({ timeout: 15_000 });
    view = await session.findFrame('[data-section="signals"]', { timeoutMs: 30_000 });
    await waitForSignal(view, 'kept', /^0% of the change kept$/, /observed by editor:kept/);
    // The type error went with the change; the run keeps it (the reverted text's diagnostics are not the run's).
    await waitForSignal(view, 'type', /^1 error$/);
    await waitForText(view, '.reward-value', rewardText(0.17), 'the lowered reward', 60_000);
    await view.locator('[data-signal="kept"]').scrollIntoViewIfNeeded({ timeout: 5000 });
    await session.screenshot('gateway-run-view-reverted');
    assert.equal(storedRun(dbFile)?.id, id);
    await gatewayListening(); // still: nothing in the scenario switched it off
    assert.ok(
      near(storedRun(dbFile)!.reward, 0.5 / 3),
      `reward after the revert: ${storedRun(dbFile)?.reward}`,
    );
  });
});
