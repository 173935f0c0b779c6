// End-to-end: what a user sees of Agent Learning in a real VS Code (code-server 4.104.0): the sidebar (activity
// bar view "Agent Learning"), the dashboard panel, the status bar item, Restricted Mode, and the README's
// screenshots. Runs are recorded by the test agent through the API (or seeded as an agent's inbox file); the
// page is driven as a user drives it: clicks on the activity bar, the status bar and the sidebar's buttons, and
// the command palette. Every wait is bounded and says what it waited for.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import { ARTIFACTS_DIR, REPO_ROOT, type CodeServerSession } from './codeServer';
import { runInDb, useVsCode, waitForRunsInDb } from './fixtures';
import { overflowsSideways, paintedCanvases, waitForText, type CanvasPaint } from './pageChecks';
import { realisticRuns, writeInboxFile, writeModelVariants } from './realisticRuns';
import { assertPlanOk, badRun, goodRun, type Plan, type PlannedRun } from './scenarios';
import { waitFor } from './wait';
import { layoutProblems } from '../support/layout';

const VIEW_CONTAINER = 'Agent Learning';
const STATUS_ITEM = 'agent-learning.agent-learning.agentLearning.status';
const DASHBOARD_TITLE = 'Agent Learning';
/** Present once the sidebar shows its figures (not the loading or first-run states). */
const SIDEBAR_READY = '[data-kpi="runs"] .kpi-value';
/** Rendered right after the charts are drawn (DashboardView.render: charts, then tables). */
const DASHBOARD_READY = '[data-card="prompts"] .details table';

/** Slugs an agent could send that are markup: the views must show them as text. */
const HOSTILE_SLUGS = ['<img src=x onerror=alert(1)>', '"><b>bold</b><script>alert(2)</script>'];

function hostileRun(n: number, taskSlug: string): PlannedRun {
  return { ...goodRun(n), taskSlug };
}

