// End-to-end: Agent Learning writes no `.agent/` into a folder unasked. Activating and opening the views create
// nothing; the first run an agent records through the API creates it, keeps the run, and then asks whether to keep
// `.agent/` out of Git; the answer writes .gitignore. With notifyAfterRun on, a run the CLI records is announced
// like one recorded in VS Code, and judged from the notification.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordedId, runCli } from './cli';
import { runInDb, useVsCode } from './fixtures';
import { cliRunLine, goodRun, INBOX_FIRST } from './scenarios';
import { waitFor } from './wait';

describe('No .agent/ unasked, in a real VS Code (code-server)', function () {
  describe('in an empty folder', function () {
    const vscode = useVsCode('no-agent-dir');

    it('creates no .agent/ when activated and the sidebar and dashboard open', async function () {
      const { session, workspace } = vscode;
      await session.openActivityBarView('Agent Learning');
      const sidebar = await session.findFrame('.first-run', { timeoutMs: 30_000 });
      assert.match((await sidebar.locator('.first-run').innerText()) ?? '', /No runs recorded/);
      await session.runCommand('Agent Learning: Open Dashboard');
      const dashboard = await session.findFrame('p.notice', { timeoutMs: 30_000 });
      assert.match(await dashboard.locator('p.notice').first().innerText(), /No runs yet/);
      await session.screenshot('no-agent-dir-empty');
      assert.equal(
        fs.existsSync(workspace.agentDir),
        false,
        '.agent/ was created before anything was recorded',
      );
    });

    it('creates .agent/ with the first API run, keeps the run, asks, and writes .gitignore', async function () {
      const { session, workspace } = vscode;
      workspace.writePlan({ record: [goodRun(1)] }, '1');
      const result = await workspace.waitForResult('1', { detail: vscode.detail });
      assert.equal(result.ok, true, result.error);
      assert.equal(result.runs[0]?.recorded, true);
      assert.ok(fs.existsSync(workspace.agentFile('inbox')));

      const text = await session.waitForNotification(/created \.agent\/ in/, { timeoutMs: 30_000 });
      assert.match(text, /Keep it out of Git\?/);
      await session.screenshot('no-agent-dir-question');
      await session.page
        .locator('.notification-toast', { hasText: 'created .agent/ in' })
        .getByRole('button', { name: 'Add .agent/ to .gitignore' })
        .click();
      const gitignore = path.join(workspace.dir, '.gitignore');
      await waitFor(
        '.gitignore to ignore .agent/',
        () => fs.existsSync(gitignore) && fs.readFileSync(gitignore, 'utf8') === '/.agent/\n',
        { timeoutMs: 15_000, detail: vscode.detail },
      );
    });
  });

  describe('notifyAfterRun, for a run the CLI records', function () {
    const vscode = useVsCode('notify-cli-run', {
      plan: INBOX_FIRST,
      userSettings: { 'agentLearning.notifyAfterRun': true },
    });

    it('names the run, and Reject there changes its stored verdict', async function () {
      const { session, workspace } = vscode;
      assert.equal((await workspace.waitForResult('', { detail: vscode.detail })).ok, true);
      // The agent's own runs and the .gitignore question have toasts of their own: cleared, so that the CLI run's
      // is not one of several competing for the few that VS Code shows at once.
      await session.runCommand('Notifications: Clear All Notifications');
      await waitFor(
        'the earlier notifications to be cleared',
        async () => (await session.page.locator('.notification-toast').count()) === 0,
        { timeoutMs: 15_000, detail: vscode.detail },
      );
      const id = recordedId(await runCli(['record', '--workspace', workspace.dir], cliRunLine(1) + '\n'));

      // Its toast; or, where VS Code hid the toast (it shows few at once and hides them on a timer, which a loaded
      // machine can reach first), the same notification in the notification center.
      const named = /Run recorded from the CLI or inbox: e2e-cli-1/;
      const toast = session.page.locator('.notification-toast', { hasText: named }).first();
      const inCenter = session.page
        .locator('.notifications-center .notification-list-item', { hasText: named })
        .first();
      let notification = toast;
      try {
        await toast.waitFor({ state: 'visible', timeout: 15_000 });
      } catch {
        await session.runCommand('Notifications: Show Notifications');
        await inCenter.waitFor({ state: 'visible', timeout: 15_000 });
        notification = inCenter;
      }
      assert.match(await notification.innerText(), /\(coder\), reward \d\.\d\d/);
      await notification.getByRole('button', { name: 'Reject' }).click();
      await waitFor(
        'the rejection to reach experience.db',
        () => runInDb(workspace.agentFile('experience.db'), id)?.human === 'reject',
        { timeoutMs: 30_000, detail: vscode.detail },
      );
    });
  });
});
