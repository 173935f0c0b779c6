import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  imageSum,
  imageSumSliced,
  matchesSum,
  readImageSum,
  writeImageSum,
} from '../../../../src/core/store/imageSum';

describe('imageSum (experience.db.sum)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-sum-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes the same CRC in slices as in one piece, across slice boundaries', async () => {
    for (const size of [0, 1, 8 * 2 ** 20, 8 * 2 ** 20 + 3, 17 * 2 ** 20]) {
      const image = new Uint8Array(size);
      for (let i = 0; i < size; i += 4093) image[i] = (i * 31) & 0xff;
      assert.deepEqual(await imageSumSliced(image), imageSum(image), `size ${size}`);
    }
  });

  it('reads none of the image in the turn it is called in: a save has just spent that turn taking the image', async () => {
    const image = new Uint8Array(3 * 2 ** 20).fill(7);
    let read = false;
    const watched = Object.assign(image, {
      subarray(this: Uint8Array, start?: number, end?: number) {
        read = true;
        return Uint8Array.prototype.subarray.call(this, start, end);
      },
    });
    const summing = imageSumSliced(watched);
    assert.equal(read, false);
    assert.deepEqual(await summing, imageSum(new Uint8Array(3 * 2 ** 20).fill(7)));
    assert.equal(read, true);
  });

  it('matches only the same bytes: one byte changed, or one more, is not the saved image', () => {
    const image = Buffer.from('SQLite format 3\0'.repeat(64));
    const sum = imageSum(image);
    assert.equal(matchesSum(image, sum), true);
    const changed = Buffer.from(image);
    changed[100] = changed[100]! ^ 1;
    assert.equal(matchesSum(changed, sum), false);
    assert.equal(matchesSum(Buffer.concat([image, Buffer.from([0])]), sum), false);
    assert.equal(matchesSum(image, undefined), false);
  });

  it('reads back what it wrote, and nothing from a file that is not a sum', () => {
    const file = path.join(dir, 'experience.db.sum');
    const sum = { size: 4096, crc32: 123456 };
    writeImageSum(file, sum);
    assert.deepEqual(readImageSum(file), sum);
    for (const text of [
      '',
      'not json',
      '[]',
      'null',
      '{"size":1}',
      '{"size":"1","crc32":2}',
      '{"size":1.5,"crc32":2}',
    ]) {
      fs.writeFileSync(file, text);
      assert.equal(readImageSum(file), undefined, text);
    }
    fs.writeFileSync(file, JSON.stringify({ size: 1, crc32: 2, pad: 'x'.repeat(300) }));
    assert.equal(readImageSum(file), undefined, 'too long to be ours');
    assert.equal(readImageSum(path.join(dir, 'missing')), undefined);
  });

  it('writes nothing when a directory holds the name, and does not throw', () => {
    const file = path.join(dir, 'experience.db.sum');
    fs.mkdirSync(file);
    writeImageSum(file, { size: 1, crc32: 2 });
    assert.equal(fs.statSync(file).isDirectory(), true);
    assert.equal(readImageSum(file), undefined);
  });
});
