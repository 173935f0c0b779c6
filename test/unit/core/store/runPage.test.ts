import assert from 'node:assert/strict';
import type { SqlJsStatic } from 'sql.js';
import type { RunRecord } from '../../../../src/core/learning/runResult';
import { runRecord } from '../../../support/runRecord';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { Store, type RunCursor, type RunFilter, type RunOrder } from '../../../../src/core/store/store';
import { mulberry32 } from '../../../support/random';

const run = runRecord;

describe('Store.runPage (the review queue)', () => {
  let SQL: SqlJsStatic;
  let store: Store;

  before(async () => (SQL = await loadSqlJs()));
  beforeEach(() => {
    const opened = Store.open(SQL, undefined);
    assert.ok(opened instanceof Store);
    store = opened;
  });
  afterEach(() => store.close());

  /** Every page, followed by its cursor, joined. */
  function allPages(filter: RunFilter, order: RunOrder, limit: number): string[] {
    const ids: string[] = [];
    let cursor: RunCursor | undefined;
    for (let pages = 0; pages < 10_000; pages++) {
      const page = store.runPage(filter, order, limit, cursor);
      assert.ok(page.runs.length <= limit);
      ids.push(...page.runs.map((r) => r.id));
      if (!page.next) return ids;
      cursor = page.next;
    }
    throw new Error('the pages never ended');
  }

  function seed(count: number): RunRecord[] {
    const random = mulberry32(7);
    const roles = ['coder', 'reviewer'];
    const models = ['qwen', 'llama', 'constructor'];
    const runs: RunRecord[] = [];
    for (let i = 0; i < count; i++) {
      const pick = random();
      const r = run({
        role: roles[i % 2]!,
        modelId: models[i % 3]!,
        promptId: i % 5 === 0 ? 'concise' : 'detailed',
        reward: Math.round(random() * 100) / 100,
        human: pick < 0.2 ? 'accept' : pick < 0.3 ? 'reject' : null,
        humanAt: pick < 0.3 ? i : null,
      });
      store.insertRun(r);
      runs.push(r);
    }
    return runs;
  }

  it('lists the runs without a verdict newest first, page by page, each exactly once', () => {
    const runs = seed(257);
    const expected = runs
      .filter((r) => r.human === null)
      .reverse()
      .map((r) => r.id);
    assert.deepEqual(allPages({ verdict: 'none' }, 'newest', 20), expected);
    const first = store.runPage({ verdict: 'none' }, 'newest', 3);
    assert.deepEqual(
      first.runs.map((r) => r.id),
      expected.slice(0, 3),
    );
    assert.equal(first.runs[0]!.human, null);
  });

  it('narrows by role, model, prompt, verdict and reward range, alone and together', () => {
    const runs = seed(300);
    const cases: [RunFilter, (r: RunRecord) => boolean][] = [
      [{ role: 'reviewer' }, (r) => r.role === 'reviewer'],
      [{ model: 'constructor' }, (r) => r.modelId === 'constructor'],
      [{ prompt: 'concise' }, (r) => r.promptId === 'concise'],
      [{ verdict: 'accept' }, (r) => r.human === 'accept'],
      [{ verdict: 'reject' }, (r) => r.human === 'reject'],
      [{ minReward: 0.3, maxReward: 0.6 }, (r) => r.reward >= 0.3 && r.reward <= 0.6],
      [
        { role: 'coder', model: 'qwen', verdict: 'none', minReward: 0.5 },
        (r) => r.role === 'coder' && r.modelId === 'qwen' && r.human === null && r.reward >= 0.5,
      ],
    ];
    for (const [filter, keep] of cases) {
      const expected = runs
        .filter(keep)
        .reverse()
        .map((r) => r.id);
      assert.ok(expected.length > 0, JSON.stringify(filter));
      assert.deepEqual(allPages(filter, 'newest', 7), expected, JSON.stringify(filter));
    }
  });

  it('reads a model or prompt of every role through the role-led indexes once the single-column ones are gone', () => {
    const runs = seed(300);
    const cases: [RunFilter, (r: RunRecord) => boolean][] = [
      [{ model: 'constructor' }, (r) => r.modelId === 'constructor'],
      [{ prompt: 'concise', verdict: 'none' }, (r) => r.promptId === 'concise' && r.human === null],
      [
        { model: 'qwen', prompt: 'detailed', minReward: 0.4 },
        (r) => r.modelId === 'qwen' && r.promptId === 'detailed' && r.reward >= 0.4,
      ],
      [{ model: 'nobody ran it' }, () => false],
    ];
    const answers = () => ({
      pages: cases.map(([filter]) => allPages(filter, 'newest', 7)),
      uncertain: cases.map(([filter]) => allPages(filter, 'uncertain', 7)),
      window: store.windowArmStats('prompt', undefined, undefined, 40, ['concise', 'detailed']),
      tiered: store.windowArmStats('model', undefined, 'small', 25, ['qwen', 'llama', 'constructor']),
      latest: store.latestRewards('model', undefined, undefined, 'llama', 30),
    });
    const before = answers();
    let dropped = 0;
    while (store.dropIndexNotNeeded()) dropped++;
    assert.equal(dropped, 2);
    const after = answers();

    assert.deepEqual(after, before);
    for (const [i, [filter, keep]] of cases.entries()) {
      const kept = runs.map((r, at) => ({ r, at })).filter(({ r }) => keep(r));
      assert.deepEqual(
        after.pages[i],
        kept.reverse().map(({ r }) => r.id),
        JSON.stringify(filter),
      );
      const distance = (r: RunRecord) => Math.abs(r.reward - 0.5);
      const uncertain = kept
        .sort((a, b) => distance(a.r) - distance(b.r) || b.at - a.at)
        .map(({ r }) => r.id);
      assert.deepEqual(after.uncertain[i], uncertain, `uncertain ${JSON.stringify(filter)}`);
    }
    // Each branch searches an index for its role: no statement reads the whole runs table.
    const plans = [
      ...store.queryPlans('runPage'),
      ...store.queryPlans('window'),
      ...store.queryPlans('latest'),
    ];
    assert.ok(plans.length >= 5, `${plans.length} statements`);
    for (const [name, plan] of plans) {
      if (name.endsWith('WHERE 0')) continue; // no role has the arm: a constant false, nothing read
      const reads = plan.filter((line) => / runs\b/.test(line));
      assert.ok(reads.length > 0, name);
      for (const line of reads)
        assert.match(line, /SEARCH runs USING INDEX runs_role_/, `${name}: ${plan.join(' | ')}`);
    }
  });

  it('orders by confidence: rewards nearest 0.5 first, newest first among equals, across pages', () => {
    const runs = seed(200);
    const distance = (r: RunRecord) => Math.abs(r.reward - 0.5);
    const expected = runs
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.human === null)
      .sort((a, b) => distance(a.r) - distance(b.r) || b.i - a.i)
      .map(({ r }) => r.id);
    assert.deepEqual(allPages({ verdict: 'none' }, 'uncertain', 9), expected);
  });

  it('keeps its place when runs arrive between pages: the next page goes on from the last run shown', () => {
    seed(30);
    const first = store.runPage({}, 'newest', 10);
    const newer = run();
    store.insertRun(newer);
    const second = store.runPage({}, 'newest', 10, first.next);
    const shown = [...first.runs, ...second.runs].map((r) => r.id);
    assert.equal(new Set(shown).size, 20);
    assert.ok(!shown.includes(newer.id));
    assert.equal(store.runPage({}, 'newest', 1).runs[0]!.id, newer.id);
  });

  it('treats filter values as data: a role named like SQL or like a prototype key matches only itself', () => {
    seed(10);
    const odd = run({ role: "x' OR 1=1 --", modelId: 'constructor' });
    store.insertRun(odd);
    assert.deepEqual(
      store.runPage({ role: "x' OR 1=1 --" }, 'newest', 50).runs.map((r) => r.id),
      [odd.id],
    );
    assert.deepEqual(store.runPage({ role: '__proto__' }, 'newest', 50).runs, []);
  });

  it('says there is no next page on the last one, and returns an empty page for an empty history', () => {
    assert.deepEqual(store.runPage({}, 'newest', 10), { runs: [], next: undefined });
    seed(10);
    assert.equal(store.runPage({}, 'newest', 10).next, undefined);
    assert.notEqual(store.runPage({}, 'newest', 9).next, undefined);
  });

  it('clears a verdict: the run is back among those without one, and its clearing time is kept', () => {
    const r = run({ human: 'accept', humanAt: 5, reward: 1 });
    store.insertRun(r);
    store.setVerdict(r.id, null, 9, 0.5);
    const stored = store.getRun(r.id)!;
    assert.equal(stored.human, null);
    assert.equal(stored.humanAt, 9);
    assert.equal(stored.reward, 0.5);
    assert.deepEqual(
      store.runPage({ verdict: 'none' }, 'newest', 5).runs.map((x) => x.id),
      [r.id],
    );
  });
});
