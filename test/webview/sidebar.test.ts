import assert from 'node:assert/strict';
import { API_SNIPPET, CLI_SNIPPET } from '../../src/webview/sidebarView';
import { emptySidebarState, HOSTILE, run, sidebarState } from './support/fixtures';
import { usePage, type WebviewPage } from './support/harness';
import { THEMES } from './support/themes';

describe('sidebar webview (Chromium)', () => {
  const open = usePage('sidebar');

  const text = (v: WebviewPage, selector: string) => v.page.locator(selector).innerText();

  it('says it is connecting before any state, and that the database is opening while not ready', async () => {
    const v = await open();
    assert.match(await text(v, '#root'), /Connecting to Agent Learning/);
    await v.send({ type: 'sidebar', state: sidebarState({ ready: false }) });
    await v.page.getByText('Opening the experience database of shop-api').waitFor();
    assert.equal(await v.page.locator('.kpis').count(), 0);
  });

  it('shows the KPIs, progress per role, the best model and prompt, and the latest runs from the state', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState() });
    await v.page.locator('.kpis').waitFor();

    assert.equal(await text(v, '[data-kpi="runs"] .kpi-value'), '1,234');
    assert.equal(await text(v, '[data-kpi="avg-reward"] .kpi-label'), 'Avg reward');
    assert.match(await text(v, '[data-kpi="avg-reward"]'), /last 100/);
    assert.equal(await text(v, '[data-kpi="avg-reward"] .kpi-value'), '0.78');
    assert.equal(await text(v, '[data-kpi="avg-reward"] .trend'), '+0.06 vs the 100 before');
    assert.equal(
      await v.page.locator('[data-kpi="avg-reward"] .trend').getAttribute('class'),
      'trend trend-up',
    );
    assert.equal(await text(v, '[data-kpi="avg-cost"] .kpi-value'), '2,345');
    assert.match(await text(v, '[data-kpi="avg-cost"]'), /tokens per run/);
    assert.equal(await text(v, '[data-kpi="avg-duration"] .kpi-value'), '12 s');

    const coder = v.page.locator('.role[data-role="coder"]');
    assert.match(await coder.innerText(), /1,034 runs/);
    assert.deepEqual(await coder.locator('.progress-label').allInnerTexts(), [
      '73 / 100 high-quality runs to export',
      '200 / 500 examples to train',
    ]);
    const bars = await coder
      .locator('progress')
      .evaluateAll((els) =>
        els.map((e) => [(e as HTMLProgressElement).value, (e as HTMLProgressElement).max]),
      );
    assert.deepEqual(bars, [
      [73, 100],
      [200, 500],
    ]);
    assert.match(await coder.innerText(), /Last export: 105 examples, 2 h ago/);

    assert.equal(await text(v, '[data-best="model"] .name'), 'qwen2.5-coder:7b');
    assert.equal(await text(v, '[data-best="model"] .muted'), '0.81 (95% 0.79–0.83) · 640 runs');
    assert.equal(await text(v, '[data-best="prompt"] .name'), 'detailed');
    // The model's interval is clear of the others', the prompt's is not: "best" against "leading, not yet sure".
    assert.equal(await text(v, '[data-best="model"] .best-status'), 'best');
    assert.equal(await text(v, '[data-best="prompt"] .best-status'), 'leading, not yet sure');
    assert.equal(await v.page.locator('section:has(.best) h2').textContent(), 'Leading so far');

    const runs = v.page.locator('.run');
    assert.equal(await runs.count(), 3);
    assert.equal(await text(v, '[data-run-id="r1"] .task'), 'fix-login');
    assert.equal(await text(v, '[data-run-id="r1"] .reward'), '0.82');
    assert.equal(await text(v, '[data-run-id="r1"] .run-meta'), 'coder · qwen2.5-coder:7b · 3 min ago');
    assert.equal(await text(v, '[data-run-id="r2"] .run-meta'), 'reviewer · llama3.1:8b · 1 h ago');
    assert.equal(await text(v, '[data-run-id="r3"] .run-meta'), 'coder · qwen2.5-coder:7b · 1 d ago');
  });

  it('says "—" for a cost and duration no run reported, "1 run" for one, and "Best so far" once sure', async () => {
    const v = await open();
    const base = sidebarState();
    await v.send({
      type: 'sidebar',
      state: sidebarState({
        kpis: { ...base.kpis, avgCost: null, avgDuration: null },
        roles: [{ ...base.roles[0]!, runs: 1, lastExport: { ...base.roles[0]!.lastExport!, count: 1 } }],
        bestModel: { ...base.bestModel!, count: 1 },
        bestPrompt: { ...base.bestPrompt!, separated: true },
      }),
    });
    await v.page.locator('.kpis').waitFor();
    assert.equal(await text(v, '[data-kpi="avg-cost"] .kpi-value'), '—');
    assert.doesNotMatch(await text(v, '[data-kpi="avg-cost"]'), /tokens per run/);
    assert.equal(await text(v, '[data-kpi="avg-duration"] .kpi-value'), '—');
    const coder = v.page.locator('.role[data-role="coder"]');
    assert.match(await coder.innerText(), /^coder\s+1 run$/m);
    assert.match(await coder.innerText(), /Last export: 1 example, /);
    assert.equal(await text(v, '[data-best="model"] .muted'), '0.81 (95% 0.79–0.83) · 1 run');
    assert.equal(await text(v, '[data-best="prompt"] .best-status'), 'best');
    assert.equal(await v.page.locator('section:has(.best) h2').textContent(), 'Best so far');
  });

  it('shows a flat trend and no trend before 200 runs', async () => {
    const v = await open();
    const state = sidebarState();
    await v.send({ type: 'sidebar', state: { ...state, kpis: { ...state.kpis, previousAvgReward: 0.782 } } });
    await v.page.locator('.trend-flat').waitFor();
    assert.equal(await text(v, '.trend'), '±0.00 vs the 100 before');
    await v.send({
      type: 'sidebar',
      state: { ...state, kpis: { ...state.kpis, runs: 150, previousAvgReward: null } },
    });
    await v.page.getByText('trend after 200 runs').waitFor();
  });

  it('posts feedback for the run when Accept or Reject is clicked, shows the verdict and lets it change', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState() });
    const accept = v.page.getByRole('button', { name: 'Accept run fix-login' });
    const reject = v.page.getByRole('button', { name: 'Reject run fix-login' });
    assert.equal(await accept.getAttribute('aria-pressed'), 'false');
    assert.equal(await reject.getAttribute('aria-pressed'), 'false');

    await accept.click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'feedback', runId: 'r1', verdict: 'accept' });
    assert.equal(await accept.getAttribute('aria-pressed'), 'true');

    await reject.click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'feedback', runId: 'r1', verdict: 'reject' });
    assert.equal(await reject.getAttribute('aria-pressed'), 'true');
    assert.equal(await accept.getAttribute('aria-pressed'), 'false');

    // The verdicts the host already knows are shown as chosen.
    assert.equal(
      await v.page.getByRole('button', { name: 'Reject run add-pagination' }).getAttribute('aria-pressed'),
      'true',
    );
    assert.equal(
      await v.page.getByRole('button', { name: 'Accept run refactor-cart' }).getAttribute('aria-pressed'),
      'true',
    );
  });

  /** The accessible name of the focused control, or null when nothing in the page has focus. */
  const focused = (v: WebviewPage) =>
    v.page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      return e.getAttribute('aria-label') ?? (e as HTMLElement).innerText.trim();
    });

  /** Every Tab stop of the page in order, from the top, as someone pressing Tab meets them. */
  async function tabStops(v: WebviewPage): Promise<string[]> {
    await v.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const stops: string[] = [];
    for (let i = 0; i < 40; i++) {
      await v.page.keyboard.press('Tab');
      const name = await focused(v);
      if (name === null || stops.includes(name)) break;
      stops.push(name);
    }
    return stops;
  }

  it('keeps the Tab order short: the latest runs are one Tab stop, on the first run', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState() });
    await v.page.locator('.runs').waitFor();
    assert.deepEqual(await tabStops(v), [
      'Open Dashboard',
      'Export',
      'Train',
      'Deploy',
      'Open run fix-login',
      'Learning Config',
      'Log',
    ]);
  });

  it('moves through the runs with the arrow keys, Home and End, and opens one with Enter', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState() });
    await v.page.getByRole('button', { name: 'Open run fix-login' }).focus();
    const press = async (key: string) => {
      await v.page.keyboard.press(key);
      return focused(v);
    };
    assert.equal(await press('ArrowDown'), 'Open run add-pagination');
    assert.equal(await press('ArrowDown'), 'Open run refactor-cart');
    assert.equal(await press('ArrowDown'), 'Open run refactor-cart', 'the last run stays');
    assert.equal(await press('Home'), 'Open run fix-login');
    assert.equal(await press('ArrowUp'), 'Open run fix-login', 'the first run stays');
    assert.equal(await press('End'), 'Open run refactor-cart');
    // Left and right move between a run's controls; up and down keep to the same control of the next run.
    assert.equal(await press('ArrowRight'), 'Accept run refactor-cart');
    assert.equal(await press('ArrowRight'), 'Reject run refactor-cart');
    assert.equal(await press('ArrowUp'), 'Reject run add-pagination');
    assert.equal(await press('ArrowLeft'), 'Accept run add-pagination');
    assert.equal(await press('ArrowLeft'), 'Open run add-pagination');
    assert.equal(await v.page.evaluate(() => window.scrollY), 0, 'the keys moved focus, not the view');

    await v.page.keyboard.press('Enter');
    assert.deepEqual((await v.posted()).at(-1), { type: 'openRun', runId: 'r2' });
  });

  it('judges a run from the keyboard: Space presses Accept, focus stays on it and Tab comes back to it', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState() });
    await v.page.getByRole('button', { name: 'Open run fix-login' }).focus();
    await v.page.keyboard.press('ArrowRight');
    assert.equal(await focused(v), 'Accept run fix-login');
    await v.page.keyboard.press('Space');
    assert.deepEqual((await v.posted()).at(-1), { type: 'feedback', runId: 'r1', verdict: 'accept' });
    assert.equal(await focused(v), 'Accept run fix-login', 'focus survives the re-render');
    // A new state from the host re-renders everything; focus still stays on the same control.
    await v.send({ type: 'sidebar', state: sidebarState({ workspaceName: 'again' }) });
    assert.equal(await focused(v), 'Accept run fix-login');
    // Leaving the list and coming back lands where one left it, still one Tab stop.
    await v.page.keyboard.press('Tab');
    assert.equal(await focused(v), 'Learning Config');
    await v.page.keyboard.press('Shift+Tab');
    assert.equal(await focused(v), 'Accept run fix-login');
    await v.page.keyboard.press('Shift+Tab');
    assert.equal(await focused(v), 'Deploy');
  });

  it('posts the Export, Train, Deploy, Open Dashboard, Learning Config and Log commands', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState() });
    const commands: [string, string][] = [
      ['Export', 'export'],
      ['Train', 'train'],
      ['Deploy', 'deploy'],
      ['Open Dashboard', 'openDashboard'],
      ['Learning Config', 'openConfig'],
      ['Log', 'showLog'],
    ];
    for (const [label, command] of commands) {
      await v.page.getByRole('button', { name: label, exact: true }).click();
      assert.deepEqual((await v.posted()).at(-1), { type: 'command', command }, label);
    }
  });

  it('disables Train and Deploy in an untrusted workspace and says why', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState({ trusted: false }) });
    await v.page.getByText('Restricted Mode').waitFor();
    assert.equal(await v.page.getByRole('button', { name: 'Train', exact: true }).isDisabled(), true);
    assert.equal(await v.page.getByRole('button', { name: 'Deploy', exact: true }).isDisabled(), true);
    assert.equal(await v.page.getByRole('button', { name: 'Export', exact: true }).isDisabled(), false);
  });

  it('shows problems as warnings', async () => {
    const v = await open();
    const problems = [
      'learning-config.json: thresholds.export must be a number (line 4)',
      'The database was corrupt and was set aside',
    ];
    await v.send({ type: 'sidebar', state: sidebarState({ problems }) });
    await v.page.locator('.problems').waitFor();
    assert.deepEqual(await v.page.locator('.problem').allInnerTexts(), problems);
    assert.equal(await v.page.locator('.problem .codicon-warning').count(), 2);
  });

  it('tells a new user how to connect an agent when no run is recorded', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: emptySidebarState() });
    await v.page.getByText('Connect your agent').waitFor();
    const snippets = await v.page.locator('pre.snippet').allTextContents();
    assert.deepEqual(snippets, [API_SNIPPET, CLI_SNIPPET]);
    assert.match(
      snippets[0] ?? '',
      /await vscode\.extensions\.getExtension\('agent-learning\.agent-learning'\)\.activate\(\);[\s\S]*await api\.recordRun\(taskSlug, modelId, promptId, result, 'coder'\)/,
    );
    // The CLI is not on the npm registry: the command is the one the extension puts on the terminals' PATH.
    assert.match(snippets[1] ?? '', /^echo '\{.*\}' \| agent-learning record$/);
    assert.doesNotMatch(snippets[1] ?? '', /npx/);
    assert.equal(await v.page.locator('.kpis').count(), 0);
    // Named for the file it opens: "Settings" read as VS Code's settings.
    const config = v.page.getByRole('button', { name: 'Learning Config', exact: true });
    assert.match((await config.getAttribute('title')) ?? '', /\.agent\/learning-config\.json/);
    await config.click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'command', command: 'openConfig' });
    assert.equal(await v.page.getByRole('button', { name: /Settings/ }).count(), 0);
    await v.screenshot('sidebar-empty-dark');
  });

  it('copies each code block with a keyboard-reachable Copy button that announces "Copied"', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: emptySidebarState() });
    const copyCli = v.page.getByRole('button', { name: 'Copy command line example' });
    await copyCli.waitFor();
    assert.equal(await v.page.getByRole('button', { name: /^Copy / }).count(), 2);
    assert.equal(await copyCli.locator('.codicon-copy').count(), 1);

    await copyCli.focus();
    await v.page.keyboard.press('Enter');
    assert.deepEqual((await v.posted()).at(-1), { type: 'copy', text: CLI_SNIPPET });
    const status = v.page.locator('.code-block', { has: copyCli }).getByRole('status');
    await status.getByText('Copied').waitFor();
    assert.equal(await copyCli.locator('.codicon-check').count(), 1);

    await v.page.getByRole('button', { name: 'Copy extension API example' }).click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'copy', text: API_SNIPPET });
  });

  it('restores the last state and chosen verdicts after a reload, then asks the host again', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState() });
    await v.page.getByRole('button', { name: 'Accept run fix-login' }).click();
    await v.page.reload();
    await v.waitForPosted((m) => m.type === 'ready');
    // Nothing sent since the reload: what shows came from getState.
    assert.equal(await text(v, '[data-kpi="runs"] .kpi-value'), '1,234');
    assert.equal(
      await v.page.getByRole('button', { name: 'Accept run fix-login' }).getAttribute('aria-pressed'),
      'true',
    );
    assert.deepEqual(await v.posted(), [{ type: 'ready' }]);
  });

  it('ignores and logs messages that are not in the protocol', async () => {
    const v = await open();
    await v.send({ type: 'sidebar', state: sidebarState() });
    await v.page.locator('.kpis').waitFor();
    const before = await text(v, '#root');
    await v.send({ type: 'nonsense' });
    await v.send({ type: 'sidebar', state: { ...sidebarState(), version: 2 } });
    await v.send({ type: 'sidebar', state: { ...sidebarState(), recentRuns: [{ id: 'x' }] } });
    await v.send('a string');
    const lastWarning = v.page.waitForEvent('console', {
      predicate: (m) => m.text().includes('ignores "training"'),
    });
    await v.send({ type: 'training', progress: null });
    await lastWarning;
    assert.equal(await text(v, '#root'), before);
    const warnings = v.warnings.filter((w) => w.startsWith('Agent Learning'));
    assert.equal(warnings.length, 5, warnings.join('\n'));
  });

  it('shows hostile task slugs and names as text, runs no script and breaks no CSP rule', async () => {
    const v = await open();
    const hostile = Object.values(HOSTILE);
    const state = sidebarState({
      workspaceName: HOSTILE.imgOnerror,
      problems: [HOSTILE.scriptBreakout],
      bestModel: {
        id: HOSTILE.scriptBreakout,
        avgReward: 0.5,
        count: 3,
        low: 0.2,
        high: 0.8,
        separated: false,
      },
      bestPrompt: { id: HOSTILE.long, avgReward: 0.5, count: 3, low: 0.2, high: 0.8, separated: false },
      roles: [{ ...sidebarState().roles[0]!, role: HOSTILE.imgOnerror }],
      recentRuns: hostile.map((slug, i) =>
        run(`h${i}`, {
          taskSlug: slug,
          modelId: hostile[(i + 1) % hostile.length]!,
          role: hostile[(i + 2) % hostile.length]!,
        }),
      ),
    });
    await v.send({ type: 'sidebar', state });
    await v.page.locator('.runs').waitFor();

    assert.deepEqual(await v.page.locator('.run .task').allTextContents(), hostile);
    assert.deepEqual(
      await v.page.locator('.run .run-model').allTextContents(),
      hostile.map((_, i) => hostile[(i + 1) % hostile.length]),
    );
    assert.equal(await v.page.locator('.problem').textContent(), HOSTILE.scriptBreakout);
    assert.equal(await v.page.locator('[data-best="prompt"] .name').textContent(), HOSTILE.long);
    assert.equal(await v.page.locator('#root img, #root script, #root iframe').count(), 0);
    assert.equal(await v.pwned(), undefined);
    assert.deepEqual(await v.cspViolations(), []);
    // Accept on a hostile run still posts its id, and its label is bounded.
    const label = await v.page
      .locator('[data-run-id="h2"] .verdict .button')
      .first()
      .getAttribute('aria-label');
    assert.ok(label && label.length < 80, label ?? '');
    await v.page.locator('[data-run-id="h2"] .verdict .button').first().click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'feedback', runId: 'h2', verdict: 'accept' });
    // Long names end in an ellipsis instead of widening the view.
    const overflow = await v.page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.equal(overflow, 0, 'no horizontal scrolling');
    await v.screenshot('sidebar-hostile-dark');
  });

  it('shows the state embedded in its HTML at once, before any message from the host', async () => {
    const v = await open();
    await v.load({ pageId: 'page-1', state: sidebarState() });
    // The page said ready right after its first render: the figures were already there.
    assert.equal(await text(v, '[data-kpi="runs"] .kpi-value'), '1,234');
    assert.equal(await text(v, '[data-run-id="r1"] .task'), 'fix-login');
    assert.deepEqual(await v.posted(), [{ type: 'ready' }]);
    await v.send({ type: 'sidebar', state: sidebarState({ kpis: { ...sidebarState().kpis, runs: 1235 } }) });
    assert.equal(await text(v, '[data-kpi="runs"] .kpi-value'), '1,235');
  });

  it("keeps what it saved over the state its own HTML embeds, and a newer HTML's state over an older save", async () => {
    const runs = (n: number) => sidebarState({ kpis: { ...sidebarState().kpis, runs: n } });
    const v = await open();
    await v.load({ pageId: 'page-1', state: runs(1000) });
    await v.send({ type: 'sidebar', state: runs(2000) });
    // VS Code re-creates a hidden view from the HTML it was given: the state saved since is the newer one.
    await v.page.reload();
    await v.waitForPosted((m) => m.type === 'ready');
    assert.equal(await text(v, '[data-kpi="runs"] .kpi-value'), '2,000');
    // After a reload of the window the host renders new HTML: its state is newer than the one saved before.
    await v.load({ pageId: 'page-2', state: runs(3000) });
    assert.equal(await text(v, '[data-kpi="runs"] .kpi-value'), '3,000');
    // Without an embedded state, the saved one shows: what the page showed last.
    await v.load(undefined);
    assert.equal(await text(v, '[data-kpi="runs"] .kpi-value'), '3,000');
  });

  it('ignores an embedded state that is not in the protocol', async () => {
    const v = await open();
    await v.load({ pageId: 'page-1', state: { ...sidebarState(), version: 2 } });
    assert.match(await text(v, '#root'), /Connecting to Agent Learning/);
    assert.ok(v.warnings.some((w) => w.includes('embedded state that is not in the protocol')));
  });

  it('shows hostile names from an embedded state as text, runs no script and breaks no CSP rule', async () => {
    const v = await open();
    const hostile = Object.values(HOSTILE);
    const state = sidebarState({
      workspaceName: HOSTILE.scriptBreakout,
      problems: [HOSTILE.scriptBreakout, '<!-- <script>window.__pwned=1</script>'],
      recentRuns: hostile.map((slug, i) => run(`h${i}`, { taskSlug: slug })),
    });
    await v.load({ pageId: HOSTILE.scriptBreakout, state });
    assert.deepEqual(await v.page.locator('.run .task').allTextContents(), hostile);
    assert.deepEqual(await v.page.locator('.problem').allTextContents(), state.problems);
    assert.equal(await v.page.locator('script').count(), 2, 'the embedded state and the page script');
    assert.equal(await v.page.locator('#root img, #root script, #root iframe').count(), 0);
    assert.equal(await v.pwned(), undefined);
    assert.deepEqual(await v.cspViolations(), []);
  });

  it('loads nothing before its load event, then its icon font, and shows its icons', async () => {
    const v = await open();
    await v.load({ pageId: 'page-1', state: sidebarState() });
    assert.deepEqual(await v.loadsOnceIconsShow(), [{ file: 'codicon.ttf', afterLoad: true }]);
    assert.equal(await v.page.evaluate(() => document.fonts.check('16px codicon')), true);
    assert.equal(await v.css('.actions .button .codicon', 'visibility'), 'visible');
    assert.equal(await v.css('.actions .button .codicon', 'width'), '16px');
  });

  for (const theme of ['light', 'dark', 'high-contrast'] as const) {
    it(`follows the ${theme} theme's colours with readable text`, async () => {
      const v = await open(theme);
      await v.send({
        type: 'sidebar',
        state: sidebarState({ problems: ['The database was corrupt and was set aside'] }),
      });
      await v.page.locator('.runs').waitFor();
      const vars = THEMES[theme].vars;
      const colours = {
        text: await v.css('.kpi-value', 'color'),
        background: await v.css(':root', 'background-color'),
        primary: await v.css('.button.primary', 'background-color'),
        primaryText: await v.css('.button.primary', 'color'),
        secondary: await v.css('.actions .button-row .button', 'background-color'),
      };
      assert.equal(colours.text, rgb(vars['--vscode-foreground']!));
      assert.equal(colours.background, rgb(vars['--vscode-sideBar-background']!));
      assert.equal(colours.primary, rgb(vars['--vscode-button-background']!));
      assert.equal(colours.secondary, rgb(vars['--vscode-button-secondaryBackground']!));
      assert.ok(
        contrast(colours.text, colours.background) >= 4.5,
        `text contrast ${contrast(colours.text, colours.background)}`,
      );
      assert.ok(contrast(colours.primaryText, colours.primary) >= 4.5, 'button text contrast');
      // The codicon font loaded (a glyph, not a box): its icons are 16 px wide.
      await v.page.evaluate(() => document.fonts.ready);
      assert.equal(await v.page.evaluate(() => document.fonts.check('16px codicon')), true);
      await v.screenshot(`sidebar-${theme}`);
    });
  }
});

function rgb(hex: string): string {
  const h = hex.replace('#', '');
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}

function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, b] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return ((hi ?? 0) + 0.05) / ((lo ?? 0) + 0.05);
}
