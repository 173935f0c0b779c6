import assert from 'node:assert/strict';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { insights, learningStats, withInterval } from '../../../../src/core/learning/stats';
import { toRunRecord } from '../../../../src/core/learning/runResult';
import { EventLog } from '../../../../src/core/store/eventLog';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { Store } from '../../../../src/core/store/store';
import { defaultConfig, parseConfig } from '../../../../src/core/workspace/config';
import { LearningPipeline } from '../../../../src/core/pipeline';
import { mulberry32 } from '../../../support/random';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

describe('insights', () => {
  let ws: string;
  let p: LearningPipeline;

  beforeEach(async () => {
    ws = makeWorkspace();
    p = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {}, random: mulberry32(3) });
  });

  afterEach(async () => {
    await p.close();
    removeWorkspace(ws);
  });

  it('gives a 95% interval that narrows as runs accumulate and stays within [0, 1]', () => {
    const few = withInterval({
      arm: 'a',
      n: 4,
      rewardSum: 2,
      rewardSq: 2,
      costSum: 0,
      costN: 0,
      durationSum: 0,
    });
    const many = withInterval({
      arm: 'a',
      n: 400,
      rewardSum: 200,
      rewardSq: 200,
      costSum: 0,
      costN: 0,
      durationSum: 0,
    });
    assert.equal(few.avgReward, 0.5);
    assert.ok(few.high - few.low > many.high - many.low);
    // Bernoulli(0.5) over 400 runs: sd of the mean 0.025, half-width 1.96 * 0.025 ≈ 0.049.
    assert.ok(Math.abs(many.high - many.low - 2 * 1.96 * Math.sqrt((0.25 * (400 / 399)) / 400)) < 1e-9);
    const certain = withInterval({
      arm: 'b',
      n: 1,
      rewardSum: 1,
      rewardSq: 1,
      costSum: 0,
      costN: 0,
      durationSum: 0,
    });
    assert.ok(certain.low >= 0 && certain.high <= 1);
  });

  it('buckets a reward series exactly as SQLite’s ROW_NUMBER() window grouped by bucket would', async () => {
    const random = mulberry32(17);
    for (let i = 0; i < 253; i++) {
      const total = 1 + Math.floor(random() * 5);
      await p.recordRun(
        `t${i}`,
        'm',
        'default',
        {
          input: 'i',
          output: 'o',
          compile: random() < 0.7,
          tests: { passed: Math.floor(random() * total), total },
        },
        i % 3 === 0 ? 'tester' : 'coder',
      );
    }
    await p.flush();
    const { rewardSeries } = p.getInsights(40);

    const db = new Database(path.join(ws, '.agent', 'experience.db'), {
      readonly: true,
      fileMustExist: true,
    });
    try {
      for (const { role, points } of rewardSeries) {
        const runs = (db.prepare('SELECT COUNT(*) AS n FROM runs WHERE role = ?').get(role) as { n: number })
          .n;
        const expected = db
          .prepare(
            `SELECT MAX(rn) AS run, MAX(created_at) AS at, AVG(reward) AS reward FROM (
               SELECT ROW_NUMBER() OVER (ORDER BY pk) AS rn, created_at, reward FROM runs WHERE role = ?)
             GROUP BY (rn - 1) / CAST(? AS INTEGER) ORDER BY 1`, // better-sqlite3 binds numbers as REAL
          )
          .all(role, Math.ceil(runs / 40)) as { run: number; at: number; reward: number }[];
        assert.ok(
          expected.length > 1 && expected.at(-1)!.run % Math.ceil(runs / 40) !== 0,
          'a partial last bucket',
        );
        assert.deepEqual(
          points.map(({ run, at }) => ({ run, at })),
          expected.map(({ run, at }) => ({ run, at })),
        );
        points.forEach((x, i) =>
          assert.ok(Math.abs(x.reward - expected[i]!.reward) < 1e-12, `${role} point ${i}`),
        );
      }
    } finally {
      db.close();
    }
  });

  it('downsamples each role’s reward series to the requested number of points, with a rolling mean', async () => {
    for (let i = 0; i < 250; i++) {
      await p.recordRun(`t${i}`, 'm', 'default', { input: 'i', output: 'o', compile: i % 2 === 0 }, 'coder');
    }
    await p.recordRun('f', 'm', 'default', { input: 'i', output: 'o', compile: true }, 'fixer');

    const { rewardSeries } = p.getInsights(50);

    const coder = rewardSeries.find((s) => s.role === 'coder')!;
    assert.equal(coder.points.length, 50);
    assert.equal(coder.points.at(-1)!.run, 250);
    // Buckets of 5 alternating runs: 3 good of 5, then 2 of 5, and so on.
    assert.deepEqual(
      coder.points.slice(0, 2).map((x) => x.reward),
      [0.6, 0.4],
    );
    assert.ok(Math.abs(coder.points[1]!.mean - 0.5) < 1e-9);
    assert.deepEqual(
      rewardSeries.find((s) => s.role === 'fixer')!.points.map((x) => x.reward),
      [1],
    );
  });

  it('compares the last 100 runs with the 100 before them for the trend', async () => {
    assert.equal(p.getInsights().previousAvgReward, null);
    for (let i = 0; i < 200; i++) {
      await p.recordRun(`t${i}`, 'm', 'default', { input: 'i', output: 'o', compile: i >= 100 });
    }
    assert.equal(p.getInsights().previousAvgReward, 0);
    assert.equal(p.getStats().recentStats.avgReward, 1);
  });
});

