import assert from 'node:assert/strict';
import type { DashboardState } from '../../src/protocol';
import { dashboardState, HOSTILE, sidebarState, TRAINING } from './support/fixtures';
import { usePage, type WebviewPage } from './support/harness';
import { THEMES, type ThemeName } from './support/themes';

const CHARTS = {
  reward: '[data-card="reward"] canvas',
  promptShare: '[data-card="prompt-share"] canvas',
  modelShare: '[data-card="model-share"] canvas',
  models: '[data-card="models"] canvas',
  prompts: '[data-card="prompts"] canvas',
};

function hex(theme: ThemeName, name: string): [number, number, number] {
  const value = THEMES[theme].vars[name]!.replace('#', '');
  return [0, 2, 4].map((i) => parseInt(value.slice(i, i + 2), 16)) as [number, number, number];
}

describe('dashboard webview (Chromium)', () => {
  const open = usePage('dashboard');

  async function show(v: WebviewPage, state: DashboardState = dashboardState()) {
    await v.send({ type: 'dashboard', state });
    await v.page.locator('.grid:not([hidden])').waitFor();
  }

  const texts = (v: WebviewPage, selector: string) => v.page.locator(selector).allInnerTexts();
  const rowTexts = async (v: WebviewPage, card: string) =>
    (await texts(v, `[data-card="${card}"] tbody tr`)).map((row) =>
      row.split('\t').map((cell) => cell.trim()),
    );

  it('draws reward over time, models and prompts as real charts in the theme colours', async () => {
    const v = await open('dark');
    await show(v);
    for (const [name, selector] of Object.entries(CHARTS)) {
      const size = await v.page.locator(selector).boundingBox();
      assert.ok(size && size.width > 300 && size.height > 100, `${name} chart is ${JSON.stringify(size)}`);
      const { inked } = await v.canvasInk(selector, [0, 0, 0]);
      assert.ok(inked > 2000, `${name} chart has ${inked} pixels drawn`);
    }
    // The first role's line and the first model's bubble are drawn in charts.blue; the preferred prompt in green.
    assert.ok((await v.canvasInk(CHARTS.reward, hex('dark', '--vscode-charts-blue'))).matching > 200);
    assert.ok((await v.canvasInk(CHARTS.reward, hex('dark', '--vscode-charts-orange'))).matching > 100);
    assert.ok((await v.canvasInk(CHARTS.models, hex('dark', '--vscode-charts-blue'))).matching > 100);
    assert.ok((await v.canvasInk(CHARTS.prompts, hex('dark', '--vscode-charts-green'))).matching > 50);
    assert.match(
      (await v.page.locator(CHARTS.reward).getAttribute('aria-label')) ?? '',
      /coder: rolling mean 0\.\d\d after 600 runs \(baseline 0\.47 over its first 20 runs\); reviewer: rolling mean 0\.\d\d after 600 runs/,
    );
    assert.equal(await v.page.locator('.total-runs').innerText(), '1,234 runs recorded');
  });

  it('marks exports, trainings, deploys, drift alarms and rollbacks on the reward chart at their runs', async () => {
    const v = await open('dark');
    await show(v);
    const markers = await v.page
      .locator('.chart-markers li')
      .evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-kind'), Number(e.getAttribute('data-run'))]),
      );
    assert.deepEqual(markers, [
      ['export', 300],
      ['training', 320],
      ['deploy', 340],
      ['drift', 450],
      ['rollback', 470],
    ]);
    // On the canvas, below the legend and the marks: the dotted lines down from the training (purple), the deploy
    // (green), the drift alarm and the rollback (red), where their runs are. The two roles' lines are blue and orange.
    const meanX = async (name: string) =>
      v.page.evaluate(
        ({ selector, rgb }) => {
          const canvas = document.querySelector(selector) as HTMLCanvasElement;
          const { width, height } = canvas;
          const data = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
          let sum = 0;
          let n = 0;
          for (let i = (data.length / 2) & ~3; i < data.length; i += 4) {
            const d =
              Math.abs(data[i]! - rgb[0]) + Math.abs(data[i + 1]! - rgb[1]) + Math.abs(data[i + 2]! - rgb[2]);
            if (d < 30) {
              sum += (i / 4) % width;
              n++;
            }
          }
          return { x: n ? sum / n / width : NaN, n };
        },
        { selector: CHARTS.reward, rgb: hex('dark', name) },
      );
    const purple = await meanX('--vscode-charts-purple');
    const green = await meanX('--vscode-charts-green');
    const red = await meanX('--vscode-charts-red');
    assert.ok(purple.n > 20 && green.n > 20 && red.n > 40, JSON.stringify({ purple, green, red }));
    assert.ok(purple.x < green.x && green.x < red.x, JSON.stringify({ purple, green, red }));
    // 320 → 340 is 20 runs, 340 → 460 (between drift and rollback) 120: six times as far.
    const ratio = (red.x - green.x) / (green.x - purple.x);
    assert.ok(ratio > 5 && ratio < 7, `ratio ${ratio}`);
  });

  it('draws how often each prompt and model is chosen over the runs', async () => {
    const v = await open('dark');
    await show(v);
    for (const selector of [CHARTS.promptShare, CHARTS.modelShare]) {
      assert.ok((await v.canvasInk(selector, hex('dark', '--vscode-charts-blue'))).matching > 500, selector);
      assert.ok(
        (await v.canvasInk(selector, hex('dark', '--vscode-charts-orange'))).matching > 200,
        selector,
      );
    }
    assert.ok((await v.canvasInk(CHARTS.promptShare, hex('dark', '--vscode-charts-green'))).matching > 100);
  });

  it('says "Best so far" only for a separated interval, else "leading, not yet sure"', async () => {
    const v = await open();
    await show(v);
    assert.match(
      (await v.page.locator('[data-card="models"] [data-best="model"]').textContent()) ?? '',
      /^Best so far: gpt-4o — 0\.90, its 95% interval \(0\.84–0\.96\) clear of every other model's$/,
    );
    assert.match(
      (await v.page.locator('[data-card="prompts"] [data-best="prompt"]').textContent()) ?? '',
      /^Leading, not yet sure: detailed — 0\.80, but its 95% interval \(0\.77–0\.83\) still overlaps another prompt's$/,
    );
  });

  it('puts models on a cost axis in dollars when every model has a price, and spreads models on the same spot', async () => {
    const v = await open('dark');
    const base = dashboardState();
    await show(v);
    assert.match(
      await v.page.locator('[data-card="models"] .caption').innerText(),
      /tokens per run \(not every model has a price/,
    );
    const twins = base.models.map((m, i) => ({
      ...m,
      avgReward: 0.8,
      avgCostTokens: i === 2 ? null : 2000,
      costPer1kTokens: 0.0005,
    }));
    await show(v, { ...base, models: twins, totalRuns: 1 });
    assert.match(await v.page.locator('[data-card="models"] .caption').innerText(), /per run in dollars/);
    assert.equal(
      await v.page.locator(CHARTS.models).getAttribute('aria-label'),
      'Models by reward and cost. qwen2.5-coder:7b: reward 0.80, $0.001 per run; llama3.1:8b: reward 0.80, $0.001 per run',
    );
    // Same cost and reward: both marks show, not one over the other.
    assert.ok((await v.canvasInk(CHARTS.models, hex('dark', '--vscode-charts-blue'))).matching > 60);
    assert.ok((await v.canvasInk(CHARTS.models, hex('dark', '--vscode-charts-orange'))).matching > 60);
    assert.deepEqual(
      (await rowTexts(v, 'models')).map((r) => r.slice(4)),
      [
        ['2,000', '$0.001', '$0.0005'],
        ['2,000', '$0.001', '$0.0005'],
        ['—', '—', '$0.0005'],
      ],
    );
    assert.equal(await v.page.locator('.total-runs').innerText(), '1 run recorded');
  });

  it('lists each model and prompt with its mean, 95% interval, runs and the preferred prompt', async () => {
    const v = await open();
    await show(v);
    assert.deepEqual(await rowTexts(v, 'models'), [
      ['qwen2.5-coder:7b', '640', '0.81', '0.79–0.83', '2,100', '$0.0011', '$0.0005'],
      ['llama3.1:8b', '210', '0.64', '0.60–0.68', '2,600', '—', '—'],
      ['gpt-4o', '40', '0.90', '0.84–0.96', '3,900', '$9.75', '$2.50'],
    ]);
    assert.deepEqual(await rowTexts(v, 'prompts'), [
      ['detailed', '420', '0.80', '0.77–0.83', 'preferred'],
      ['concise', '300', '0.72', '0.68–0.76', ''],
      ['step-by-step', '25', '0.69', '0.52–0.86', ''],
    ]);
  });

  it('shows automation per role and the timeline of events, newest first', async () => {
    const v = await open();
    await show(v);
    assert.deepEqual(await rowTexts(v, 'automation'), [
      [
        'coder',
        'on',
        'on',
        'off',
        'deployed',
        '73 / 100 runs',
        '200 / 500 examples',
        '105 examples, 2 h ago',
      ],
      ['reviewer', 'off', 'off', 'off', '—', '12 / 100 runs', '0 / 500 examples', 'never'],
    ]);
    const kinds = await v.page.locator('.event .event-kind').allTextContents();
    assert.deepEqual(kinds, ['Rollback', 'Drift alarm', 'Deploy', 'Training', 'Export']);
    assert.equal(await v.page.locator('.event-drift .codicon-warning').count(), 1);
    assert.equal(await v.page.locator('.event-rollback .codicon-discard').count(), 1);
    assert.equal(
      await v.page.locator('[data-event-id="1"] .event-message').innerText(),
      'Exported 105 coder examples to .agent/sft/coder_sft.jsonl',
    );
  });

  it('says when auto-train is on but cannot run, and when a trained adapter is not deployed', async () => {
    const v = await open();
    const base = dashboardState();
    await show(v, {
      ...base,
      automation: base.automation.map((a) =>
        a.role === 'coder' ? { ...a, trainBlocked: 'torch is missing', adapter: 'trained' as const } : a,
      ),
    });
    const [coder] = await rowTexts(v, 'automation');
    assert.deepEqual(coder?.slice(0, 5), [
      'coder',
      'on',
      'on, but torch is missing',
      'off',
      'trained, not deployed',
    ]);
    assert.equal(await v.page.locator('[data-card="automation"] .blocked .codicon-warning').count(), 1);
  });

  it('shows live training progress from training messages, and no training when it ends', async () => {
    const v = await open();
    await show(v);
    assert.match(await v.page.locator('[data-card="training"]').innerText(), /No training running/);
    await v.send({ type: 'training', progress: TRAINING });
    const card = v.page.locator('[data-card="training"]');
    assert.equal(await card.locator('.progress-label').innerText(), 'step 120 / 500 (24%)');
    assert.deepEqual(
      await card
        .locator('progress')
        .evaluate((e) => [(e as HTMLProgressElement).value, (e as HTMLProgressElement).max]),
      [120, 500],
    );
    assert.equal(await card.locator('[data-figure="loss"]').innerText(), '0.4321');
    assert.equal(await card.locator('[data-figure="eta"]').innerText(), '3 min 20 s');
    await v.send({ type: 'training', progress: { ...TRAINING, step: 500, etaS: 0, loss: null } });
    assert.equal(await card.locator('.progress-label').innerText(), 'step 500 / 500 (100%)');
    assert.equal(await card.locator('[data-figure="loss"]').innerText(), '—');
    await v.send({ type: 'training', progress: null });
    assert.match(await card.innerText(), /No training running/);
  });

  it('restores charts, tables and training progress from the saved state after a reload', async () => {
    const v = await open();
    await show(v);
    await v.send({ type: 'training', progress: TRAINING });
    await v.page.reload();
    await v.waitForPosted((m) => m.type === 'ready');
    await v.page.locator('.grid:not([hidden])').waitFor();
    assert.equal((await rowTexts(v, 'models')).length, 3);
    assert.ok((await v.canvasInk(CHARTS.reward, [0, 0, 0])).inked > 2000);
    assert.equal(
      await v.page.locator('[data-card="training"] .progress-label').innerText(),
      'step 120 / 500 (24%)',
    );
    assert.deepEqual(await v.posted(), [{ type: 'ready' }]);
  });

  it('redraws its charts when VS Code switches theme', async () => {
    const v = await open('light');
    await show(v);
    // Exact-ish matches (tolerance 10): light and dark charts.blue are close, anti-aliasing blurs between them.
    const blue = async (theme: ThemeName) =>
      (await v.canvasInk(CHARTS.reward, hex(theme, '--vscode-charts-blue'), 10)).matching;
    const lightBefore = await blue('light');
    assert.ok(lightBefore > 200 && (await blue('dark')) < lightBefore / 10, 'drawn in the light blue');
    await v.setTheme('dark');
    // The redraw follows the mutation in a microtask; wait for the canvas to show the dark theme's blue.
    const [r, g, b] = hex('dark', '--vscode-charts-blue');
    await v.page.waitForFunction(
      ({ selector, r, g, b }) => {
        const canvas = document.querySelector(selector) as HTMLCanvasElement;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let matching = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (Math.abs(data[i]! - r) + Math.abs(data[i + 1]! - g) + Math.abs(data[i + 2]! - b) < 10)
            matching++;
        }
        return matching > 200;
      },
      { selector: CHARTS.reward, r, g, b },
    );
    assert.ok((await blue('light')) < (await blue('dark')) / 10, 'redrawn in the dark blue');
    assert.equal(await v.css('body', 'background-color'), 'rgb(31, 31, 31)');
  });

  it('says the database is opening while not ready, and shows placeholders without runs', async () => {
    const v = await open();
    assert.match(await v.page.locator('#root').innerText(), /Connecting to Agent Learning/);
    await v.send({ type: 'dashboard', state: dashboardState({ ready: false }) });
    await v.page.getByText('Opening the experience database of shop-api').waitFor();
    assert.equal(await v.page.locator('.grid').isHidden(), true);
    await show(
      v,
      dashboardState({
        totalRuns: 0,
        history: { runs: [], at: [], roles: [], choices: { runs: [], prompts: [], models: [] } },
        models: [],
        prompts: [],
        bestModel: null,
        bestPrompt: null,
        automation: [],
        events: [],
      }),
    );
    await v.page
      .getByText('No runs yet. The Agent Learning sidebar shows how to connect your agent.')
      .waitFor();
    assert.equal(await v.page.locator('canvas:visible').count(), 0);
    assert.deepEqual(await texts(v, '.empty'), [
      'No runs yet: the chart fills in as your agent records runs.',
      'No prompt has runs yet.',
      'No model has runs yet.',
      'No model has runs yet.',
      'No prompt has runs yet.',
      'No role has runs yet.',
      'No exports, trainings, deployments or drift alarms yet.',
    ]);
    // Data arriving after the empty state brings the charts back.
    await show(v);
    assert.ok((await v.canvasInk(CHARTS.models, [0, 0, 0])).inked > 2000);
  });

  it('ignores and logs messages that are not in the protocol', async () => {
    const v = await open();
    await show(v);
    const before = await v.page.locator('#root').innerText();
    await v.send({ type: 'dashboard', state: { ...dashboardState(), models: 'many' } });
    await v.send({ type: 'training', progress: { step: 'one' } });
    const last = v.page.waitForEvent('console', { predicate: (m) => m.text().includes('ignores "sidebar"') });
    await v.send({ type: 'sidebar', state: { version: 1 } });
    await v.send({ type: 'sidebar', state: sidebarState() });
    await last;
    assert.equal(await v.page.locator('#root').innerText(), before);
  });

  it('shows hostile names as text, runs no script and breaks no CSP rule', async () => {
    const v = await open();
    const hostile = Object.values(HOSTILE);
    const base = dashboardState();
    const state = dashboardState({
      workspaceName: HOSTILE.scriptBreakout,
      history: {
        ...base.history,
        roles: base.history.roles.map((s, i) => ({ ...s, role: hostile[i]! })),
        choices: {
          ...base.history.choices,
          prompts: base.history.choices.prompts.map((s, i) => ({ ...s, id: hostile[i + 2]! })),
          models: base.history.choices.models.map((s, i) => ({ ...s, id: hostile[i]! })),
        },
      },
      bestModel: { ...base.bestModel!, id: HOSTILE.imgOnerror },
      models: base.models.map((m, i) => ({ ...m, id: hostile[i]! })),
      prompts: base.prompts.map((p, i) => ({ ...p, id: hostile[i + 2]! })),
      automation: base.automation.map((a, i) => ({ ...a, role: hostile[i + 1]! })),
      events: base.events.map((e, i) => ({
        ...e,
        kind: hostile[i]!,
        role: hostile[(i + 1) % 5]!,
        message: hostile[(i + 2) % 5]!,
      })),
      training: { ...TRAINING, role: HOSTILE.imgOnerror },
    });
    await show(v, state);
    assert.deepEqual(
      await v.page.locator('[data-card="models"] tbody .name').allTextContents(),
      hostile.slice(0, 3),
    );
    assert.deepEqual(
      await v.page.locator('[data-card="prompts"] tbody .name').allTextContents(),
      hostile.slice(2, 5),
    );
    assert.deepEqual(
      await v.page.locator('.event-message').allTextContents(),
      [...base.events].reverse().map((e) => hostile[(e.id - 1 + 2) % 5]),
    );
    assert.equal(await v.page.locator('.workspace').textContent(), HOSTILE.scriptBreakout);
    assert.equal(
      await v.page.locator('.training-role').textContent(),
      `LoRA adapter for ${HOSTILE.imgOnerror}`,
    );
    assert.equal(await v.page.locator('#root img, #root script, #root iframe').count(), 0);
    assert.ok((await v.canvasInk(CHARTS.prompts, [0, 0, 0])).inked > 2000, 'charts still draw');
    assert.ok((await v.canvasInk(CHARTS.promptShare, [0, 0, 0])).inked > 2000, 'charts still draw');
    assert.equal(await v.page.locator('[data-card="models"] .best .name').textContent(), HOSTILE.imgOnerror);
    assert.equal(await v.pwned(), undefined);
    assert.deepEqual(await v.cspViolations(), []);
    const overflow = await v.page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.equal(overflow, 0, 'no horizontal scrolling');
    await v.screenshot('dashboard-hostile-dark');
  });

  for (const theme of ['light', 'dark', 'high-contrast'] as const) {
    it(`follows the ${theme} theme, charts included`, async () => {
      const v = await open(theme);
      await show(v, dashboardState({ training: TRAINING }));
      const vars = THEMES[theme].vars;
      assert.equal(await v.css('body', 'color'), rgbOf(vars['--vscode-editor-foreground']!));
      assert.equal(await v.css('body', 'background-color'), rgbOf(vars['--vscode-editor-background']!));
      assert.ok((await v.canvasInk(CHARTS.reward, hex(theme, '--vscode-charts-blue'))).matching > 200);
      // Axis labels are drawn in the charts' foreground colour.
      assert.ok((await v.canvasInk(CHARTS.models, hex(theme, '--vscode-charts-foreground'))).matching > 50);
      await v.page.evaluate(() => document.fonts.ready);
      await v.screenshot(`dashboard-${theme}`);
    });
  }

  it('loads nothing before its load event (Chart.js and its styles are in the page), then its icon font', async () => {
    const v = await open();
    await show(v);
    assert.deepEqual(await v.loadsOnceIconsShow(), [{ file: 'codicon.ttf', afterLoad: true }]);
    assert.equal(await v.page.evaluate(() => document.fonts.check('16px codicon')), true);
    assert.equal(await v.css('.header h1 .codicon', 'visibility'), 'visible');
  });

  it('fits a narrow editor column in one column', async () => {
    const v = await open('dark', 520);
    await show(v);
    const overflow = await v.page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.equal(overflow, 0, 'no horizontal scrolling');
    await v.screenshot('dashboard-narrow-dark');
  });
});

function rgbOf(hexColour: string): string {
  const h = hexColour.replace('#', '');
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}
