import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  removeStaleTempFiles,
  syncDirectory,
  TEMP_MARKER,
  writeFileAtomic,
  writeFileAtomicSync,
} from '../../../../src/core/workspace/atomicFile';

describe('atomicFile', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-atomic-'));
    file = path.join(dir, 'experience.db');
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('writeFileAtomic', () => {
    it('keeps the old content in place until the new content is complete, then swaps it in whole', async () => {
      fs.writeFileSync(file, 'old');
      let beforeRename: { target: string; temp: string[] } | undefined;

      await writeFileAtomic(file, new Uint8Array([110, 101, 119]), () => {
        const temp = fs.readdirSync(dir).filter((n) => n.startsWith(`experience.db${TEMP_MARKER}`));
        beforeRename = {
          target: fs.readFileSync(file, 'utf8'),
          temp: temp.map((n) => fs.readFileSync(path.join(dir, n), 'utf8')),
        };
      });

      assert.deepEqual(beforeRename, { target: 'old', temp: ['new'] });
      assert.equal(fs.readFileSync(file, 'utf8'), 'new');
      assert.deepEqual(fs.readdirSync(dir), ['experience.db']);
    });

    it('removes its temp file and leaves the target as it was when the rename fails', async () => {
      fs.mkdirSync(file);
      fs.writeFileSync(path.join(file, 'inside'), 'x'); // a non-empty folder cannot be renamed over

      await assert.rejects(writeFileAtomic(file, 'new'));

      assert.deepEqual(fs.readdirSync(dir), ['experience.db']);
      assert.deepEqual(fs.readdirSync(file), ['inside']);
    });

    it('removes its temp file when the step before the rename fails', async () => {
      fs.writeFileSync(file, 'old');

      await assert.rejects(
        writeFileAtomic(file, 'new', () => {
          throw new Error('stopped before the rename');
        }),
        /stopped before the rename/,
      );

      assert.deepEqual(fs.readdirSync(dir), ['experience.db']);
      assert.equal(fs.readFileSync(file, 'utf8'), 'old');
    });

    it('fails without creating anything when the folder does not exist', async () => {
      await assert.rejects(writeFileAtomic(path.join(dir, 'missing', 'f.json'), '{}'), { code: 'ENOENT' });
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  });

  describe('writeFileAtomicSync', () => {
    it('replaces the content and leaves no temp file', () => {
      fs.writeFileSync(file, 'a much longer old content');

      writeFileAtomicSync(file, 'new');

      assert.equal(fs.readFileSync(file, 'utf8'), 'new');
      assert.deepEqual(fs.readdirSync(dir), ['experience.db']);
    });

    it('removes its temp file and leaves the target as it was when the rename fails', () => {
      fs.mkdirSync(file);
      fs.writeFileSync(path.join(file, 'inside'), 'x');

      assert.throws(() => writeFileAtomicSync(file, 'new'));

      assert.deepEqual(fs.readdirSync(dir), ['experience.db']);
      assert.deepEqual(fs.readdirSync(file), ['inside']);
    });
  });

  it('replaces a link at the target with a regular file, leaving what it pointed at untouched', () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'al-atomic-outside-'));
    try {
      fs.writeFileSync(path.join(outside, 'victim'), 'precious');
      fs.symlinkSync(path.join(outside, 'victim'), file);

      writeFileAtomicSync(file, 'new');

      assert.ok(fs.lstatSync(file).isFile());
      assert.equal(fs.readFileSync(file, 'utf8'), 'new');
      assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'precious');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  describe('removeStaleTempFiles', () => {
    /** The pid of a process that has exited. */
    function deadPid(): number {
      const child = spawnSync(process.execPath, ['-e', '']);
      return child.pid!;
    }

    /** A file last written an hour before this process started. */
    function writeOld(name: string): void {
      const file = path.join(dir, name);
      fs.writeFileSync(file, 'x');
      const then = (Date.now() - process.uptime() * 1000 - 3_600_000) / 1000;
      fs.utimesSync(file, then, then);
    }

    it('keeps a fresh temp file whose pid looks dead: its writer may live in another PID namespace', () => {
      const dead = deadPid();
      const fresh = `prompt_variants.json${TEMP_MARKER}${dead}-0123abcd`; // e.g. an agent in a container, writing now
      const old = `prompt_variants.json${TEMP_MARKER}${dead}-89abcdef`;
      fs.writeFileSync(path.join(dir, fresh), 'half-written');
      writeOld(old);

      const removed = removeStaleTempFiles(dir, (pid) => pid !== dead);

      assert.deepEqual(removed, [old]);
      assert.equal(fs.readFileSync(path.join(dir, fresh), 'utf8'), 'half-written');
    });

    it('keeps a fresh temp file written after this process started, however long ago that was', () => {
      const dead = deadPid();
      const name = `prompt_variants.json${TEMP_MARKER}${dead}-0123abcd`;
      const file = path.join(dir, name);
      fs.writeFileSync(file, 'x');
      const tenMinutesAgo = (Date.now() - 600_000) / 1000;
      fs.utimesSync(file, tenMinutesAgo, tenMinutesAgo);

      assert.deepEqual(
        removeStaleTempFiles(dir, () => false, { writtenBefore: Date.now() - 3_600_000 }),
        [],
      );
      assert.deepEqual(
        removeStaleTempFiles(dir, () => false, { writtenBefore: Date.now() }),
        [name],
      );
    });

    it("leaves the database's temp files to the database's owner, however old", () => {
      const dead = deadPid();
      const db = `experience.db${TEMP_MARKER}${dead}-0123abcd`;
      const other = `prompt_variants.json${TEMP_MARKER}${dead}-0123abcd`;
      writeOld(db);
      writeOld(other);

      assert.deepEqual(
        removeStaleTempFiles(dir, () => false, { leave: ['experience.db'] }),
        [other],
      );
      assert.ok(fs.existsSync(path.join(dir, db)));
    });

    it("removes a dead writer's temp files and keeps live writers' and every other file", () => {
      const dead = deadPid();
      const stale = [
        `prompt_variants.json${TEMP_MARKER}${dead}-0123abcd`,
        `last-train-coder.txt${TEMP_MARKER}${dead}-ffffffff`,
      ];
      const kept = [
        `model_variants.json${TEMP_MARKER}${process.pid}-0123abcd`, // this process: may be writing right now
        `model_variants.json${TEMP_MARKER}${process.ppid}-0123abcd`,
        'prompt_variants.json',
        'notes.tmp-mine',
        `experience.db${TEMP_MARKER}${dead}-0123abcd.keep`,
      ];
      for (const name of [...stale, ...kept]) writeOld(name);
      fs.mkdirSync(path.join(dir, `sft${TEMP_MARKER}${dead}-00000000`));

      const removed = removeStaleTempFiles(dir, (pid) => pid !== dead);

      assert.deepEqual(removed.sort(), [...stale].sort());
      assert.deepEqual(fs.readdirSync(dir).sort(), [...kept, `sft${TEMP_MARKER}${dead}-00000000`].sort());
    });

    it('has nothing to remove in a folder that does not exist', () => {
      assert.deepEqual(
        removeStaleTempFiles(path.join(dir, 'missing'), () => false),
        [],
      );
    });
  });

  it('syncs a folder as best it can, never failing the write that asked', () => {
    assert.doesNotThrow(() => syncDirectory(dir));
    assert.doesNotThrow(() => syncDirectory(path.join(dir, 'missing')));
  });
});