describe('getStats', () => {
  let ws: string;
  let pipeline: LearningPipeline;

  beforeEach(() => {
    ws = makeWorkspace();
  });

  afterEach(async () => {
    await pipeline?.close();
    removeWorkspace(ws);
  });

  async function open(): Promise<LearningPipeline> {
    pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {}, random: mulberry32(1) });
    return pipeline;
  }

  it("has the seed's shape, plus totals and progress per role", async () => {
    await open();
    await pipeline.recordRun('t1', 'model-a', 'default', {
      input: 'a',
      output: 'b',
      compile: true,
      costTokens: 1000,
      durationMs: 200,
    });
    await pipeline.recordRun(
      't2',
      'model-b',
      'concise',
      { input: 'c', output: 'd', compile: false, costTokens: 3000, durationMs: 400 },
      'fixer',
    );

    const stats = pipeline.getStats();

    assert.deepEqual(
      { avgReward: stats.recentStats.avgReward, avgCost: stats.recentStats.avgCost },
      { avgReward: 0.5, avgCost: 2000 },
    );
    assert.equal(stats.recentStats.avgDuration, 300);
    assert.deepEqual(
      stats.modelPerformance.map(({ model_name, avg_reward, count }) => ({
        model_name,
        avg_reward,
        count,
      })),
      [
        { model_name: 'model-a', avg_reward: 1, count: 1 },
        { model_name: 'model-b', avg_reward: 0, count: 1 },
      ],
    );
    assert.deepEqual(stats.promptPerformance, [
      { prompt_id: 'default', avg_reward: 1, count: 1 },
      { prompt_id: 'concise', avg_reward: 0, count: 1 },
    ]);
    assert.equal(stats.totals.runs, 2);
    assert.deepEqual({ ...stats.totals.byRole }, { coder: 1, fixer: 1 });
    assert.deepEqual(
      stats.roles.map((r) => [r.role, r.runs, r.highQualitySinceExport, r.exportThreshold, r.trainThreshold]),
      [
        ['coder', 1, 1, 100, 500],
        ['fixer', 1, 0, 100, 500],
      ],
    );
  });

  it('reports zeros before any run', async () => {
    await open();

    const stats = pipeline.getStats();

    assert.deepEqual(stats.recentStats, {
      avgReward: 0,
      avgCost: 0,
      avgDuration: 0,
      count: 0,
      costCount: 0,
      durationCount: 0,
    });
    assert.equal(stats.totals.runs, 0);
    assert.deepEqual({ ...stats.totals.byRole }, {});
  });
});

