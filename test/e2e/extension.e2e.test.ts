// End-to-end: Agent Learning's .vsix installed in a real VS Code (code-server 4.104.0), driven as a user and a
// user's agent would: the agent through the exported API (test/e2e/agent-extension), the user through the
// command palette, a CLI agent through `agent-learning record`. Run with `npm run test:e2e`.
//
// Each `describe` gets its own workspace and VS Code session from useVsCode(); add a scenario by adding a
// describe with the plan or seed it needs, and drive the page through fixture.session (runCommand,
// findFrame for webviews, statusBarItem, waitForNotification, screenshot).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordedId, runCli } from './cli';
import { EXTENSIONS_DIR_ENV, isAlive, useVsCode, waitForRunsInDb } from './fixtures';
import {
  EXPORT_COMMAND,
  EXPORT_RUNS,
  FIVE_RUNS,
  INBOX_FIRST,
  INBOX_WAIT,
  assertExportedGoodRuns,
  assertFiveRunsRecorded,
  assertInboxRunSeen,
  assertPlanOk,
  cliRunLine,
  type PlanResult,
} from './scenarios';
import { waitForFile } from './wait';

/** Memoises an async step that several tests of one describe build on. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= fn());
}

describe('Agent Learning in a real VS Code (code-server)', function () {
  describe('the installed .vsix', function () {
    it('holds the bundles, the wasm, the schema, the icon and the Python scripts, and no sources or maps', function () {
      const extensionsDir = process.env[EXTENSIONS_DIR_ENV]!;
      const [installed] = fs
        .readdirSync(extensionsDir)
        .filter((n) => n.startsWith('agent-learning.agent-learning-'));
      assert.ok(installed, `Agent Learning is not installed in ${extensionsDir}`);
      const root = path.join(extensionsDir, installed);
      const files = (fs.readdirSync(root, { recursive: true }) as string[])
        .filter((f) => fs.statSync(path.join(root, f)).isFile())
        .map((f) => f.split(path.sep).join('/'));
      for (const needed of [
        'dist/extension.js',
        'dist/core.js',
        'dist/cli.js',
        'dist/sql-wasm.wasm',
        'dist/learning-config.schema.json',
        'dist/webview/sidebar.js',
        'dist/webview/dashboard.js',
        'dist/webview/codicon.ttf',
        'media/agent-learning.svg',
        'python/train_lora.py',
        'python/merge_lora.py',
        'python/requirements.txt',
      ]) {
        assert.ok(files.includes(needed), `${needed} is missing from the .vsix`);
      }
      const unwanted = files.filter((f) => /^(src|test|node_modules)\//.test(f) || /\.(map|ts|css)$/.test(f));
      // The pages' stylesheets are bundled into dist/webview/*.css; the sources in media/ are not shipped.
      assert.deepEqual(
        unwanted.filter((f) => !/^dist\/webview\/[a-z]+\.css$/.test(f)),
        [],
        'files the extension never loads are in the .vsix',
      );
    });
  });

  describe('an agent records runs through the extension API', function () {
    const vscode = useVsCode('api-record', { plan: FIVE_RUNS });
    const result = once(() => vscode.workspace.waitForResult('', { detail: vscode.detail }));

    it('gets apiVersion 1, five run ids, their events, and getStats().totals.runs 5', async function () {
      const seen = await result();
      assertFiveRunsRecorded(seen);
      assert.equal(seen.workspaceTrusted, true);
    });

    it('saves the runs to .agent/experience.db', async function () {
      const ids = (await result()).runs.map((r) => r.id);
      const inDb = await waitForRunsInDb(vscode.workspace.agentFile('experience.db'), ids);
      assert.equal(inDb.length, 5);
    });

    it('keeps every run and verdict once VS Code is gone', async function () {
      const seen = await result();
      await vscode.session.close();
      // The CLI opens the store as its new owner: the saved database plus whatever the journal holds.
      const stats = await runCli(['stats', '--json', '--workspace', vscode.workspace.dir]);
      assert.equal(stats.code, 0, stats.stderr);
      const parsed = JSON.parse(stats.stdout) as NonNullable<PlanResult['stats']>;
      assert.equal(parsed.totals.runs, 5);
      const rewards = new Map(parsed.recentRuns.map((r) => [r.id, r.reward]));
      for (const run of seen.runs) assert.ok(rewards.has(run.id), `the CLI does not see run ${run.id}`);
      assert.equal(rewards.get(seen.feedback[0]!.id), seen.feedback[0]!.reward, 'the verdict was lost');
    });
  });

  describe('Export SFT Dataset from the command palette', function () {
    const vscode = useVsCode('palette-export', { plan: EXPORT_RUNS });

    it('writes .agent/sft/coder_sft.jsonl with exactly the high-reward runs', async function () {
      const seen = await vscode.workspace.waitForResult('', { detail: vscode.detail });
      assertPlanOk(seen);
      assert.equal(seen.runs.length, 5);
      const { session, workspace } = vscode;
      await session.runCommand(EXPORT_COMMAND.title);
      // last-export-coder.txt is written after the dataset, so once it is there the dataset is complete.
      const note = await waitForFile(workspace.agentFile('last-export-coder.txt'), { detail: vscode.detail });
      assert.match(note, /^3 examples$/m);
      assertExportedGoodRuns(
        fs.readFileSync(workspace.agentFile('sft', 'coder_sft.jsonl'), 'utf8'),
        EXPORT_RUNS,
      );
      await session.waitForNotification(/exported 3 coder examples/i);
      await session.screenshot('exported');
    });
  });

  describe('a run recorded by the CLI reaches the running extension through the inbox', function () {
    const vscode = useVsCode('cli-inbox', { plan: INBOX_FIRST });

    it('is counted by getStats() in the same window, without a reload', async function () {
      const { session, workspace } = vscode;
      const first = await workspace.waitForResult('', { detail: vscode.detail });
      assertPlanOk(first);
      assert.equal(first.stats.totals.runs, 2);

      // The extension host owns experience.db, so the CLI can only append to the inbox.
      const owner = workspace.lockOwner();
      assert.ok(owner !== undefined && isAlive(owner), 'no live process holds experience.db.lock');
      assert.ok(session.ownsProcess(owner), `experience.db.lock is held by pid ${owner}, not by VS Code`);

      const cliRunId = recordedId(
        await runCli(['record', '--workspace', workspace.dir], cliRunLine(1) + '\n'),
      );
      assert.equal(workspace.lockOwner(), owner, 'the CLI took the database over from VS Code');

      workspace.writePlan(INBOX_WAIT, '2');
      assertInboxRunSeen(await workspace.waitForResult('2', { detail: vscode.detail }), cliRunId);
      await waitForRunsInDb(workspace.agentFile('experience.db'), [cliRunId, ...first.runs.map((r) => r.id)]);
    });
  });
});
