// End-to-end: a new user's first run in a real VS Code (code-server 4.104.0). The empty sidebar's command line
// is typed, as shown, into an integrated terminal, and the run it records appears in the sidebar; the Get
// Started walkthrough opens; Check Setup reports what is missing with its fixes.

import * as assert from 'node:assert/strict';
import { useVsCode } from './fixtures';
import { waitFor } from './wait';

const VIEW_CONTAINER = 'Agent Learning';

describe('First run in a real VS Code (code-server)', function () {
  describe('the empty state command in an integrated terminal', function () {
    const vscode = useVsCode('first-run-terminal');

    it('records a run with the command line the empty sidebar shows, typed as written', async function () {
      const { session } = vscode;
      await session.openActivityBarView(VIEW_CONTAINER);
      const sidebar = await session.findFrame('.first-run', { timeoutMs: 30_000 });
      const shown = await sidebar.locator('pre.snippet[aria-label="Command line example"]').textContent();
      assert.match(shown ?? '', /\| agent-learning record$/);

      // A terminal opened after activation: VS Code applies the extension's PATH to it.
      await session.runCommand('Terminal: Create New Terminal');
      const terminal = session.page.locator('.terminal-wrapper.active .xterm');
      await terminal.waitFor({ state: 'visible', timeout: 30_000 });
      await terminal.click();
      await session.page.keyboard.type(shown!);
      await session.page.keyboard.press('Enter');

      await waitFor(
        'the run typed in the terminal to reach the sidebar',
        async () => (await sidebar.locator('[data-kpi="runs"] .kpi-value').textContent()) === '1',
        { timeoutMs: 30_000, detail: vscode.detail },
      );
      await session.screenshot('first-run-from-terminal');
    });
  });

  describe('Get Started and Check Setup', function () {
    const vscode = useVsCode('first-run-setup', {
      // Nothing listens on port 9 (discard), and no interpreter is at this path: both lines must say so.
      userSettings: {
        'agentLearning.ollamaHost': 'http://127.0.0.1:9',
        'agentLearning.pythonPath': '/nonexistent/python3',
      },
    });

    it('opens the Get Started walkthrough from the Welcome page', async function () {
      const { session } = vscode;
      await session.runCommand('Welcome: Open Walkthrough...');
      await session.pickQuickItem('Get Started with Agent Learning');
      for (const step of ['Connect your agent', 'Review a run', 'Check your setup', 'Deploy to Ollama']) {
        await session.page
          .locator('.getting-started-step', { hasText: step })
          .first()
          .waitFor({ state: 'attached', timeout: 15_000 });
      }
      await session.screenshot('walkthrough');
    });

    it('reports the missing interpreter and the unreachable Ollama with their fixes', async function () {
      const { session } = vscode;
      await session.runCommand('Agent Learning: Check Setup');
      const rows = session.page.locator('.quick-input-list .monaco-list-row');
      await rows
        .filter({ hasText: 'Ollama is not reachable at http://127.0.0.1:9' })
        .waitFor({ timeout: 30_000 });
      const text = (await rows.allInnerTexts()).join('\n');
      assert.match(text, /Python: \/nonexistent\/python3 does not run/);
      assert.match(text, /Pick Interpreter/);
      assert.match(text, /Start Ollama/);
      await session.screenshot('check-setup');
      await session.page.keyboard.press('Escape');
    });
  });
});
