// Signals the editor observes (#13): a run recorded through the API names the TypeScript file it changed; a type
// error typed into that file reaches the built-in TypeScript server, its diagnostic becomes the run's
// `errors.type` signal once settled, the stored reward drops, and the run view shows the signal with its origin.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runInDb, useVsCode } from './fixtures';
import { assertPlanOk, type Plan } from './scenarios';
import { waitForSignal, waitForText } from './pageChecks';
import { waitFor } from './wait';

const FILE = 'src/sum.ts';
const plan: Plan = {
  record: [
    {
      taskSlug: 'add-sum',
      // Compiled, and nothing else reported: reward 1 until the editor says more.
      result: {
        input: 'write sum',
        output: 'export const sum = (a: number, b: number) => a + b;',
        compile: true,
      },
      files: [FILE],
    },
  ],
};
/** compile 1 and one type error (errors term 1/(1+1)), each weighted 0.25 by default. */
const AFTER = (1 * 0.25 + 0.5 * 0.25) / 0.5;

describe('Signals the editor observes (code-server)', function () {
  const vscode = useVsCode('signals', {
    plan,
    seed: (workspace) => {
      fs.mkdirSync(path.join(workspace.dir, 'src'), { recursive: true });
      fs.writeFileSync(
        path.join(workspace.dir, FILE),
        'export const sum = (a: number, b: number) => a + b;\n',
      );
      fs.writeFileSync(
        path.join(workspace.dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true }, include: ['src'] }),
      );
    },
  });

  it("a type error typed into the run's file becomes its errors.type signal, lowers the stored reward and shows in the run view", async function () {
    const result = await vscode.workspace.waitForResult('', { detail: vscode.detail });
    assertPlanOk(result);
    const id = result.runs[0]!.id;
    assert.equal(result.runs[0]!.reward, 1);
    const { session } = vscode;

    // Open the file (the TypeScript server reports on open documents) and type a type error at its end.
    await session.runCommand('Go to File...');
    await session.page.keyboard.type('sum.ts');
    await session.pickQuickItem(/sum\.ts/);
    const editor = session.page.locator('.monaco-editor .view-lines').first();
    await editor.click({ timeout: 20_000 });
    await session.page.keyboard.press('Control+End');
    await session.page.keyboard.type('\nexport const broken: number = "not a number";\n');

    const dbFile = vscode.workspace.agentFile('experience.db');
    let stored: ReturnType<typeof runInDb>;
    await waitFor(
      `experience.db to hold reward ${AFTER} for ${id} after the TypeScript diagnostic`,
      () => {
        stored = runInDb(dbFile, id);
        return stored !== undefined && Math.abs(stored.reward - AFTER) < 1e-9;
      },
      { timeoutMs: 90_000, intervalMs: 250, detail: () => `the run in the file: ${JSON.stringify(stored)}` },
    );

    // The only run: the queue's first, which Next opens when no run view is focused.
    await session.runCommand('Agent Learning: Next Run to Review');
    const view = await session.findFrame('[data-section="signals"]', { timeoutMs: 30_000 });
    await waitForSignal(view, 'type', /^1 error$/, /observed by editor:diagnostics/);
    await waitForText(view, '.run-source', /via api/, 'the run source', 60_000);
    await waitForText(
      view,
      '.reward-value',
      new RegExp(AFTER.toFixed(2).replace('.', '\\.')),
      'the new reward',
      60_000,
    );
    await session.screenshot('signals-run-view');
  });
});
