// Config you can understand (#15): the Settings in Force view shows each value with its source, Reset to Default
// removes just that key from .agent/learning-config.json (the user's formatting kept), an invalid file shows its
// issues, Show Settings in Force opens the merged values; and a run view comes back with its run after a reload.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator } from 'playwright-core';
import type { CodeServerSession } from './codeServer';
import { useVsCode } from './fixtures';
import { assertPlanOk, type Plan } from './scenarios';
import { waitFor } from './wait';

/** Four-space indentation and a key order of the user's own, which a reset must keep. */
const CONFIG =
  '{\n    "autoTrain": {\n        "epochs": 5,\n        "loraRank": 8\n    },\n    "enabled": true\n}\n';
const AFTER_RESET = '{\n    "autoTrain": {\n        "loraRank": 8\n    },\n    "enabled": true\n}\n';
const TASK = 'fix-settings-bug';
const plan: Plan = {
  record: [{ taskSlug: TASK, result: { input: 'fix it', output: 'fixed', compile: true } }],
};

/** A row of a tree view by its accessible name (a setting's: "<key>: <value>, <source>"). */
function treeRow(session: CodeServerSession, label: string): Locator {
  return session.page.locator(`.monaco-list-row[aria-label="${label}"]`);
}

/** Opens the Settings in Force view with the container's other views collapsed, so its rows are not scrolled away. */
async function openSettingsView(session: CodeServerSession): Promise<void> {
  await session.openActivityBarView('Agent Learning');
  const header = (name: string) => session.page.locator('.pane-header', { hasText: name }).first();
  for (const other of ['Learning', 'Review Queue']) {
    const h = header(other);
    if ((await h.getAttribute('aria-expanded', { timeout: 15_000 })) === 'true')
      await h.click({ timeout: 10_000 });
  }
  const settings = header('Settings in Force');
  // Contributed collapsed, so that it takes no room until asked for.
  if ((await settings.getAttribute('aria-expanded', { timeout: 15_000 })) !== 'true')
    await settings.click({ timeout: 10_000 });
}

describe('Config you can understand, in a real VS Code (code-server)', function () {
  const vscode = useVsCode('settings', {
    plan,
    seed: (workspace) => {
      fs.mkdirSync(workspace.agentDir, { recursive: true });
      fs.writeFileSync(workspace.agentFile('learning-config.json'), CONFIG);
    },
  });

  before(async function () {
    assertPlanOk(await vscode.workspace.waitForResult('', { detail: vscode.detail }));
    // The test agent would run the plan again after the reload below.
    fs.rmSync(path.join(vscode.workspace.e2eDir, 'plan.json'));
  });

  it('shows each value with its source, and Reset to Default removes only that key from the file', async function () {
    const { session } = vscode;
    await openSettingsView(session);
    const epochs = treeRow(session, 'autoTrain.epochs: 5, file');
    await epochs.waitFor({ state: 'visible', timeout: 15_000 });
    await treeRow(session, 'autoTrain.loraRank: 8, file').waitFor({ state: 'visible', timeout: 5000 });
    await treeRow(session, 'autoTrain.minExamples: 500, default').waitFor({
      state: 'visible',
      timeout: 5000,
    });
    await session.screenshot('settings-in-force');

    // The inline action, shown on hover.
    await epochs.hover({ timeout: 5000 });
    await epochs.locator('.action-label[aria-label="Reset to Default"]').click({ timeout: 5000 });
    const file = vscode.workspace.agentFile('learning-config.json');
    let text = '';
    await waitFor(
      'learning-config.json to lose autoTrain.epochs and nothing else',
      () => (text = fs.readFileSync(file, 'utf8')) === AFTER_RESET,
      { timeoutMs: 15_000, detail: () => `the file: ${JSON.stringify(text)}` },
    );
    await treeRow(session, 'autoTrain.epochs: 3, default').waitFor({ state: 'visible', timeout: 15_000 });
  });

  it('opens the merged values as a read-only JSON document marking file and default values', async function () {
    const { session } = vscode;
    await session.runCommand('Agent Learning: Show Settings in Force');
    await session.editorTab('Settings in Force.jsonc').waitFor({ state: 'visible', timeout: 15_000 });
    const line = (pattern: RegExp) =>
      session.page.locator('.monaco-editor .view-line', { hasText: pattern }).first();
    await line(/"loraRank":\s8,\s\/\/\sfile/).waitFor({ state: 'visible', timeout: 15_000 });
    await line(/"epochs":\s3,\s\/\/\sdefault/).waitFor({ state: 'visible', timeout: 5000 });
    await session.runCommand('View: Close All Editors');
  });

  it('shows the key and reason of an invalid file rather than defaults', async function () {
    const { session } = vscode;
    fs.writeFileSync(vscode.workspace.agentFile('learning-config.json'), '{"autoTrain": {"epochs": 500}}\n');
    await openSettingsView(session);
    const problems = session.page
      .locator('.monaco-list-row', { hasText: 'learning-config.json is invalid' })
      .first();
    await problems.waitFor({ state: 'visible', timeout: 20_000 });
    const issue = session.page.locator('.monaco-list-row', { hasText: /autoTrain\.epochs.*100/ }).first();
    await issue.waitFor({ state: 'visible', timeout: 5000 });
    // The value in force is the last valid one (the default 3 here), said to be so.
    await treeRow(session, 'autoTrain.epochs: 3, invalid in the file').waitFor({
      state: 'visible',
      timeout: 5000,
    });
    await session.screenshot('settings-invalid');
  });

  it('brings an open run view back with its run after the window reloads', async function () {
    const { session } = vscode;
    await session.runCommand('Agent Learning: Next Run to Review');
    const tab = session.editorTab(`Run: ${TASK}`);
    await tab.waitFor({ state: 'visible', timeout: 20_000 });
    await session.findFrame('[data-section="signals"]', { timeoutMs: 30_000 });

    // Waited on as a new page load: the old page's tab would otherwise pass for the restored one.
    const reloaded = session.page.waitForEvent('load', { timeout: 60_000 });
    // The palette's page goes away under the command: its own wait for the palette to close may fail.
    await session.runCommand('Developer: Reload Window').catch(() => undefined);
    await reloaded;
    await session.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
    await tab.waitFor({ state: 'visible', timeout: 60_000 });
    await tab.click({ timeout: 10_000 });
    // The same run, from the store: its task in the header (a blank or "no such run" page has none).
    const frame = await session.findFrame('.run-header .task', { timeoutMs: 60_000 });
    assert.equal(await frame.locator('.run-header .task').first().textContent({ timeout: 10_000 }), TASK);
    await session.screenshot('run-view-restored');
  });
});
