import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SqlJsStatic } from 'sql.js';
import {
  headerSizeIsValid,
  readImageWithRoom,
  readImageWithRoomSync,
  roomFor,
} from '../../../../src/core/store/imageRoom';
import { LiveImage } from '../../../../src/core/store/liveImage';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { Store } from '../../../../src/core/store/store';
import { runRecord } from '../../../support/runRecord';

describe('imageRoom (experience.db loaded with room to grow)', () => {
  let SQL: SqlJsStatic;
  let dir: string;
  before(async () => (SQL = await loadSqlJs()));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-room-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A saved database of `runs` runs with long task names (they stay in the database), as a file. */
  function savedDatabase(runs: number): string {
    const store = Store.open(SQL, undefined) as Store;
    for (let i = 0; i < runs; i++) store.insertRun(runRecord({ taskSlug: `task ${i} `.repeat(40) }));
    const file = path.join(dir, 'experience.db');
    fs.writeFileSync(file, store.export());
    store.close();
    return file;
  }

  it('reads the file exactly, with zeroed room after it for the database to grow by a quarter (64 MiB at least)', async () => {
    const file = savedDatabase(3_000);
    const bytes = fs.readFileSync(file);
    assert.ok(bytes.length > 1024 * 1024, `${bytes.length} bytes`);
    for (const read of [readImageWithRoomSync(file), await readImageWithRoom(file)]) {
      assert.deepEqual(Buffer.from(read.image), bytes);
      assert.equal(read.room, roomFor(bytes.length));
      assert.ok(read.room > 0);
      const whole = LiveImage.load(read.image, read.room).bytes;
      assert.equal(whole.length, bytes.length + read.room);
      const room = whole.subarray(bytes.length);
      assert.equal(Buffer.compare(room, Buffer.alloc(room.length)), 0, 'the room is zeroed');
    }
    const reader = readImageWithRoomSync(file, { room: false });
    assert.equal(reader.room, 0, 'none for a reader, which never writes the database');
    assert.deepEqual(Buffer.from(reader.image), bytes);
    assert.equal(roomFor(64 * 1024), 64 * 1024 * 1024);
    assert.equal(roomFor(300 * 1024 * 1024), 75 * 1024 * 1024, 'a big one may grow by a quarter');
    const MiB = 1024 * 1024;
    assert.equal(roomFor(MiB, 200 * MiB), 200 * MiB, 'room for the inbox about to be imported');
    assert.equal(roomFor(MiB, 5000 * MiB), 1024 * MiB, 'up to 1 GiB of it');
    assert.equal(roomFor(MiB, 0, 1000), MiB / 4, 'the least room, smaller in tests');
  });

  it('grows into the room: every row kept, the check passes, and an export holds only the database', () => {
    const file = savedDatabase(3_000);
    const read = readImageWithRoomSync(file);
    const store = Store.open(SQL, read.image, false, read.room);
    assert.ok(store instanceof Store);
    const added = Array.from({ length: 2_000 }, (_, i) => runRecord({ taskSlug: `more ${i} `.repeat(40) }));
    for (const r of added) store.insertRun(r);
    const image = store.export();
    store.close();

    const db = new SQL.Database(image);
    try {
      const scalar = (sql: string) => db.exec(sql)[0]?.values[0]?.[0];
      assert.equal(scalar('PRAGMA integrity_check'), 'ok');
      assert.equal(scalar('SELECT COUNT(*) FROM runs'), 5_000);
      assert.equal(image.length, Number(scalar('PRAGMA page_count')) * Number(scalar('PRAGMA page_size')));
      assert.equal(
        scalar(`SELECT task_slug FROM runs WHERE id = '${added.at(-1)!.id}'`),
        added.at(-1)!.taskSlug,
      );
    } finally {
      db.close();
    }
    assert.ok(headerSizeIsValid(image));
  });

  it('gives no room when the header does not give the size SQLite would go by', () => {
    const image = fs.readFileSync(savedDatabase(3_000));
    assert.equal(headerSizeIsValid(image), true);
    // Written by a SQLite before 3.7.0: the version-valid-for number no longer matches the change counter, and
    // SQLite takes the file's length as the database's, room included.
    const legacy = Buffer.from(image);
    legacy.writeUInt32BE(legacy.readUInt32BE(24) + 1, 24);
    assert.equal(headerSizeIsValid(legacy), false);
    const file = path.join(dir, 'legacy.db');
    fs.writeFileSync(file, legacy);
    assert.equal(readImageWithRoomSync(file).room, 0);
    // A truncated file: its header names more pages than it has.
    assert.equal(headerSizeIsValid(image.subarray(0, image.length - 4096)), false);
    assert.equal(headerSizeIsValid(image.subarray(0, 50)), false);
  });
});
