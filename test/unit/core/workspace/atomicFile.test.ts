import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
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

  it('syncs a folder as best it can, never failing the write that asked', () => {
    assert.doesNotThrow(() => syncDirectory(dir));
    assert.doesNotThrow(() => syncDirectory(path.join(dir, 'missing')));
  });
});
