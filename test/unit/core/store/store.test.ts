import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SqlJsStatic } from 'sql.js';
import { LearningError } from '../../../../src/core/errors';
import { runRecord } from '../../../support/runRecord';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { APPLICATION_ID, PAGE_SIZE, SCHEMA_VERSION, Store } from '../../../../src/core/store/store';
import { withRoom } from '../../../../src/core/store/imageRoom';
import { boundText } from '../../../../src/core/store/storedText';
import { TextSegments } from '../../../../src/core/store/textSegments';

const run = runRecord;

describe('Store', () => {
  let SQL: SqlJsStatic;
  let store: Store;

  before(async () => (SQL = await loadSqlJs()));

  beforeEach(() => {
    const opened = Store.open(SQL, undefined);
    assert.ok(opened instanceof Store);
    store = opened;
  });

  afterEach(() => store.close());

  /** The database in `setUp`'s state, as the bytes of a SQLite file. */
  function fileImage(setUp: string): Uint8Array {
    const db = new SQL.Database();
    db.run(setUp);
    const bytes = db.export();
    db.close();
    return bytes;
  }

  describe('open', () => {
    it('makes a new database ours (application id and schema version) and reopens its own file with every run', () => {
      const r = run({ complexity: 'large', compile: true, testsPassed: 1, testsTotal: 2, human: 'accept' });
      store.insertRun(r);

      const image = store.export();
      const check = new SQL.Database(image);
      assert.equal(check.exec('PRAGMA application_id')[0]?.values[0]?.[0], APPLICATION_ID);
      assert.equal(check.exec('PRAGMA user_version')[0]?.values[0]?.[0], SCHEMA_VERSION);
      check.close();
      const reopened = Store.open(SQL, image);
      assert.ok(reopened instanceof Store);

      const reread = reopened.getRun(r.id);
      assert.deepEqual({ ...reread, input: r.input, output: r.output }, r);
      reopened.close();
    });

    it('makes a new database in 8 KiB pages, and leaves an existing one in the pages it has', () => {
      const pageSize = (image: Uint8Array) => {
        const db = new SQL.Database(image);
        const size = db.exec('PRAGMA page_size')[0]?.values[0]?.[0];
        db.close();
        return size;
      };
      store.insertRun(run({ id: 'r-new' }));
      const image = store.export();
      assert.equal(pageSize(image), PAGE_SIZE);

      const old = new SQL.Database(image);
      old.exec('PRAGMA page_size = 4096; VACUUM');
      const oldImage = old.export();
      old.close();
      const reopened = Store.open(SQL, oldImage);
      assert.ok(reopened instanceof Store);
      reopened.insertRun(run({ id: 'r-later' }));
      const saved = reopened.export();
      reopened.close();
      assert.equal(pageSize(saved), 4096);
    });

    it("reports someone else's SQLite file, a newer schema and bytes that are no database instead of using them", () => {
      const foreign = Store.open(SQL, fileImage('CREATE TABLE customers (name TEXT)'));
      const newer = Store.open(SQL, fileImage('PRAGMA user_version = 99'));
      const garbage = Store.open(SQL, new TextEncoder().encode('not a database '.repeat(100)));

      assert.ok(!(foreign instanceof Store) && foreign.kind === 'corrupt');
      assert.deepEqual(newer, { kind: 'newer', version: 99 });
      assert.ok(!(garbage instanceof Store) && garbage.kind === 'corrupt');
    });

    it('checks the integrity of bytes it is given, unless they are an image it saved itself (verified)', () => {
      for (let i = 0; i < 50; i++) store.insertRun(run({ id: `r-${i}` }));
      const image = store.export();
      // The page of the runs table's root, overwritten: the header and the schema still read.
      const probe = new SQL.Database(image);
      const root = Number(
        probe.exec("SELECT rootpage FROM sqlite_master WHERE name = 'runs'")[0]?.values[0]?.[0],
      );
      const pageSize = Number(probe.exec('PRAGMA page_size')[0]?.values[0]?.[0]);
      probe.close();
      const damaged = Uint8Array.from(image);
      damaged.fill(0xff, (root - 1) * pageSize, root * pageSize);

      const checked = Store.open(SQL, damaged);
      assert.ok(!(checked instanceof Store) && checked.kind === 'corrupt');
      assert.match(String(checked.cause), /integrity check failed|malformed/);
      // What `verified` means: the check is skipped, so only a file that matches experience.db.sum may say so.
      const trusted = Store.open(SQL, damaged, true);
      assert.ok(trusted instanceof Store);
      trusted.close();
    });
  });

  it('gives back free pages a few at a time, and all of them in the end', () => {
    const raw = new SQL.Database(store.export());
    const big = 'x'.repeat(24_000); // 9.6 MB in all: hundreds of pages whatever their size
    for (let pk = 1; pk <= 200; pk++)
      raw.run('INSERT INTO run_texts (pk, input, output) VALUES (?, ?, ?)', [pk, big, big]);
    raw.run('DELETE FROM run_texts');
    const image = raw.export();
    raw.close();
    const opened = Store.open(SQL, image);
    assert.ok(opened instanceof Store);
    const freeOf = (s: Store) => {
      const db = new SQL.Database(s.export());
      try {
        return Number(db.exec('PRAGMA freelist_count')[0]?.values[0]?.[0]);
      } finally {
        db.close();
      }
    };
    const before = freeOf(opened);
    assert.ok(before > 300, `${before} free pages to give back`);

    assert.equal(opened.releaseSomeFreePages(100), 'more');
    assert.equal(freeOf(opened), before - 100);
    let calls = 1;
    while (opened.releaseSomeFreePages(100) === 'more') calls++;
    assert.equal(calls, Math.ceil(before / 100) - 1);
    assert.equal(freeOf(opened), 0);
    assert.equal(opened.releaseSomeFreePages(100), 'done');
    opened.close();
  });

  it('inserts a run once: a replay of the same id changes nothing', () => {
    const r = run();

    assert.equal(store.insertRun(r), true);
    assert.equal(store.insertRun({ ...r, reward: 1 }), false);

    assert.equal(store.getRun(r.id)?.reward, 0.5);
    assert.equal(store.maxPk(), 1);
    assert.equal(store.armStats('prompt', 'coder')[0]?.n, 1);
  });

  it('refuses a run it cannot store instead of dropping it: a reward that is not a number, a missing column', () => {
    for (const reward of [NaN, Infinity]) {
      const r = run({ reward });
      assert.throws(
        () => store.insertRun(r),
        (err: unknown) => err instanceof LearningError && err.message.includes(`Run ${r.id} was not stored`),
      );
    }
    assert.throws(() => store.insertRun(run({ taskSlug: null as unknown as string })), /NOT NULL/);

    assert.equal(store.maxPk(), 0);
    assert.deepEqual(store.armStats('prompt', 'coder'), []);
  });

  it('refuses a verdict whose reward is not a number, keeping the run as it was', () => {
    const r = run();
    store.insertRun(r);

    assert.throws(() => store.setVerdict(r.id, 'accept', 5, NaN), LearningError);

    assert.equal(store.getRun(r.id)?.reward, 0.5);
    assert.equal(store.getRun(r.id)?.human, null);
  });

  it('writes a lone surrogate as U+FFFD, so that any SQLite reader (Python here) can decode every text', () => {
    const r = run({ id: 'r-\uD800', taskSlug: 'fix-\uD83D', input: 'a\uDC00b', output: 'ok \uD83D\uDE00' });
    store.insertRun(r);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'al-store-')), 'experience.db');
    fs.writeFileSync(file, store.export());

    const read = execFileSync(
      'python3',
      [
        '-c',
        'import sqlite3, sys, json; db = sqlite3.connect(sys.argv[1]); ' +
          'print(json.dumps(db.execute("SELECT r.id, task_slug, input, output FROM runs r JOIN run_texts t ' +
          'ON t.pk = r.pk").fetchall()))',
        file,
      ],
      { encoding: 'utf8' },
    );
    fs.rmSync(path.dirname(file), { recursive: true, force: true });

    assert.deepEqual(JSON.parse(read), [['r-\uFFFD', 'fix-\uFFFD', 'a\uFFFDb', 'ok \uD83D\uDE00']]);
    assert.equal(store.getRun('r-\uD800')?.taskSlug, 'fix-\uFFFD', 'looked up by the id as sent');
  });

  it("keeps each arm's sums in step with its runs, through a verdict that changes a reward", () => {
    store.insertRun(run({ promptId: 'a', modelId: 'm1', complexity: 'large', reward: 0.2, costTokens: 100 }));
    const judged = run({ promptId: 'a', modelId: 'm1', reward: 0.4, durationMs: 30 });
    store.insertRun(judged);
    store.insertRun(run({ promptId: 'b', modelId: 'm1', complexity: 'small', reward: 0.9, role: 'fixer' }));

    store.setVerdict(judged.id, 'accept', 5, 0.8);

    const prompts = store.armStats('prompt', 'coder');
    assert.deepEqual(
      prompts.map((a) => [a.arm, a.n, a.costSum, a.costN, a.durationSum]),
      [['a', 2, 100, 1, 30]],
    );
    assert.ok(Math.abs(prompts[0]!.rewardSum - (0.2 + 0.8)) < 1e-12);
    assert.ok(Math.abs(prompts[0]!.rewardSq - (0.04 + 0.64)) < 1e-12);
    // A model's tier counts its untiered runs too; no role sums over roles.
    assert.deepEqual(
      store.armStats('model', 'coder', 'large').map((a) => [a.arm, a.n]),
      [['m1', 2]],
    );
    assert.deepEqual(
      store.armStats('model', 'coder', 'small').map((a) => [a.arm, a.n]),
      [['m1', 1]],
    );
    assert.deepEqual(
      store.armStats('prompt', undefined).map((a) => [a.arm, a.n]),
      [
        ['a', 2],
        ['b', 1],
      ],
    );
    assert.deepEqual(
      store.runsPerRole(),
      new Map([
        ['coder', 2],
        ['fixer', 1],
      ]),
    );
  });

  it("sums only each arm's own last runs, within the tier and untiered", () => {
    for (const reward of [0.1, 0.2, 0.3, 0.4]) store.insertRun(run({ promptId: 'a', reward }));
    store.insertRun(run({ promptId: 'b', reward: 1 }));
    store.insertRun(run({ modelId: 'tiered', complexity: 'large', reward: 0.6 }));
    store.insertRun(run({ modelId: 'tiered', complexity: 'small', reward: 0.9 }));

    const window = store.windowArmStats('prompt', 'coder', undefined, 2, ['a', 'b', 'never-run']);

    assert.deepEqual(
      window.map((a) => [a.arm, a.n, Math.round(a.rewardSum * 10) / 10]),
      [
        ['a', 2, 0.7],
        ['b', 1, 1],
      ],
    );
    assert.deepEqual(store.latestRewards('prompt', 'coder', undefined, 'a', 3), [0.4, 0.3, 0.2]);
    assert.deepEqual(store.latestRewards('model', 'coder', 'large', 'tiered', 5), [0.6]);
  });

  it("averages a role's rewards over buckets of runs, the last bucket over the runs it has", () => {
    for (const reward of [0, 1, 0.5, 0.5, 0.2]) store.insertRun(run({ reward }));
    store.insertRun(run({ role: 'fixer', reward: 1 }));

    const series = store.rewardSeries('coder', 2);

    assert.deepEqual(
      series.map((p) => [p.run, p.reward]),
      [
        [2, 0.5],
        [4, 0.5],
        [5, 0.2],
      ],
    );
    assert.ok(series[1]!.at > series[0]!.at, 'each point carries the time of its last run');
  });

  it('gives the rewards after a run or up to one, oldest first, for one model or for all', () => {
    const rewards = [0.1, 0.2, 0.3, 0.4, 0.5];
    rewards.forEach((reward, i) => store.insertRun(run({ reward, modelId: i % 2 ? 'odd' : 'even' })));

    assert.deepEqual(store.rewards('coder', undefined, undefined, { afterPk: 1, limit: 2 }), [0.2, 0.3]);
    assert.deepEqual(store.rewards('coder', undefined, undefined, { atMostPk: 4, limit: 2 }), [0.3, 0.4]);
    assert.deepEqual(store.rewards('coder', 'even', undefined, { afterPk: 0, limit: 10 }), [0.1, 0.3, 0.5]);
    assert.deepEqual(store.rewards('fixer', undefined, undefined, { afterPk: 0, limit: 10 }), []);
  });

  it('offers export candidates best first, the newest first among equals, with their texts', () => {
    const low = run({ reward: 0.5 });
    const older = run({ reward: 0.9, complexity: 'large' });
    const newer = run({ reward: 0.9 });
    const best = run({ reward: 1, role: 'fixer' });
    for (const r of [low, older, newer, best]) store.insertRun(r);

    const candidates = [...store.exportCandidates('coder', 0.8)];

    assert.deepEqual(
      candidates.map((c) => [c.id, c.input, c.output]),
      [
        [newer.id, newer.input, newer.output],
        [older.id, older.input, older.output],
      ],
    );
    assert.deepEqual(
      [...store.exportCandidates('coder', 0.8, 'large')].map((c) => c.id),
      [older.id],
    );
    assert.equal(store.countHighQuality('coder', 0.8, 0), 2);
    assert.equal(store.countHighQuality('coder', 0.8, 2), 1, 'after the second run (pk 2)');
  });

  it('counts high-quality runs after a pk alike whether few runs follow it (read by pk) or many (by reward)', () => {
    const rewards: [string, number][] = [];
    store.transaction(() => {
      for (let i = 0; i < 5_600; i++) {
        const r = run({ reward: ((i * 37) % 100) / 100, role: i % 3 ? 'coder' : 'fixer' });
        store.insertRun(r);
        rewards.push([r.role, r.reward]);
      }
    });
    const expected = (role: string, afterPk: number) =>
      rewards.filter(([r, reward], i) => r === role && i + 1 > afterPk && reward >= 0.7).length;

    for (const afterPk of [0, 300, 5_000, 5_599, 5_600]) {
      assert.equal(
        store.countHighQuality('coder', 0.7, afterPk),
        expected('coder', afterPk),
        `after ${afterPk}`,
      );
      assert.equal(
        store.countHighQuality('fixer', 0.7, afterPk),
        expected('fixer', afterPk),
        `after ${afterPk}`,
      );
    }
  });

  it('counts high-quality runs a window of pks at a time as one query would, runs and verdicts meanwhile included', () => {
    const rewards = new Map<string, number>(); // coder's runs, by id, in pk order
    const insert = (reward: number, role = 'coder') => {
      const r = run({ reward, role });
      store.insertRun(r);
      if (role === 'coder') rewards.set(r.id, reward);
      return r.id;
    };
    for (let i = 0; i < 1_000; i++) insert(((i * 37) % 100) / 100, i % 4 ? 'coder' : 'fixer');
    const ids = [...rewards.keys()];
    const expected = () => [...rewards.values()].filter((reward) => reward >= 0.7).length;
    const verdict = (id: string, reward: number) => {
      store.setVerdict(id, reward >= 0.7 ? 'accept' : 'reject', 1, reward);
      rewards.set(id, reward);
    };

    store.countNewRoles(0.7); // as after an earlier seed: coder's next run is not a new role's first to the count
    assert.equal(store.countHighQualityStep('coder', 0.7, 0, 100), false, 'pks 1–100 of 1,000');
    assert.equal(store.countHighQualityStep('coder', 0.7, 0, 100), false, 'pks 101–200');
    verdict(
      ids.find((id) => rewards.get(id)! >= 0.7)!,
      0.1,
    ); // counted already (the first pks)
    verdict(ids.at(-1)!, 0.95); // not counted yet
    insert(0.9); // recorded between two windows, past them all
    assert.throws(() =>
      store.transaction(() => {
        verdict(ids[1]!, rewards.get(ids[1]!)! >= 0.7 ? 0.1 : 0.9);
        throw new Error('rolled back');
      }),
    );
    rewards.set(ids[1]!, store.getRun(ids[1]!)!.reward);

    let steps = 2;
    while (!store.countHighQualityStep('coder', 0.7, 0, 100)) steps++;

    assert.equal(steps, 10, '1,001 pks, 100 a step');
    assert.equal(store.countHighQuality('coder', 0.7, 0), expected());
    insert(0.99);
    assert.equal(store.countHighQuality('coder', 0.7, 0), expected(), 'kept from then on');
  });

  it('counts only the rest, at once, when asked before a count by windows is through', () => {
    const rewards: number[] = [];
    store.transaction(() => {
      for (let i = 0; i < 30_000; i++) {
        rewards.push(i % 10 === 0 ? 0.1 : 0.9);
        store.insertRun(run({ reward: rewards[i]!, id: `r${i + 1}` }));
      }
    });
    for (let step = 0; step < 6; step++)
      assert.equal(store.countHighQualityStep('coder', 0.7, 0, 4_000), false);
    store.setVerdict('r8', 'reject', 1, 0); // pk 8, reward 0.9 before: counted already
    rewards[7] = 0;
    const sinceTraining = rewards.slice(29_000).filter((r) => r >= 0.7).length;
    assert.equal(store.countHighQuality('coder', 0.7, 29_000), sinceTraining, 'another question meanwhile');

    assert.equal(store.countHighQuality('coder', 0.7, 0), rewards.filter((r) => r >= 0.7).length);
    assert.deepEqual(
      [...store.queryPlans('countHq').keys()].sort(),
      ['countHqRecent', 'countHqWindow'],
      'the last 6,000 pks read by pk (nine in ten met were high-quality), not the 27,000 such runs by reward',
    );
    assert.equal(store.countHighQualityStep('coder', 0.7, 0, 100), true, 'kept: nothing left to count');
  });

  it('offers no run whose text was cut to the bound as an export candidate', () => {
    const whole = run({ reward: 1 });
    const cutOutput = run({ reward: 1, output: boundText('o'.repeat(5000), 1024).text });
    const cutInput = run({ reward: 1, input: boundText('i'.repeat(5000), 1024).text });
    for (const r of [whole, cutOutput, cutInput]) store.insertRun(r);

    assert.deepEqual(
      [...store.exportCandidates('coder', 0.8)].map((c) => c.id),
      [whole.id],
    );
  });

  it('keeps the latest verdict for a run that has not arrived, hands it over once, and prunes old ones', () => {
    store.addPendingFeedback('r-later', 'accept', 20);
    store.addPendingFeedback('r-later', 'reject', 10); // an older verdict arriving late does not win
    store.addPendingFeedback('r-mistyped', 'accept', 1);

    store.prunePendingFeedback(5);

    assert.deepEqual(store.takePendingFeedback('r-later'), { verdict: 'accept', at: 20 });
    assert.equal(store.takePendingFeedback('r-later'), undefined);
    assert.equal(store.takePendingFeedback('r-mistyped'), undefined);
  });

  it("undoes a failed inner transaction and keeps the outer one's work", () => {
    const kept = run();
    const undone = run();

    store.transaction(() => {
      store.insertRun(kept);
      assert.throws(() =>
        store.transaction(() => {
          store.insertRun(undone);
          throw new Error('fails midway');
        }),
      );
    });

    assert.ok(store.getRun(kept.id));
    assert.equal(store.getRun(undone.id), undefined);
    assert.equal(store.armStats('prompt', 'coder')[0]?.n, 1);
  });

  it('keeps the texts of a transaction that failed nowhere: not read back, not in the image, not under a reused pk', () => {
    const undone = run({ input: 'undone input', output: 'undone output' });
    assert.throws(() =>
      store.transaction(() => {
        store.insertRun(undone);
        throw new Error('fails midway');
      }),
    );
    const next = run({ input: 'next input', output: 'next output' }); // takes the pk the undone run had

    store.insertRun(next);

    assert.equal(store.runTexts(undone.id), undefined);
    assert.deepEqual(store.runTexts(next.id), { input: 'next input', output: 'next output' });
    const image = Store.open(SQL, store.export());
    assert.ok(image instanceof Store);
    assert.deepEqual(image.runTexts(next.id), { input: 'next input', output: 'next output' });
    assert.equal(image.textsToMove(10).length, 1, 'one text in the image: the run’s');
    image.close();
  });

  it('gives back free pages only when they are a large part of the file: SQLite reuses a few, sql.js copies the file to shrink it', () => {
    for (let i = 0; i < 2_000; i++) store.insertRun(run({ taskSlug: `task ${i} `.repeat(20) }));
    assert.equal(store.freePagesWorthReleasing(), false, 'none free');
    const withFree = (rows: number) => {
      const raw = new SQL.Database(store.export());
      const big = 'x'.repeat(24_000);
      for (let pk = 1; pk <= rows; pk++)
        raw.run('INSERT INTO run_texts (pk, input, output) VALUES (?, ?, ?)', [1e6 + pk, big, big]);
      raw.run('DELETE FROM run_texts WHERE pk > 1e6');
      const image = raw.export();
      raw.close();
      const opened = Store.open(SQL, image);
      assert.ok(opened instanceof Store);
      return opened;
    };
    const few = withFree(1);
    const many = withFree(300);
    try {
      assert.equal(few.freePagesWorthReleasing(), false, 'a few pages wait to be reused');
      assert.equal(many.freePagesWorthReleasing(), true, 'most of the file is free');
    } finally {
      few.close();
      many.close();
    }
  });

  it('keeps a watched file watched: a few MiB of free pages, most of a small file, wait to be reused', () => {
    for (let i = 0; i < 2_000; i++) store.insertRun(run({ taskSlug: `task ${i} `.repeat(20) }));
    const big = 'x'.repeat(24_000);
    /** The store's image with `rows` texts of 48 KB freed in it, opened as the owner opens it (with room). */
    const withFree = (rows: number, room: boolean) => {
      const raw = new SQL.Database(store.export());
      for (let pk = 1; pk <= rows; pk++)
        raw.run('INSERT INTO run_texts (pk, input, output) VALUES (?, ?, ?)', [1e6 + pk, big, big]);
      raw.run('DELETE FROM run_texts WHERE pk > 1e6');
      const image = raw.export();
      raw.close();
      const loaded = room ? withRoom(image) : { image, room: 0 };
      const opened = Store.open(SQL, loaded.image, true, loaded.room);
      assert.ok(opened instanceof Store);
      opened.insertRun(run({ taskSlug: 'written once: SQLite writes through the view' }));
      return opened;
    };
    const some = [withFree(60, false), withFree(60, true)]; // ~2.9 MB free, more than a quarter of the file
    const many = withFree(300, true); // ~14 MB free
    try {
      assert.equal(some[1]!.imageIsWatched(), true);
      assert.equal(
        some[0]!.freePagesWorthReleasing(),
        true,
        'not watched: a quarter of the file is worth it',
      );
      assert.equal(some[1]!.freePagesWorthReleasing(), false, 'watched: a truncate would end the watch');
      assert.equal(some[1]!.imageIsWatched(), true);
      assert.equal(many.imageIsWatched(), true);
      assert.equal(many.freePagesWorthReleasing(), true, 'watched, but 8 MiB or more free');
    } finally {
      for (const s of [...some, many]) s.close();
    }
  });

  it('holds the texts of new runs out of its SQLite file: moved out, they leave no pages behind to give back', () => {
    const pragma = (image: Uint8Array, name: string) => {
      const db = new SQL.Database(image);
      try {
        return Number(db.exec(`PRAGMA ${name}`)[0]?.values[0]?.[0]);
      } finally {
        db.close();
      }
    };
    const runs = Array.from({ length: 200 }, (_, i) =>
      run({ input: `task ${i} `.repeat(400), output: `x${i}`.repeat(900) }),
    );
    for (const r of runs) store.insertRun(r);
    assert.equal(store.runTexts(runs[7]!.id)?.output, 'x7'.repeat(900), 'read back before they move');
    const moving = store.textsToMove(1000);
    assert.equal(moving.length, 200);

    store.textsMoved(new Map(moving.map((t) => [t.pk, { segment: 1, offset: t.pk * 100, length: 100 }])));

    const image = store.export();
    assert.equal(pragma(image, 'freelist_count'), 0, 'no free pages: the texts never were in the file');
    // 200 runs' 1.3 MB of text would take some 320 pages of 4 KiB; their numbers take a few.
    assert.ok(pragma(image, 'page_count') < 60, `${pragma(image, 'page_count')} pages`);
    assert.deepEqual(store.textsToMove(10), []);
  });

  it('gives every candidate of a page read before an image or a move took their texts out of memory', () => {
    const runs = Array.from({ length: 10 }, (_, i) =>
      run({ input: `task ${i}`, output: `code ${i}`, reward: 1 }),
    );
    for (const r of runs) store.insertRun(r);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-store-texts-'));
    const segments = new TextSegments(dir);
    try {
      const beforeImage = store.exportCandidates('coder', 0.5);
      assert.equal(beforeImage.next().done, false); // a slice of an export took one
      store.export(); // a save's image between two slices
      assert.equal([...beforeImage].length, 9, 'the other nine, with their texts');

      const beforeMove = store.exportCandidates('coder', 0.5);
      beforeMove.next();
      store.useTextSegments(segments);
      store.textsMoved(segments.appendSync(store.textsToMove(100))); // the owner's move between two slices
      const rest = [...beforeMove];
      assert.equal(rest.length, 9);
      assert.deepEqual(
        rest.map((c) => c.output).sort(),
        runs
          .slice(0, 9)
          .map((r) => r.output)
          .sort(),
      );
    } finally {
      segments.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('puts the texts not yet moved into the image it takes', () => {
    const runs = Array.from({ length: 20 }, (_, i) => run({ input: `in ${i}`, output: `out ${i}` }));
    for (const r of runs) store.insertRun(r);

    const image = Store.open(SQL, store.export());
    assert.ok(image instanceof Store);
    for (const r of runs) assert.deepEqual(image.runTexts(r.id), { input: r.input, output: r.output });
    assert.equal(image.textsToMove(100).length, 20, 'in its run_texts, for its owner to move');
    image.close();
    assert.equal(store.textsToMove(100).length, 20, 'and still to move here');
  });

  it('averages the runs before the latest ones only when there are enough of them', () => {
    for (const reward of [0.2, 0.4, 1, 1]) store.insertRun(run({ reward }));

    assert.ok(Math.abs(store.earlierAvgReward(2, 2)! - 0.3) < 1e-12);
    assert.equal(store.earlierAvgReward(2, 3), null);
  });
});

describe('Store: version 2 (run sources and observed signals)', () => {
  let SQL: SqlJsStatic;
  before(async () => (SQL = await loadSqlJs()));

  // experience-v1.db was written by the release before sources and signals (schema 1, commit 09487cf): two runs
  // (one accepted, with every signal; one of another role), a pending verdict, an event and inbox progress.
  const V1 = path.join(__dirname, '../../../fixtures/experience-v1.db');

  it('opens a database the previous release wrote with nothing lost, sources unknown, and saves it as the current version', () => {
    const opened = Store.open(SQL, fs.readFileSync(V1));
    assert.ok(opened instanceof Store, 'opened');
    const store = opened;
    try {
      assert.deepEqual(store.getRun('r-v1-a'), {
        id: 'r-v1-a',
        createdAt: 1_700_000_000_000,
        taskSlug: 'fix-bug',
        role: 'coder',
        modelId: 'qwen2.5-coder:7b',
        promptId: 'default',
        complexity: 'medium',
        compile: true,
        testsPassed: 3,
        testsTotal: 4,
        lintErrors: 1,
        typeErrors: null,
        schemaErrors: null,
        boundaryErrors: null,
        human: 'accept',
        humanAt: 1_700_000_000_500,
        reward: 0.8,
        costTokens: 1200,
        durationMs: 5400,
        iterations: 2,
        source: null,
      });
      assert.deepEqual(store.runTexts('r-v1-a'), { input: 'first input ✓', output: 'first output' });
      assert.equal(store.getRun('r-v1-b')?.typeErrors, 2);
      assert.deepEqual(
        store.armStats('prompt', undefined).map((a) => [a.arm, a.n, a.rewardSum]),
        [
          ['concise', 1, 0.33],
          ['default', 1, 0.8],
        ],
      );
      assert.equal(store.events(10)[0]?.message, 'Exported 1 example');
      assert.equal(store.inboxProgress().get('0001-host-1-abcdef01.jsonl')?.offset, 120);
      assert.deepEqual(store.signalsOf('r-v1-a'), []);
      assert.equal(store.integrityCheck(), 'ok');

      const image = store.export();
      const check = new SQL.Database(image);
      assert.equal(check.exec('PRAGMA user_version')[0]?.values[0]?.[0], SCHEMA_VERSION);
      check.close();
    } finally {
      store.close();
    }
    // The verdict that waited for its run still waits after the upgrade.
    const again = Store.open(SQL, fs.readFileSync(V1)) as Store;
    assert.deepEqual(again.takePendingFeedback('r-v1-later'), { verdict: 'reject', at: 1_700_000_002_000 });
    again.close();
  });

  it('keeps a run source, the latest signal of each kind and source, and moves the arm sums with a new reward', () => {
    const store = Store.open(SQL, undefined) as Store;
    try {
      store.insertRun(run({ id: 'g', source: 'gateway', reward: 0.2 }));
      assert.equal(store.getRun('g')?.source, 'gateway');
      const diag = { kind: 'errors.type' as const, source: 'editor:diagnostics' };
      assert.equal(store.upsertSignal('g', { ...diag, value: 3, at: 20 }), true);
      assert.equal(
        store.upsertSignal('g', { ...diag, value: 9, at: 10 }),
        false,
        'an older one changes nothing',
      );
      store.upsertSignal('g', { ...diag, value: 3, at: 20 }); // a replay of the same
      store.upsertSignal('early', { ...diag, value: 1, at: 5 });
      assert.deepEqual(store.signalsOf('g'), [{ ...diag, value: 3, at: 20 }]);
      assert.equal(store.signalsOf('early').length, 1, 'a signal waits for its run');

      store.setReward('g', 0.7);
      assert.equal(store.armStats('prompt', 'coder')[0]?.rewardSum, 0.7);
      assert.throws(() => store.setReward('g', Number.NaN), LearningError);

      store.pruneOrphanSignals(6);
      assert.deepEqual(store.signalsOf('early'), [], 'one whose run never came is dropped once old');
      assert.equal(store.signalsOf('g').length, 1, "a stored run's signals stay");
    } finally {
      store.close();
    }
  });
});
