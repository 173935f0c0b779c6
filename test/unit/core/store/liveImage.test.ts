import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Database, SqlJsStatic } from 'sql.js';
import {
  headerSizeIsValid,
  readImageWithRoomSync,
  type ImageWithRoom,
} from '../../../../src/core/store/imageRoom';
import { LiveImage, type ImageToSave } from '../../../../src/core/store/liveImage';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { Store } from '../../../../src/core/store/store';
import { runRecord } from '../../../support/runRecord';

// Real sql.js 1.16 throughout: these tests are what tells a sql.js whose file system no longer keeps the buffer it
// was given (or writes it other than through set()) from one that does, before a user's save would.
describe('LiveImage (a save takes sql.js file in slices, copying on write)', () => {
  let SQL: SqlJsStatic;
  let dir: string;
  before(async () => (SQL = await loadSqlJs()));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-live-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const ROOM = 2 * 1024 * 1024;

  /** A database image of `rows` rows of 1 KiB each (8 KiB pages, as the store's), ~1.2 MiB per 1,000 rows. */
  function image(rows: number): Uint8Array {
    const db = new SQL.Database();
    try {
      db.run('PRAGMA page_size = 8192');
      db.run('PRAGMA journal_mode = MEMORY');
      db.run('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL, n INTEGER NOT NULL)');
      db.run('CREATE INDEX t_n ON t (n)');
      db.run('BEGIN');
      const insert = db.prepare('INSERT INTO t VALUES (?, randomblob(1024), ?)');
      for (let i = 0; i < rows; i++) insert.run([i, (i * 7919) % rows]);
      insert.free();
      db.run('COMMIT');
      return db.export();
    } finally {
      db.close();
    }
  }

  function open(bytes: Uint8Array, room = ROOM): { db: Database; live: LiveImage } {
    const copy = Buffer.alloc(bytes.length + room);
    copy.set(bytes);
    const loaded = LiveImage.load(copy.subarray(0, bytes.length), room);
    const db = new SQL.Database(loaded.bytes);
    db.run('PRAGMA journal_mode = MEMORY');
    return { db, live: loaded.live };
  }

  const scalar = (db: Database, sql: string) => Number(db.exec(sql)[0]!.values[0]![0]);
  const size = (db: Database) => scalar(db, 'PRAGMA page_count') * scalar(db, 'PRAGMA page_size');
  const watching = (db: Database, live: LiveImage) =>
    live.watching(size(db), scalar(db, 'PRAGMA page_count'));

  /** The bytes of an image with the header's change counter, version-valid-for and SQLite version zeroed. */
  function normalised(bytes: Uint8Array): Buffer {
    const b = Buffer.from(bytes);
    b.fill(0, 24, 28);
    b.fill(0, 92, 100);
    return b;
  }

  /** `store` saved to experience.db and closed, then opened from that file with room to grow, as its owner does. */
  function savedAndReopened(store: Store): { file: string; read: ImageWithRoom; reopened: Store } {
    const file = path.join(dir, 'experience.db');
    fs.writeFileSync(file, store.export());
    store.close();
    const read = readImageWithRoomSync(file);
    const reopened = Store.open(SQL, read.image, false, read.room);
    assert.ok(reopened instanceof Store);
    return { file, read, reopened };
  }

  /** What any SQLite reader finds in `image`: nothing damaged, and `runs` runs. */
  function assertSound(image: Uint8Array, runs: number): void {
    const check = new SQL.Database(image);
    try {
      assert.equal(check.exec('PRAGMA integrity_check')[0]!.values[0]![0], 'ok');
      assert.equal(scalar(check, 'SELECT COUNT(*) FROM runs'), runs);
    } finally {
      check.close();
    }
  }

  async function take(image: ImageToSave, between: () => void = () => undefined): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const slice of image.slices()) {
      parts.push(Buffer.from(slice)); // copied: the same buffer comes back with the next slice
      between();
    }
    return Buffer.concat(parts);
  }

  it('takes the image as it was when the save began, while rows everywhere in it change between its slices', async () => {
    const { db, live } = open(image(9_000)); // ~11 MiB: eleven slices
    try {
      db.run('UPDATE t SET n = n + 1 WHERE id = 0'); // the first write shows the view is sql.js's file
      const before = size(db);
      assert.equal(watching(db, live), true, 'a loaded file with room is watched once written');
      const expected = normalised(db.export());
      const rowsBefore = scalar(db, 'SELECT COUNT(*) FROM t');
      const snapshot = live.snapshot(before);
      let round = 0;
      const taken = await take(snapshot, () => {
        round++;
        // Spread over the file: pages already taken, the slice just taken, and pages not taken yet.
        db.run('UPDATE t SET body = randomblob(1024), n = n + 1 WHERE id % 97 = ?', [round]);
        db.run('DELETE FROM t WHERE id % 1000 = ?', [round]);
        db.run('BEGIN');
        for (let i = 0; i < 80; i++) db.run('INSERT INTO t VALUES (NULL, randomblob(1024), ?)', [i]);
        db.run('COMMIT');
      });
      assert.ok(round >= 3, `${round} slices`);
      assert.ok(size(db) > before, 'the database grew into the room meanwhile');
      assert.equal(taken.length, before);
      assert.ok(normalised(taken).equals(expected), 'the snapshot is byte for byte the image at its start');
      assert.deepEqual(snapshot.sum(), { size: before, crc32: zlib.crc32(taken) });

      const reopened = new SQL.Database(taken);
      try {
        assert.equal(reopened.exec('PRAGMA integrity_check')[0]!.values[0]![0], 'ok');
        assert.equal(scalar(reopened, 'SELECT COUNT(*) FROM t'), rowsBefore);
      } finally {
        reopened.close();
      }
      // And what was written meanwhile is in the next one.
      const next = await take(live.snapshot(size(db)));
      assert.ok(normalised(next).equals(normalised(db.export())), 'the next snapshot has every change');
    } finally {
      db.close();
    }
  });

  it('gives a synchronous save the file itself, with no copy', () => {
    const bytes = image(1_000);
    const copy = Buffer.alloc(bytes.length + ROOM);
    copy.set(bytes);
    const loaded = LiveImage.load(copy.subarray(0, bytes.length), ROOM);
    const db = new SQL.Database(loaded.bytes);
    try {
      db.run('INSERT INTO t VALUES (NULL, randomblob(1024), 1)');
      const whole = loaded.live.snapshot(size(db)).whole();
      assert.equal(whole.buffer, copy.buffer, 'the bytes are the buffer sql.js was given');
      assert.ok(normalised(whole).equals(normalised(db.export())));
    } finally {
      db.close();
    }
  });

  it('stops watching once sql.js copies the file out: grown past its room, cut back after a rollback, vacuumed', () => {
    const grown = open(image(1_000));
    try {
      grown.db.run('BEGIN');
      for (let i = 0; i < 2_500; i++) grown.db.run('INSERT INTO t VALUES (NULL, randomblob(1024), 1)');
      grown.db.run('COMMIT');
      assert.equal(watching(grown.db, grown.live), false, 'grown past the room: MEMFS holds a new array');
    } finally {
      grown.db.close();
    }

    // A transaction bigger than SQLite's cache spills pages past the end of the room, then rolls back: SQLite cuts
    // the file back to its size before (MEMFS copies it again), and the database is no bigger than the view.
    const rolledBack = open(image(1_000));
    try {
      rolledBack.db.run('UPDATE t SET n = 0 WHERE id = 1');
      rolledBack.db.run('BEGIN');
      for (let i = 0; i < 6_000; i++) rolledBack.db.run('INSERT INTO t VALUES (NULL, randomblob(1024), 1)');
      rolledBack.db.run('ROLLBACK');
      rolledBack.db.run('INSERT INTO t VALUES (NULL, randomblob(10), 2)');
      assert.equal(watching(rolledBack.db, rolledBack.live), false, 'the view is not the file any more');
    } finally {
      rolledBack.db.close();
    }
  });

  it('goes on with a snapshot under way through a vacuum, which leaves the view behind: the image is still exact', async () => {
    const { db, live } = open(image(9_000));
    try {
      db.run('DELETE FROM t WHERE id % 2 = 0');
      const expected = normalised(db.export());
      const snapshot = live.snapshot(size(db));
      let vacuumed = false;
      const taken = await take(snapshot, () => {
        if (vacuumed) {
          db.run('INSERT INTO t VALUES (NULL, randomblob(1024), 3)');
          return;
        }
        live.detach(); // as Store.vacuum does
        db.run('VACUUM');
        vacuumed = true;
      });
      assert.ok(normalised(taken).equals(expected), 'the image as it was when the snapshot began');
      assert.equal(watching(db, live), false);
    } finally {
      db.close();
    }
  });

  it('watches nothing it was not given, and nothing until a write shows the file is the view', () => {
    const bytes = image(100);
    assert.equal(LiveImage.load(bytes, 0).bytes, bytes, 'no room: the bytes as they are');
    const { db, live } = open(image(1_000));
    try {
      assert.equal(watching(db, live), false, 'not written yet');
      db.run('INSERT INTO t VALUES (NULL, randomblob(10), 1)');
      assert.equal(watching(db, live), true);
    } finally {
      db.close();
    }
  });

  it('keeps the header of the file it holds locked true after each transaction: its size is the in-header size', () => {
    const store = Store.open(SQL, undefined) as Store;
    store.insertRun(runRecord({ taskSlug: 'first' }));
    const { file, reopened } = savedAndReopened(store);
    try {
      let pages = 0;
      for (let i = 0; i < 300; i++) {
        // One transaction each, the file growing by pages as it goes.
        reopened.insertRun(runRecord({ taskSlug: `task ${i} `.padEnd(3_000, 'x') }));
        // Watched: the image is the file as SQLite keeps it, not an export (which writes a header of its own).
        assert.ok(reopened.imageIsWatched(), `after run ${i}`);
        const image = reopened.imageToSave().whole();
        assert.ok(headerSizeIsValid(image), `after run ${i}: the header gives ${image.length} bytes`);
        pages = image.length / 8192;
      }
      assert.ok(pages > 50, `${pages} pages`);
      // What any SQLite tool reads from the saved file: every run, nothing damaged.
      fs.writeFileSync(file, reopened.imageToSave().whole());
      assertSound(fs.readFileSync(file), 301);
    } finally {
      reopened.close();
    }
  });

  it('saves through the store: a watched file in slices, the same image an export gives, after a vacuum too', async () => {
    const store = Store.open(SQL, undefined) as Store;
    assert.equal(store.imageIsWatched(), false, 'a file sql.js made itself');
    for (let i = 0; i < 4_000; i++) store.insertRun(runRecord({ taskSlug: `task ${i} `.padEnd(2_500, 'x') }));
    const { read, reopened } = savedAndReopened(store);
    try {
      reopened.insertRun(runRecord({ taskSlug: 'one more' }));
      assert.equal(reopened.imageIsWatched(), true);
      const whole = reopened.imageToSave();
      assert.equal(whole.whole().buffer, read.image.buffer, 'taken from the file sql.js holds');
      const sliced = reopened.imageToSave();
      assert.ok(sliced.size > 8 * 2 ** 20, `${sliced.size} bytes: three slices`);
      let between = 0;
      const taken = await take(sliced, () => {
        between++;
        reopened.insertRun(runRecord({ taskSlug: 'meanwhile' }));
      });
      assert.ok(between >= 3, `${between} slices`);
      assertSound(taken, 4_001);
      reopened.rebuild(); // a VACUUM: the file is no longer the view
      assert.equal(reopened.imageIsWatched(), false);
      const after = reopened.imageToSave();
      assert.notEqual(after.whole().buffer, read.image.buffer, 'exported');
      assert.ok(normalised(after.whole()).equals(normalised(reopened.export())));
    } finally {
      reopened.close();
    }
  });
});
