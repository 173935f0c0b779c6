import assert from 'node:assert/strict';
import { RunHistory } from '../../../../src/core/learning/history';
import { toRunRecord } from '../../../../src/core/learning/runResult';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { Store, type StoreReader } from '../../../../src/core/store/store';
import { mulberry32 } from '../../../support/random';

describe('run history (reward and choices over run order)', () => {
  let db: Store;
  let runs: number;
  /** Rows the history has read from the store, counted as they leave it. */
  let rowsRead: number;
  let reader: StoreReader;

  beforeEach(async () => {
    const opened = Store.open(await loadSqlJs(), undefined);
    assert.ok(opened instanceof Store);
    db = opened;
    runs = 0;
    rowsRead = 0;
    // The real store, with its runsAfter counted: how many rows an update reads is what this module promises.
    reader = Object.assign(Object.create(db) as Store, {
      runsAfter: (pk: number, limit: number) => {
        const rows = db.runsAfter(pk, limit);
        rowsRead += rows.length;
        return rows;
      },
    });
  });

  afterEach(() => db.close());

  function record(
    role: string,
    reward: number,
    o: { prompt?: string; model?: string; at?: number } = {},
  ): string {
    runs++;
    const ids = {
      id: `r${runs}`,
      createdAt: o.at ?? 1000 * runs,
      taskSlug: 't',
      role,
      modelId: o.model ?? 'm',
      promptId: o.prompt ?? 'default',
    };
    db.insertRun({ ...toRunRecord(ids, { input: 'i', output: 'o' }), reward });
    return ids.id;
  }

  it('keeps at most the given number of windows, each the mean reward of its runs per role', () => {
    const random = mulberry32(5);
    const rewards: { role: string; reward: number }[] = [];
    for (let i = 0; i < 100; i++) {
      const role = i % 3 === 0 ? 'tester' : 'coder';
      const reward = Math.round(random() * 100) / 100;
      rewards.push({ role, reward });
      record(role, reward);
    }
    const history = new RunHistory(8);
    history.update(reader);
    const view = history.view();

    // 100 runs in windows of 16 (1, 2, 4, 8, 16 as they outgrew 8 windows): six full and the last four runs.
    assert.deepEqual(view.runs, [16, 32, 48, 64, 80, 96, 100]);
    assert.deepEqual(view.at, [16_000, 32_000, 48_000, 64_000, 80_000, 96_000, 100_000]);
    assert.deepEqual(
      view.roles.map((r) => r.role),
      ['coder', 'tester'],
    );
    for (const series of view.roles) {
      view.runs.forEach((end, w) => {
        const inWindow = rewards
          .slice(w === 0 ? 0 : view.runs[w - 1], end)
          .filter((r) => r.role === series.role);
        const expected = inWindow.reduce((t, r) => t + r.reward, 0) / inWindow.length;
        assert.ok(Math.abs(series.reward[w]! - expected) < 1e-12, `${series.role} window ${w}`);
      });
      // The baseline: the role's first runs, whole windows of them, at least 20.
      const first = rewards.filter((r) => r.role === series.role).slice(0, series.baseline!.runs);
      assert.ok(series.baseline!.runs >= 20);
      assert.ok(
        Math.abs(series.baseline!.reward - first.reduce((t, r) => t + r.reward, 0) / first.length) < 1e-12,
      );
    }
  });

  it('reads only the new runs on each update, and ends where a fresh read of every run ends', () => {
    const history = new RunHistory(16);
    for (let i = 0; i < 300; i++) {
      record(i % 2 ? 'coder' : 'fixer', (i % 7) / 7, { prompt: `p${i % 3}` });
      if (i % 10 === 9) {
        const before = rowsRead;
        history.update(reader);
        assert.equal(rowsRead - before, 10, 'ten new runs read, not all of them');
      }
    }
    const fresh = new RunHistory(16);
    fresh.update(db);
    assert.deepEqual(history.view(), fresh.view());
    assert.equal(history.totalRuns, 300);
  });

  it('follows verdicts and late signals without reading the runs again', () => {
    const ids: string[] = [];
    for (let i = 0; i < 160; i++) ids.push(record(i % 2 ? 'coder' : 'fixer', 0.5));
    const history = new RunHistory(10);
    history.update(reader);
    const before = rowsRead;
    db.setVerdict(ids[3]!, 'accept', 1, 1); // run 4 (i = 3): a coder run in the first window
    db.setReward(ids[150]!, 0);
    db.setVerdict(ids[150]!, 'reject', 2, 0); // the same reward again: no edit
    history.update(reader);
    assert.equal(rowsRead, before, 'no run read again');
    const coder = history.view().roles.find((r) => r.role === 'coder')!;
    // 160 runs in windows of 16: each window has 8 coder runs.
    assert.ok(Math.abs(coder.reward[0]! - (7 * 0.5 + 1) / 8) < 1e-12);
    assert.ok(Math.abs(history.view().roles[1]!.reward[9]! - (7 * 0.5 + 0) / 8) < 1e-12);
    const fresh = new RunHistory(10);
    fresh.update(db);
    assert.deepEqual(history.view(), fresh.view());
  });

  it('forgets the edits of a transaction that rolled back', () => {
    const ids = Array.from({ length: 40 }, () => record('coder', 0.5));
    const history = new RunHistory(10);
    history.update(reader);
    assert.throws(() =>
      db.transaction(() => {
        db.setVerdict(ids[0]!, 'accept', 1, 1);
        throw new Error('the journal append failed');
      }),
    );
    db.setVerdict(ids[1]!, 'reject', 2, 0);
    history.update(reader);
    const fresh = new RunHistory(10);
    fresh.update(db);
    assert.deepEqual(history.view(), fresh.view());
    assert.equal(history.view().roles[0]!.reward[0], (0.5 * 3 + 0) / 4);
  });

  it('reads the runs again when it fell behind more edits than the store keeps, or the store is another', () => {
    const ids = Array.from({ length: 50 }, () => record('coder', 0.5));
    const history = new RunHistory(10);
    history.update(reader);
    for (let i = 0; i < 3000; i++) db.setReward(ids[i % 50]!, i / 3000);
    const before = rowsRead;
    history.update(reader);
    assert.equal(rowsRead - before, 50, 'all runs read again');
    const fresh = new RunHistory(10);
    fresh.update(db);
    assert.deepEqual(history.view(), fresh.view());
  });

  it('places an event after the run its data names, else after the runs recorded before it', () => {
    for (let i = 0; i < 64; i++) record('coder', 0.5); // at 1000 … 64,000
    const history = new RunHistory(8); // windows of 8 runs
    history.update(db);
    assert.equal(history.positionOf({ at: 0, data: { watermarkPk: 21 } }), 21);
    assert.equal(history.positionOf({ at: 0, data: { deployPk: 64 } }), 64);
    assert.equal(history.positionOf({ at: 0, data: { deployPk: 999 } }), 64);
    // By time, to the end of the last window whose runs all came before: run 24 at 24,000 ends a window.
    assert.equal(history.positionOf({ at: 24_500, data: null }), 24);
    assert.equal(history.positionOf({ at: 31_999, data: { key: 'coder' } }), 24);
    assert.equal(history.positionOf({ at: 500, data: null }), 0);
    assert.equal(history.positionOf({ at: 1e12, data: null }), 64);
    assert.equal(new RunHistory().positionOf({ at: 1, data: null }), null);
  });

  it('shows the share of each prompt and model per window: a bandit that learns chooses its best more often', () => {
    const random = mulberry32(9);
    for (let i = 0; i < 1000; i++) {
      const exploit = 0.3 + (0.65 * i) / 1000; // from 30% to 95% "detailed"
      const prompt = random() < exploit ? 'detailed' : random() < 0.5 ? 'concise' : 'terse';
      record('coder', 0.5, { prompt, model: i % 4 === 0 ? 'big' : 'small' });
    }
    const history = new RunHistory();
    history.update(db);
    const { choices } = history.view();
    assert.equal(choices.runs.length, 50);
    assert.equal(choices.runs.at(-1), 1000);
    assert.deepEqual(choices.prompts.map((p) => p.id).sort(), ['concise', 'detailed', 'terse']);
    assert.equal(choices.prompts[0]!.id, 'detailed', 'the most chosen first');
    const detailed = choices.prompts[0]!.share;
    assert.ok(detailed[0]! < 0.5 && detailed.at(-1)! > 0.85, `${detailed[0]} → ${detailed.at(-1)}`);
    choices.runs.forEach((_, w) => {
      const total = choices.prompts.reduce((t, p) => t + p.share[w]!, 0);
      assert.ok(Math.abs(total - 1) < 1e-9, `window ${w} shares sum to ${total}`);
    });
    assert.deepEqual(
      choices.models.map((m) => [m.id, m.share[0]]),
      [
        ['small', 0.75],
        ['big', 0.25],
      ],
    );
  });

  it('gives the eight most chosen their own series and the rest one "other" series, within few windows for few runs', () => {
    for (let i = 0; i < 30; i++) record('coder', 0.5, { prompt: `p${String(i % 12).padStart(2, '0')}` });
    const history = new RunHistory();
    history.update(db);
    const { choices } = history.view();
    // 30 runs: 3 windows of 10, not 30 windows of one run (a share of 0 or 100%).
    assert.deepEqual(choices.runs, [10, 20, 30]);
    assert.equal(choices.prompts.length, 9);
    assert.equal(choices.prompts.at(-1)!.id, null);
    assert.ok(Math.abs(choices.prompts.at(-1)!.share[0]! - 2 / 10) < 1e-12);
  });
});