/** The reward rule (src/core/learning/reward.ts) with the default weights, 0.25 each: the mean of the signals present. */
function expectedReward(run: PlannedRun, human: 'accept' | 'reject' | null): number {
  const r = run.result as {
    compile?: boolean;
    tests?: { passed: number; total: number };
    errors?: Record<string, number>;
  };
  const terms: number[] = [];
  if (r.compile !== undefined) terms.push(r.compile ? 1 : 0);
  if (r.tests && r.tests.total > 0) terms.push(r.tests.passed / r.tests.total);
  if (r.errors) terms.push(1 / (1 + Object.values(r.errors).reduce((a, b) => a + b, 0)));
  if (human) terms.push(human === 'accept' ? 1 : 0);
  return terms.reduce((a, b) => a + b, 0) / terms.length;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Opens the sidebar from the activity bar and returns its webview frame once it shows figures. */
async function openSidebar(session: CodeServerSession): Promise<Frame> {
  await session.openActivityBarView(VIEW_CONTAINER);
  return session.findFrame(SIDEBAR_READY, { timeoutMs: 30_000 });
}

/** The dashboard's webview frame, once its charts are drawn and its tables rendered. */
function dashboardFrame(session: CodeServerSession): Promise<Frame> {
  return session.findFrame(DASHBOARD_READY, { timeoutMs: 30_000 });
}

/** Closes every editor (the dashboard included) and waits until no dashboard frame is left. */
async function closeEditors(session: CodeServerSession): Promise<void> {
  if ((await session.editorTab(DASHBOARD_TITLE).count()) === 0) return;
  await session.runCommand('View: Close All Editors');
  await session.editorTab(DASHBOARD_TITLE).waitFor({ state: 'detached', timeout: 15_000 });
  await waitFor(
    'the closed dashboard to leave the page',
    async () => {
      for (const frame of session.page.frames()) {
        if (!frame.isDetached() && (await frame.$(DASHBOARD_READY).catch(() => null))) return false;
      }
      return true;
    },
    { timeoutMs: 15_000 },
  );
}

describe('Agent Learning views in a real VS Code (code-server)', function () {
  describe('the sidebar', function () {
    const runs = [
      goodRun(1),
      badRun(1),
      hostileRun(2, HOSTILE_SLUGS[0]!),
      goodRun(3),
      badRun(2),
      hostileRun(4, HOSTILE_SLUGS[1]!),
      goodRun(5),
    ];
    const plan: Plan = { role: 'coder', complexity: 'medium', record: runs };
    const vscode = useVsCode('sidebar', { plan });
    let result: Awaited<ReturnType<typeof vscode.workspace.waitForResult>> | undefined;
    const recorded = async () =>
      (result ??= await vscode.workspace.waitForResult('', { detail: vscode.detail }));

    it('shows the recorded runs, their average reward and their task slugs as text', async function () {
      const seen = await recorded();
      assertPlanOk(seen);
      assert.equal(seen.runs.length, runs.length);
      const { avgReward, count } = seen.stats.recentStats;
      assert.equal(count, runs.length);
      const mean = seen.runs.reduce((sum, r) => sum + r.reward, 0) / seen.runs.length;
      assert.ok(Math.abs(avgReward - mean) < 1e-9, `getStats() averages ${avgReward}, the runs ${mean}`);

      const dialogs: string[] = [];
      vscode.session.page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss().catch(() => undefined);
      });
      const frame = await openSidebar(vscode.session);
      await waitForText(frame, SIDEBAR_READY, String(runs.length), `the Runs figure to read ${runs.length}`);
      await waitForText(
        frame,
        '[data-kpi="avg-reward"] .kpi-value',
        avgReward.toFixed(2),
        `the Avg reward figure to read getStats().recentStats.avgReward (${avgReward.toFixed(2)})`,
      );

      // Latest runs, newest first, each slug exactly as the agent sent it.
      const slugs = await frame.locator('ul.runs li.run .task').allTextContents();
      assert.deepEqual(
        slugs,
        runs.map((r) => r.taskSlug).reverse(),
        'the latest runs list does not show the task slugs, newest first',
      );
      for (const slug of HOSTILE_SLUGS) {
        const id = seen.runs[runs.findIndex((r) => r.taskSlug === slug)]!.id;
        const task = frame.locator(`li.run[data-run-id="${id}"] .task`);
        assert.equal(await task.textContent(), slug, `the slug ${slug} is not shown as it was sent`);
        assert.equal(await task.locator('*').count(), 0, `the slug ${slug} became elements`);
      }
      assert.equal(
        await frame.locator('#root img, #root b, #root script').count(),
        0,
        'a slug was parsed as HTML',
      );
      assert.deepEqual(dialogs, [], 'a slug ran script (a dialog opened)');
      assert.equal(await overflowsSideways(frame), false, 'the sidebar scrolls sideways');
      await vscode.session.screenshot('sidebar');
    });

    it('Accept on a run marks it accepted and stores the verdict and the new reward', async function () {
      const seen = await recorded();
      const index = runs.findIndex((r) => r.taskSlug === badRun(1).taskSlug);
      const run = runs[index]!;
      const id = seen.runs[index]!.id;
      const before = expectedReward(run, null);
      const after = expectedReward(run, 'accept');
      assert.ok(Math.abs(seen.runs[index]!.reward - before) < 1e-9, 'the recorded reward is not the rule’s');

      const frame = await openSidebar(vscode.session);
      const row = frame.locator(`li.run[data-run-id="${id}"]`);
      const accept = row.getByRole('button', { name: `Accept run ${run.taskSlug}`, exact: true });
      const reject = row.getByRole('button', { name: `Reject run ${run.taskSlug}`, exact: true });
      assert.equal(await accept.getAttribute('aria-pressed'), 'false', 'the run starts out accepted');
      await waitForText(frame, `li.run[data-run-id="${id}"] .reward`, before.toFixed(2), 'the reward before');

      await accept.click({ timeout: 10_000 });
      // The view shows the verdict at once and the host's next state brings the recomputed reward.
      await waitFor(
        'the Accept button to show as chosen',
        async () => (await accept.getAttribute('aria-pressed')) === 'true',
        {
          timeoutMs: 10_000,
        },
      );
      await waitForText(
        frame,
        `li.run[data-run-id="${id}"] .reward`,
        after.toFixed(2),
        `the run's reward to read ${after.toFixed(2)} after Accept`,
      );
      assert.equal(await accept.getAttribute('aria-pressed'), 'true', 'the host state dropped the verdict');
      assert.equal(await reject.getAttribute('aria-pressed'), 'false');

      // The database (saved in batches about once a second), read independently of the extension.
      const dbFile = vscode.workspace.agentFile('experience.db');
      let stored: ReturnType<typeof runInDb>;
      await waitFor(
        `experience.db to hold human='accept' and reward ${after} for ${id}`,
        () => {
          stored = runInDb(dbFile, id);
          return stored?.human === 'accept' && Math.abs(stored.reward - after) < 1e-9;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 200,
          detail: () => `the run in the file: ${JSON.stringify(stored)}`,
        },
      );

      // And an agent asking getStats() afterwards sees it too.
      vscode.workspace.writePlan({}, '2');
      const later = await vscode.workspace.waitForResult('2', { detail: vscode.detail });
      assertPlanOk(later);
      const inStats = later.stats.recentRuns.find((r) => r.id === id);
      assert.equal(inStats?.human, 'accept', `getStats().recentRuns: ${JSON.stringify(inStats)}`);
      assert.ok(
        Math.abs(inStats.reward - after) < 1e-9,
        `getStats() reward ${inStats.reward}, expected ${after}`,
      );
    });

    it('a click on a run in the sidebar opens it with its output and signals, and Reject there stores the verdict', async function () {
      const seen = await recorded();
      const index = runs.findIndex((r) => r.taskSlug === goodRun(3).taskSlug);
      const run = runs[index]!;
      const id = seen.runs[index]!.id;
      const after = expectedReward(run, 'reject');

      const sidebar = await openSidebar(vscode.session);
      await sidebar
        .locator(`li.run[data-run-id="${id}"]`)
        .getByRole('button', { name: `Open run ${run.taskSlug}`, exact: true })
        .click({ timeout: 10_000 });
      const view = await vscode.session.findFrame('[data-section="output"]', { timeoutMs: 30_000 });
      await waitForText(view, 'h1 .task', run.taskSlug, 'the run view to show the run');
      const result = run.result as { output: string };
      await waitForText(
        view,
        '[data-section="output"]',
        new RegExp(escapeRegExp(result.output)),
        'the output',
      );
      await waitForText(view, '[data-signal="compile"] td:nth-child(2)', 'compiled', 'the compile signal');
      await waitForText(view, '[data-signal="tests"] td:nth-child(2)', '4 / 4 passed', 'the tests signal');
      await waitForText(view, '[data-signal="human"] td:nth-child(2)', 'accepted', 'the agent’s verdict');

      await view
        .getByRole('button', { name: `Reject run ${run.taskSlug}`, exact: true })
        .click({ timeout: 10_000 });
      await waitForText(view, '.verdict-state', /^Rejected/, 'the run view to show the new verdict');
      await waitForText(view, '.reward-value', after.toFixed(2), `the reward to read ${after.toFixed(2)}`);
      const dbFile = vscode.workspace.agentFile('experience.db');
      let stored: ReturnType<typeof runInDb>;
      await waitFor(
        `experience.db to hold human='reject' and reward ${after} for ${id}`,
        () => {
          stored = runInDb(dbFile, id);
          return stored?.human === 'reject' && Math.abs(stored.reward - after) < 1e-9;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 200,
          detail: () => `the run in the file: ${JSON.stringify(stored)}`,
        },
      );
      // Undo restores the verdict it had before (the agent's accept), not "no verdict".
      await view
        .getByRole('button', { name: 'Undo: back to accept', exact: true })
        .click({ timeout: 10_000 });
      await waitForText(view, '.verdict-state', /^Accepted/, 'Undo to restore the accept');
      await vscode.session.screenshot('run-view');
    });

    // Last in this window: it leaves the side bar at its narrowest.
    it('at the narrowest side bar VS Code allows (170 px), no text overlaps and no number wraps or is cut', async function () {
      await recorded();
      const { session } = vscode;
      const frame = await openSidebar(session);
      await waitForText(frame, SIDEBAR_READY, String(runs.length), 'the sidebar to show the runs');
      // Drag the sash between the side bar and the editor to 130 px: VS Code stops it at the side bar's minimum
      // width (dragged below half of that, it would close the side bar instead).
      const sidebar = session.page.locator('.part.sidebar');
      const box = (await sidebar.boundingBox())!;
      const y = box.y + box.height / 2;
      await session.page.mouse.move(box.x + box.width - 1, y);
      await session.page.mouse.down();
      await session.page.mouse.move(box.x + 130, y, { steps: 12 });
      await session.page.mouse.up();
      let width = 0;
      await waitFor(
        'the side bar to be 170 px wide',
        async () => Math.abs((width = (await sidebar.boundingBox())!.width) - 170) <= 1,
        { timeoutMs: 10_000, detail: () => `it is ${width} px wide` },
      );
      await waitFor(
        'the sidebar page to take the new width',
        async () => Number(await frame.evaluate('document.documentElement.clientWidth')) <= 170,
        { timeoutMs: 10_000 },
      );
      const problems = await layoutProblems(frame);
      await session.screenshot('sidebar-170');
      assert.deepEqual(problems, [], 'layout problems at 170 px');
      assert.equal(await overflowsSideways(frame), false, 'the sidebar scrolls sideways at 170 px');
    });
  });

  describe('the dashboard and the status bar', function () {
    const models = ['qwen2.5-coder:7b', 'gpt-4o-mini', 'deepseek-coder-v2:16b'];
    const prompts = ['default', 'concise'];
    const runs: PlannedRun[] = [goodRun(1), badRun(1), goodRun(2), goodRun(3), badRun(2), goodRun(4)].map(
      (run, i) => ({ ...run, modelId: models[i % models.length]!, promptId: prompts[i % prompts.length]! }),
    );
    const vscode = useVsCode('dashboard', { plan: { role: 'coder', record: runs } });
    let result: Awaited<ReturnType<typeof vscode.workspace.waitForResult>> | undefined;
    const recorded = async () =>
      (result ??= await vscode.workspace.waitForResult('', { detail: vscode.detail }));

    it('the status bar shows "<avg> · N runs", and a click on it opens the dashboard', async function () {
      const seen = await recorded();
      assertPlanOk(seen);
      const { session } = vscode;
      await closeEditors(session);
      const expected = `${seen.stats.recentStats.avgReward.toFixed(2)} · ${runs.length} runs`;
      const item = session.statusBarItem(STATUS_ITEM);
      let shown = '';
      await waitFor(
        `the status bar item to read "${expected}"`,
        async () => (shown = (await item.innerText({ timeout: 2000 })).trim()) === expected,
        { timeoutMs: 15_000, detail: () => `it reads ${JSON.stringify(shown)}` },
      );

      await item.click({ timeout: 10_000 });
      await session.editorTab(DASHBOARD_TITLE).waitFor({ state: 'visible', timeout: 15_000 });
      const frame = await dashboardFrame(session);
      await waitForText(frame, '.total-runs', `${runs.length} runs recorded`, 'the dashboard header');
    });

    it('"Agent Learning: Open Dashboard" from the palette draws the charts and lists the models and prompts', async function () {
      const seen = await recorded();
      assertPlanOk(seen);
      const { session } = vscode;
      await closeEditors(session);
      await session.runCommand('Agent Learning: Open Dashboard');
      await session.editorTab(DASHBOARD_TITLE).waitFor({ state: 'visible', timeout: 15_000 });
      const frame = await dashboardFrame(session);

      let paint: CanvasPaint[] = [];
      await waitFor(
        'the five charts (reward, prompt and model shares, models, prompts) to be drawn',
        async () => {
          paint = await paintedCanvases(frame);
          const cards = paint.map((p) => p.card).sort();
          // A drawn chart has axes, labels and data: well over 1% of its pixels.
          return (
            cards.join() === 'model-share,models,prompt-share,prompts,reward' &&
            paint.every((p) => p.width > 0 && p.height > 0 && p.painted > (p.width * p.height) / 100)
          );
        },
        { timeoutMs: 15_000, detail: () => `the canvases: ${JSON.stringify(paint)}` },
      );

      const cellsOf = (card: string) => frame.locator(`[data-card="${card}"] tbody tr td:first-child .name`);
      assert.deepEqual((await cellsOf('models').allTextContents()).sort(), [...models].sort());
      assert.deepEqual((await cellsOf('prompts').allTextContents()).sort(), [...prompts].sort());
      // Each model's run count, as the table shows it.
      for (const model of models) {
        const row = frame.locator(`[data-card="models"] tbody tr`, {
          has: frame.locator(`.name[title="${model}"]`),
        });
        const count = runs.filter((r) => r.modelId === model).length;
        assert.equal(
          (await row.locator('td').nth(1).textContent())?.trim(),
          String(count),
          `runs of ${model}`,
        );
      }
      assert.equal(await overflowsSideways(frame), false, 'the dashboard scrolls sideways');
      await session.screenshot('dashboard');
    });
  });

  describe('an untrusted workspace (Restricted Mode)', function () {
    const runs = [goodRun(1), badRun(1), goodRun(2)];
    const vscode = useVsCode('untrusted', { trust: 'restrict', plan: { role: 'coder', record: runs } });
    let result: Awaited<ReturnType<typeof vscode.workspace.waitForResult>> | undefined;
    const recorded = async () =>
      (result ??= await vscode.workspace.waitForResult('', { detail: vscode.detail }));

    it('records runs through the API and saves them', async function () {
      const seen = await recorded();
      assertPlanOk(seen);
      assert.equal(seen.workspaceTrusted, false, 'the workspace was trusted');
      assert.equal(seen.runs.length, runs.length);
      await waitForRunsInDb(
        vscode.workspace.agentFile('experience.db'),
        seen.runs.map((r) => r.id),
      );
    });

    it('shows the runs in the sidebar, with Train and Deploy disabled', async function () {
      await recorded();
      const frame = await openSidebar(vscode.session);
      await waitForText(frame, SIDEBAR_READY, String(runs.length), `the Runs figure to read ${runs.length}`);
      await waitForText(frame, '.notice', /Restricted Mode/, 'the Restricted Mode notice');
      for (const name of ['Train', 'Deploy']) {
        const button = frame.getByRole('button', { name, exact: true });
        assert.equal(await button.isDisabled(), true, `${name} is enabled in Restricted Mode`);
        assert.equal(await button.getAttribute('title'), 'Needs a trusted workspace');
      }
      assert.equal(await frame.getByRole('button', { name: 'Export', exact: true }).isDisabled(), false);
      await vscode.session.screenshot('untrusted-sidebar');
    });

    it('does not offer Train in the palette, and says why when an agent runs it anyway', async function () {
      await recorded();
      const { session, workspace } = vscode;
      // enablement "isWorkspaceTrusted": VS Code leaves a disabled command out of the palette.
      const offered = (title: string, offers: string[]) =>
        offers.some((o) => o === title || o.startsWith(`${title},`));
      for (const title of [
        'Agent Learning: Train LoRA Adapter',
        'Agent Learning: Deploy to Ollama',
        'Agent Learning: Roll Back Deployment',
      ]) {
        const offers = await session.paletteOffers(title);
        assert.ok(
          !offered(title, offers),
          `the palette offers "${title}" in Restricted Mode: ${offers.join(' | ')}`,
        );
      }
      const exportOffers = await session.paletteOffers('Agent Learning: Export SFT Dataset');
      assert.ok(
        offered('Agent Learning: Export SFT Dataset', exportOffers),
        `Export is not offered: ${exportOffers}`,
      );

      // executeCommand does not check enablement: the command itself refuses, and says why.
      workspace.writePlan({ commands: [{ id: 'agentLearning.train' }] }, '2');
      assertPlanOk(await workspace.waitForResult('2', { detail: vscode.detail }));
      const toast = await session.waitForNotification(/Training is disabled in an untrusted workspace/);
      assert.match(toast, /Trust the workspace to enable it/);
    });
  });

  describe('README screenshots (≈300 realistic runs, 1280×800, dark theme)', function () {
    const SEEDED = 300;
    // A few live runs through the API on top of the seeded ones: with autoExport.minRuns 40 they trigger the
    // automatic exports that the dashboard's timeline shows.
    const live: PlannedRun[] = [
      { ...goodRun(1), taskSlug: 'add-rate-limiter-41', role: 'coder' },
      { ...goodRun(2), taskSlug: 'review-auth-middleware-7', role: 'reviewer' },
    ];
    const vscode = useVsCode('readme-screenshots', {
      folderName: 'acme-shop',
      viewport: { width: 1280, height: 800 },
      userSettings: { 'workbench.colorTheme': 'Default Dark Modern' },
      seed: (workspace) => {
        writeModelVariants(workspace.agentDir);
        fs.writeFileSync(
          workspace.agentFile('learning-config.json'),
          JSON.stringify({ autoExport: { minRuns: 40 } }, null, 2) + '\n',
        );
        writeInboxFile(workspace.agentDir, realisticRuns(SEEDED, { seed: 7, textChars: 300 }));
      },
      plan: { role: 'coder', record: live },
    });
    /** Into docs/screenshots/ with E2E_README_SCREENSHOTS=1 (`npm run screenshots`), else test-artifacts. */
    const target = (name: string) =>
      process.env.E2E_README_SCREENSHOTS === '1'
        ? path.join(REPO_ROOT, 'docs/screenshots', name)
        : path.join(ARTIFACTS_DIR, `readme-${name}`);
    const total = SEEDED + live.length;

    async function save(session: CodeServerSession, name: string): Promise<void> {
      const file = target(name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // The resting state: no hover effect, no transient "Activating Extensions…" in the status bar.
      await session.page.mouse.move(0, 0);
      let status = '';
      await waitFor(
        'the status bar to settle (no "Activating Extensions")',
        async () =>
          !/Activating Extensions/i.test((status = await session.page.locator('.statusbar').innerText())),
        { timeoutMs: 30_000, detail: () => `the status bar reads ${JSON.stringify(status)}` },
      );
      await session.page.screenshot({ path: file, timeout: 15_000 });
      const kb = fs.statSync(file).size / 1024;
      assert.ok(kb <= 300, `${file} is ${kb.toFixed(0)} KB (keep README screenshots under 300 KB)`);
    }

    it('saves the sidebar (beside the learning config it opens)', async function () {
      const seen = await vscode.workspace.waitForResult('', { detail: vscode.detail });
      assertPlanOk(seen);
      assert.equal(seen.stats.totals.runs, total);
      const { session } = vscode;
      const frame = await openSidebar(session);
      await waitForText(frame, SIDEBAR_READY, String(total), `the Runs figure to read ${total}`);
      await frame.locator('ul.runs li.run').nth(9).waitFor({ state: 'attached', timeout: 10_000 });
      assert.equal(await overflowsSideways(frame), false, 'the sidebar scrolls sideways');
      // The latest runs, for checking their layout (test-artifacts only).
      // Scrolled inside the page in one step: the sidebar may re-render (replacing its elements) at any time.
      await scrollIntoView(frame, 'ul.runs');
      await session.screenshot('sidebar-runs');
      // The sidebar's Learning Config button opens .agent/learning-config.json: the editor shows what configures it.
      await frame.getByRole('button', { name: 'Learning Config', exact: true }).click({ timeout: 10_000 });
      await session.editorTab('learning-config.json').waitFor({ state: 'visible', timeout: 15_000 });
      await session.page
        .locator('.monaco-editor .view-line', { hasText: 'minRuns' })
        .first()
        .waitFor({ state: 'visible', timeout: 15_000 });
      // The button was scrolled into view to be clicked: back to the top, where the figures are.
      await scrollIntoView(frame, '[data-kpi="runs"]');
      await save(session, 'sidebar.png');
    });

    it('saves the dashboard (full width: the side bar closed)', async function () {
      const { session } = vscode;
      const sidebar = await openSidebar(session);
      await sidebar.getByRole('button', { name: 'Open Dashboard', exact: true }).click({ timeout: 10_000 });
      const frame = await dashboardFrame(session);
      await waitForText(frame, '.total-runs', `${total} runs recorded`, 'the dashboard header');
      // Clicking the showing view container's icon again closes the side bar.
      await session.activityBarItem(VIEW_CONTAINER).click({ timeout: 10_000 });
      await session.page.locator('.part.sidebar').waitFor({ state: 'hidden', timeout: 10_000 });
      await frame
        .locator('[data-card="timeline"] li.event')
        .first()
        .waitFor({ state: 'attached', timeout: 15_000 });
      let paint: CanvasPaint[] = [];
      await waitFor(
        'the five charts to be drawn at the new width',
        async () => {
          paint = await paintedCanvases(frame);
          const grid = await frame.locator('.grid').boundingBox();
          return (
            paint.length === 5 &&
            paint.every((p) => p.painted > (p.width * p.height) / 100) &&
            grid !== null &&
            paint.some((p) => p.card === 'reward' && p.width > grid.width - 100)
          );
        },
        { timeoutMs: 15_000, detail: () => JSON.stringify(paint) },
      );
      assert.equal(await overflowsSideways(frame), false, 'the dashboard scrolls sideways');
      // Scrolled to the charts, as a reader would: the reward chart and the models and prompts below it.
      await frame.locator('[data-card="reward"]').evaluate((card) => card.scrollIntoView({ block: 'start' }));
      await save(session, 'dashboard.png');
      // The rest of the page, for checking the layout (test-artifacts only).
      await frame.locator('[data-card="timeline"]').evaluate((card) => card.scrollIntoView({ block: 'end' }));
      await session.screenshot('dashboard-lower');
    });
  });
});

/** Scrolls in one step inside the page: a locator's scroll fails when a re-render replaces the element meanwhile. */
function scrollIntoView(frame: { evaluate<R, A>(fn: (arg: A) => R, arg: A): Promise<R> }, selector: string) {
  return frame.evaluate((sel: string) => {
    const doc = (
      globalThis as unknown as {
        document: { querySelector(s: string): { scrollIntoView(o: object): void } | null };
      }
    ).document;
    doc.querySelector(sel)?.scrollIntoView({ block: 'nearest' });
  }, selector);
}