describe('stats over the store', () => {
  let db: Store;
  let events: EventLog;
  let runs: number;

  beforeEach(async () => {
    const opened = Store.open(await loadSqlJs(), undefined);
    assert.ok(opened instanceof Store);
    db = opened;
    events = new EventLog(
      () => db,
      () => {},
    );
    runs = 0;
  });

  afterEach(() => db.close());

  function record(role: string, reward: number): void {
    runs++;
    const ids = { id: `r${runs}`, createdAt: runs, taskSlug: 't', role, modelId: 'm', promptId: 'default' };
    db.insertRun({ ...toRunRecord(ids, { input: `i${runs}`, output: 'o' }), reward });
  }

  it('counts each role’s high-quality runs from its last export, toward the configured thresholds', () => {
    for (let i = 0; i < 3; i++) record('coder', 1);
    events.add(5000, 'export', 'coder', 'Exported 3 coder examples', {
      count: 3,
      file: '.agent/sft/coder_sft.jsonl',
      watermarkPk: 3,
      minReward: 0.7,
      duplicatesSkipped: 0,
      secretsRedacted: 0,
    });
    record('coder', 1);
    record('coder', 0.5);
    record('fixer', 1);
    const config = parseConfig({ autoExport: { minRuns: 10 }, autoTrain: { minExamples: 20 } });

    const { roles, totals, events: timeline } = learningStats({ db, events }, config);

    assert.deepEqual(roles, [
      {
        role: 'coder',
        runs: 5,
        highQualitySinceExport: 1,
        exportThreshold: 10,
        lastExport: { at: 5000, count: 3, file: '.agent/sft/coder_sft.jsonl' },
        exportedExamples: 3,
        trainThreshold: 20,
      },
      {
        role: 'fixer',
        runs: 1,
        highQualitySinceExport: 1,
        exportThreshold: 10,
        lastExport: null,
        exportedExamples: 0,
        trainThreshold: 20,
      },
    ]);
    assert.equal(totals.runs, 6);
    assert.deepEqual({ ...totals.byRole }, { coder: 5, fixer: 1 });
    assert.deepEqual(
      timeline.map((e) => e.kind),
      ['export'],
    );
  });

  it('gives zeros before the store is open', () => {
    const stats = learningStats(undefined, defaultConfig());

    assert.deepEqual(stats.recentStats, {
      avgReward: 0,
      avgCost: 0,
      avgDuration: 0,
      count: 0,
      costCount: 0,
      durationCount: 0,
    });
    assert.deepEqual([stats.roles, stats.recentRuns, stats.events], [[], [], []]);
  });

  it('gives the automation switches and model costs before the store is open, and no preferred prompt', () => {
    const config = parseConfig({ autoTrain: { enabled: false } });
    const modelVariants = [{ id: 'cheap', costPer1kTokens: 0.0005, tiers: ['small' as const] }];
    const preferredPrompt = () => assert.fail('asked before the store is open');

    const before = insights(undefined, { config, modelVariants, preferredPrompt }, 500);

    assert.deepEqual(before.automation, { autoExport: true, autoTrain: false, autoDeploy: true });
    assert.deepEqual({ ...before.modelCosts }, { cheap: 0.0005 });
    assert.equal(before.preferredPrompt, undefined);
    assert.deepEqual(before.rewardSeries, []);
  });

  it('asks for the preferred prompt and leaves the series out with 0 points', () => {
    record('coder', 1);

    const after = insights(
      db,
      { config: defaultConfig(), modelVariants: [], preferredPrompt: () => 'detailed' },
      0,
    );

    assert.equal(after.preferredPrompt, 'detailed');
    assert.deepEqual(after.rewardSeries, []);
    assert.deepEqual(
      after.prompts.map((p) => [p.id, p.count]),
      [['default', 1]],
    );
  });
});
