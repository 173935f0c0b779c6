import assert from 'node:assert/strict';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { withInterval } from '../../../../src/core/learning/stats';
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
