import assert from 'node:assert/strict';
import type { DashboardState, SidebarState } from '../../src/protocol';
import { dashboardState, emptySidebarState, HOSTILE, run, sidebarState } from './support/fixtures';
import { usePage, type WebviewPage } from './support/harness';
import { layoutProblems } from '../support/layout';

const MINUTE = 60_000;
/** Model names as providers spell them: long, with slashes, dates and quantisations. */
const LONG_MODELS = [
  'meta-llama/Llama-3.1-70B-Instruct',
  'claude-3-5-sonnet-20241022',
  'qwen2.5-coder:32b-instruct-q4_K_M',
];
/** Long enough to need an ellipsis anywhere, short enough to measure line by line. */
const LONG_NAME = `${'very-long-name-'.repeat(20)}end`;

/** What the README's demo leaves after its ~600 runs: two roles, three prompts, three models, ten latest runs. */
function demoSidebar(overrides: Partial<SidebarState> = {}): SidebarState {
  const now = Date.now();
  const models = ['qwen2.5-coder:32b', 'qwen2.5-coder:7b', 'hosted-frontier'];
  const fns = ['slugify', 'parseDuration', 'debounce', 'chunk', 'deepMerge'];
  return sidebarState({
    workspaceName: 'agent-learning-demo',
    kpis: { runs: 600, avgReward: 0.784, previousAvgReward: 0.712, avgCost: 1842.6, avgDuration: 8_450 },
    roles: [
      {
        ...sidebarState().roles[0]!,
        role: 'coder',
        runs: 452,
        highQualitySinceExport: 38,
        exportedExamples: 212,
      },
      { ...sidebarState().roles[1]!, role: 'fixer', runs: 148, highQualitySinceExport: 97 },
    ],
    bestModel: {
      id: 'qwen2.5-coder:32b',
      avgReward: 0.834,
      count: 311,
      low: 0.8,
      high: 0.87,
      separated: true,
    },
    bestPrompt: { id: 'detailed', avgReward: 0.812, count: 388, low: 0.78, high: 0.85, separated: false },
    recentRuns: Array.from({ length: 10 }, (_, i) =>
      run(
        `d${i}`,
        {
          taskSlug: `${fns[i % fns.length]}-${599 - i}`,
          role: i % 4 === 3 ? 'fixer' : 'coder',
          modelId: models[i % models.length]!,
          promptId: i % 2 ? 'concise' : 'detailed',
          reward: [0.92, 0.35, 0.61, 1, 0][i % 5]!,
          human: i === 1 ? 'reject' : i === 2 ? 'accept' : null,
          createdAt: now - i * 17 * MINUTE,
        },
        now,
      ),
    ),
    ...overrides,
  });
}

/** A workspace that has been at it for a while: five-figure counts, slow runs, long model names. */
function busySidebar(): SidebarState {
  const demo = demoSidebar();
  return demoSidebar({
    kpis: { runs: 48_213, avgReward: 0.5, previousAvgReward: 0.61, avgCost: 124_870, avgDuration: 4_380_000 },
    roles: demo.roles.map((r) => ({
      ...r,
      runs: r.runs * 80,
      exportThreshold: 10_000,
      trainThreshold: 50_000,
    })),
    bestModel: {
      id: LONG_MODELS[0]!,
      avgReward: 0.834,
      count: 31_100,
      low: 0.8,
      high: 0.87,
      separated: false,
    },
    recentRuns: demo.recentRuns.map((r, i) => ({ ...r, modelId: LONG_MODELS[i % LONG_MODELS.length]! })),
  });
}

function hostileSidebar(): SidebarState {
  const hostile = [...Object.values(HOSTILE), LONG_NAME];
  const demo = demoSidebar();
  return demoSidebar({
    workspaceName: LONG_NAME,
    problems: [HOSTILE.scriptBreakout, `learning-config.json: ${LONG_NAME} is not a key (line 12345)`],
    roles: demo.roles.map((r, i) => ({ ...r, role: i ? HOSTILE.rtl : LONG_NAME })),
    bestModel: { ...demo.bestModel!, id: LONG_NAME },
    bestPrompt: { ...demo.bestPrompt!, id: HOSTILE.emoji },
    recentRuns: demo.recentRuns.map((r, i) => ({
      ...r,
      taskSlug: hostile[i % hostile.length]!,
      modelId: hostile[(i + 1) % hostile.length]!,
      role: hostile[(i + 2) % hostile.length]!,
    })),
  });
}

