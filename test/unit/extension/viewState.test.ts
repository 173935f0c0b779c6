import assert from 'node:assert/strict';
import { automationPort, LearningPipeline } from '../../../src/core/pipeline';
import { dashboardState, sidebarState } from '../../../src/extension/viewState';
import { mulberry32 } from '../../support/random';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../support/workspace';

describe('view states', () => {
  let ws: string;
  let p: LearningPipeline;
  const ctx = { workspaceName: 'demo', trusted: true, ready: true };

  beforeEach(async () => {
    ws = makeWorkspace();
    writeAgentFile(ws, 'model_variants.json', {
      variants: [{ id: 'm-cheap', costPer1kTokens: 0.0005, tiers: ['small', 'medium', 'large'] }],
    });
    p = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {}, random: mulberry32(5) });
  });

  afterEach(async () => {
    await p.close();
    removeWorkspace(ws);
  });

  it('puts the KPIs, the best model and prompt, progress and the latest runs in the sidebar state', async () => {
    await p.recordRun('<img src=x onerror=alert(1)>', 'm-cheap', 'detailed', {
      input: 'i',
      output: 'o',
      compile: true,
      costTokens: 100,
      durationMs: 2000,
    });
    await p.recordRun('two', 'm-other', 'concise', {
      input: 'i',
      output: 'o',
      compile: false,
      costTokens: 300,
    });

    const s = sidebarState(p, ctx);

    assert.equal(s.version, 1);
    assert.deepEqual(s.kpis, {
      runs: 2,
      avgReward: 0.5,
      previousAvgReward: null,
      avgCost: 200,
      avgDuration: 2000,
    });
    assert.equal(s.bestModel!.id, 'm-cheap');
    assert.equal(s.bestPrompt!.id, 'detailed');
    assert.deepEqual(
      s.roles.map((r) => [r.role, r.runs, r.highQualitySinceExport, r.exportThreshold]),
      [['coder', 2, 1, 100]],
    );
    // Run data passes through as data; escaping is the webview's job (textContent).
    assert.deepEqual(
      s.recentRuns.map((r) => r.taskSlug),
      ['two', '<img src=x onerror=alert(1)>'],
    );
  });

  it('gives the dashboard model costs from model_variants.json, prompt intervals and the preferred prompt', async () => {
    for (let i = 0; i < 10; i++) {
      await p.recordRun(`t${i}`, 'm-cheap', 'detailed', { input: 'i', output: 'o', compile: true });
      await p.recordRun(`u${i}`, 'm-other', 'concise', { input: 'i', output: 'o', compile: i < 3 });
    }

    const d = dashboardState(p, ctx, null);

    assert.equal(d.totalRuns, 20);
    assert.deepEqual(
      d.models.map((m) => [m.id, m.costPer1kTokens, m.count]),
      [
        ['m-cheap', 0.0005, 10],
        ['m-other', null, 10],
      ],
    );
    const concise = d.prompts.find((x) => x.id === 'concise')!;
    assert.ok(concise.low < 0.3 && concise.high > 0.3);
    assert.deepEqual(
      d.prompts.filter((x) => x.preferred).map((x) => x.id),
      ['detailed'],
    );
    assert.deepEqual(
      d.automation.map((a) => [a.role, a.exportProgress.current, a.exportProgress.threshold]),
      [['coder', 13, 100]],
    );
    assert.deepEqual(d.history.runs.slice(0, 3), [1, 2, 3]);
    assert.equal(d.history.runs.at(-1), 20);
    assert.deepEqual(
      d.history.choices.prompts.map((x) => [x.id, x.share]),
      [
        ['concise', [0.5, 0.5]],
        ['detailed', [0.5, 0.5]],
      ],
    );
    // m-cheap (10 of 10 compile) against m-other (3 of 10): clear of each other, so the best, not just leading.
    assert.deepEqual([d.bestModel?.id, d.bestModel?.separated], ['m-cheap', true]);
  });

  it('places exports on the run axis and keeps the history current as runs and verdicts arrive', async () => {
    const run = { input: 'i', output: 'o', compile: true };
    for (let i = 0; i < 5; i++)
      await p.recordRun(`t${i}`, 'm-cheap', 'detailed', { ...run, output: `o${i}` });
    await p.exportDataset('coder');
    for (let i = 0; i < 3; i++)
      await p.recordRun(`u${i}`, 'm-cheap', 'detailed', { ...run, output: `p${i}` });

    const d = dashboardState(p, ctx, null);

    assert.equal(d.events.find((e) => e.kind === 'export')?.run, 5);
    assert.equal(d.history.runs.at(-1), 8);
    const late = await p.recordRun('late', 'm-cheap', 'detailed', {
      input: 'i',
      output: 'o',
      compile: false,
    });
    assert.equal(dashboardState(p, ctx, null).history.roles[0]!.reward.at(-1), 0);
    await p.recordFeedback(late.id, 'accept');
    const after = dashboardState(p, ctx, null);
    assert.equal(after.history.runs.at(-1), 9);
    assert.ok(after.history.roles[0]!.reward.at(-1)! > 0, 'the verdict is in the reward');
  });

  it('says "leading, not yet sure" while the leader’s interval overlaps another’s, and no cost for no costs', async () => {
    await p.recordRun('a', 'm-cheap', 'detailed', { input: 'i', output: 'o', compile: true });
    await p.recordRun('b', 'm-other', 'concise', { input: 'i', output: 'o', compile: false });

    const s = sidebarState(p, ctx);

    assert.deepEqual([s.bestModel?.id, s.bestModel?.separated], ['m-cheap', false]);
    assert.deepEqual([s.kpis.avgCost, s.kpis.avgDuration], [null, null]);
    assert.equal(dashboardState(p, ctx, null).models[0]!.avgCostTokens, null);
  });

  it('gives models and roles named like Object.prototype members no cost and no count of their own', async () => {
    for (const model of ['constructor', 'toString', '__proto__'])
      await p.recordRun('t', model, 'default', { input: 'i', output: 'o', compile: true });

    const d = dashboardState(p, ctx, null);

    assert.deepEqual(d.models.map((m) => [m.id, m.costPer1kTokens]).sort(), [
      ['__proto__', null],
      ['constructor', null],
      ['toString', null],
    ]);
    const { byRole } = p.getStats().totals;
    assert.equal(byRole.constructor, undefined);
    assert.equal(byRole.coder, 3);
  });

  it('tells the dashboard a trained adapter is not deployed until a deploy follows it, and why training cannot run', async () => {
    await p.recordRun('t', 'm-cheap', 'detailed', { input: 'i', output: 'o', compile: true });
    const port = automationPort(p);
    const adapter = () => dashboardState(p, ctx, null, 'torch is missing').automation[0]!;
    assert.equal(adapter().adapter, 'none');
    assert.equal(adapter().trainBlocked, 'torch is missing');

    const training = {
      key: 'coder',
      tier: null,
      baseModel: 'qwen2.5-coder:0.5b',
      seconds: 60,
      evalLossBefore: null,
      evalLossAfter: null,
      improved: null,
      examples: 12,
    };
    port.recordEvent('training', 'coder', 'Trained coder', training);
    assert.equal(adapter().adapter, 'trained');
    port.recordEvent('deploy', 'coder', 'Deployed coder', {
      key: 'coder',
      role: 'coder',
      model: 'agent-coder',
      method: 'adapter',
      base: 'qwen2.5-coder:0.5b',
      baseDigest: 'sha256:1',
      deployPk: 1,
      backupBaseDigest: null,
      ollamaVersion: '0.6.0',
      evalLossBefore: null,
      evalLossAfter: null,
    });
    assert.equal(adapter().adapter, 'deployed');
    // Trained again in the same millisecond as that deploy: still a new adapter waiting to be deployed.
    port.recordEvent('training', 'coder', 'Trained coder again', training);
    assert.equal(adapter().adapter, 'trained');
  });
});