function demoDashboard(): DashboardState {
  const base = dashboardState();
  return dashboardState({
    models: base.models.map((m, i) => ({ ...m, id: LONG_MODELS[i]!, count: m.count * 100 })),
  });
}

function hostileDashboard(): DashboardState {
  const base = dashboardState();
  const hostile = [...Object.values(HOSTILE).filter((s) => s !== HOSTILE.long), LONG_NAME];
  return dashboardState({
    workspaceName: LONG_NAME,
    models: base.models.map((m, i) => ({ ...m, id: hostile[i]! })),
    prompts: base.prompts.map((p, i) => ({ ...p, id: hostile[(i + 2) % hostile.length]! })),
    automation: base.automation.map((a, i) => ({
      ...a,
      role: hostile[(i + 4) % hostile.length]!,
      trainBlocked: 'torch is missing',
      adapter: 'trained',
    })),
    events: base.events.map((e, i) => ({
      ...e,
      kind: hostile[i % hostile.length]!,
      role: hostile[(i + 1) % hostile.length]!,
      message: hostile[(i + 2) % hostile.length]!,
    })),
  });
}

async function assertLaidOut(v: WebviewPage, name: string): Promise<void> {
  const problems = await layoutProblems(v.page);
  // The screenshot is what the check measured: look at it when the check fails.
  await v.screenshot(`layout-${name}`);
  assert.ok(problems.length === 0, `${name}:\n${problems.map((p) => `${p.kind}: ${p.detail}`).join('\n')}`);
}

describe('sidebar layout (Chromium)', () => {
  const open = usePage('sidebar');
  const states = {
    demo: demoSidebar,
    busy: busySidebar,
    hostile: hostileSidebar,
    'first-run': () => ({ ...emptySidebarState(), trusted: false }),
  };

  for (const width of [170, 300, 700]) {
    for (const [name, state] of Object.entries(states)) {
      it(`lays out the ${name} state at ${width} px: nothing overlaps, no number wraps or is cut, nothing sideways`, async () => {
        const v = await open('dark', width);
        await v.send({ type: 'sidebar', state: state() });
        await v.page.locator('.runs, .first-run').waitFor();
        await assertLaidOut(v, `sidebar-${name}-${width}`);
      });
    }
  }

  for (const width of [170, 300]) {
    it(`says "Copied" beside a code block without covering its code at ${width} px`, async () => {
      const v = await open('dark', width);
      await v.send({ type: 'sidebar', state: emptySidebarState() });
      for (const copy of await v.page.getByRole('button', { name: /^Copy / }).all()) await copy.click();
      assert.equal(await v.page.getByRole('status').getByText('Copied').count(), 2);
      await assertLaidOut(v, `sidebar-copied-${width}`);
    });
  }

  it('shows whole model names at the default width, and the full name as the tooltip of one cut short', async () => {
    const v = await open('dark', 300);
    const state = busySidebar();
    const long = `${LONG_MODELS[0]}-${'x'.repeat(60)}`;
    state.recentRuns = [...demoSidebar().recentRuns.slice(0, 3), ...state.recentRuns.slice(0, 3)];
    state.recentRuns.push(run('cut', { modelId: long }));
    await v.send({ type: 'sidebar', state });
    await v.page.locator('.runs').waitFor();
    // The model's part of the "role · model · age" line is the box that would cut it short.
    const models = await v.page.locator('.run .run-model').evaluateAll((elements) =>
      elements.map((e) => ({
        text: e.textContent,
        title: e.getAttribute('title'),
        whole: e.parentElement!.scrollWidth <= e.parentElement!.clientWidth,
      })),
    );
    for (const model of models.slice(0, -1)) assert.ok(model.whole, `${model.text} is cut short`);
    assert.deepEqual(models.at(-1), { text: long, title: long, whole: false });
    const best = v.page.locator('[data-best="model"] .name');
    assert.equal(await best.getAttribute('title'), LONG_MODELS[0]);
    assert.ok(
      await best.evaluate((e) => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight),
      'the best model is whole',
    );
  });
});

describe('dashboard layout (Chromium)', () => {
  const open = usePage('dashboard');
  const states = { demo: demoDashboard, hostile: hostileDashboard };

  for (const width of [360, 1200]) {
    for (const [name, state] of Object.entries(states)) {
      it(`lays out the ${name} state at ${width} px: nothing overlaps, no number wraps or is cut, tables fit or scroll`, async () => {
        const v = await open('dark', width);
        await v.send({ type: 'dashboard', state: state() });
        await v.page.locator('.grid:not([hidden])').waitFor();
        await assertLaidOut(v, `dashboard-${name}-${width}`);
      });
    }
  }

  it('fits every table in a half-screen editor column (800 px) without scrolling it', async () => {
    const v = await open('dark', 800);
    const base = demoDashboard();
    await v.send({
      type: 'dashboard',
      state: {
        ...base,
        automation: base.automation.map((a) => ({
          ...a,
          trainBlocked: 'torch is missing',
          adapter: 'trained',
        })),
      },
    });
    await v.page.locator('.grid:not([hidden])').waitFor();
    await v.page.evaluate(() => document.fonts.ready);
    const tables = await v.page
      .locator('.table-wrap')
      .evaluateAll((wraps) =>
        wraps.map((w) => `${w.getAttribute('aria-label')}: ${w.scrollWidth} px in ${w.clientWidth} px`),
      );
    assert.equal(tables.length, 3);
    for (const table of tables) {
      const [, content, room] = /(\d+) px in (\d+) px/.exec(table)!;
      assert.ok(Number(content) <= Number(room), table);
    }
  });

  it('makes a table a Tab stop only while it has to scroll, and scrolls it with the arrow keys', async () => {
    const v = await open('dark', 1200);
    await v.send({ type: 'dashboard', state: demoDashboard() });
    await v.page.locator('.grid:not([hidden])').waitFor();
    await v.page.evaluate(() => document.fonts.ready);
    const stops = async () => {
      await v.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      const names: string[] = [];
      for (let i = 0; i < 20; i++) {
        await v.page.keyboard.press('Tab');
        const name = await v.page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? null);
        if (name === null || names.includes(name)) break;
        names.push(name);
      }
      return names;
    };
    // Every table fits: nothing to scroll, so no Tab stop.
    assert.deepEqual(await stops(), []);

    await v.page.setViewportSize({ width: 360, height: 900 });
    await v.page.locator('.table-wrap[tabindex="0"]').first().waitFor();
    const scrolling = await v.page
      .locator('.table-wrap')
      .evaluateAll((wraps) =>
        wraps.filter((w) => w.scrollWidth > w.clientWidth).map((w) => w.getAttribute('aria-label')),
      );
    assert.ok(scrolling.length > 0);
    assert.deepEqual(await stops(), scrolling);
    await v.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await v.page.keyboard.press('Tab');
    await v.page.keyboard.press('ArrowRight');
    await v.page.waitForFunction(() => (document.activeElement as HTMLElement).scrollLeft > 0);
  });

  it('shows whole model names in the models table at the default width, with the full name as tooltip', async () => {
    const v = await open('dark', 1200);
    await v.send({ type: 'dashboard', state: demoDashboard() });
    await v.page.locator('.grid:not([hidden])').waitFor();
    const names = await v.page.locator('[data-card="models"] tbody .name').evaluateAll((elements) =>
      elements.map((e) => ({
        text: e.textContent,
        title: e.getAttribute('title'),
        whole: e.scrollWidth <= e.clientWidth,
      })),
    );
    assert.deepEqual(
      names,
      LONG_MODELS.map((m) => ({ text: m, title: m, whole: true })),
    );
  });
});
