import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileSwap, replaceDir } from '../../../../src/core/automation/fileSwap';

describe('FileSwap', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  const read = (name: string) => fs.readFileSync(file(name), 'utf8');

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fileswap-'));
    fs.writeFileSync(file('Modelfile'), 'old modelfile');
    fs.writeFileSync(file('adapter.gguf'), 'old adapter');
    fs.writeFileSync(file('staged.gguf'), 'new adapter');
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('rolls back every move and write, putting what they replaced back', () => {
    const txn = new FileSwap();
    txn.move(file('staged.gguf'), file('adapter.gguf'));
    txn.write(file('Modelfile'), 'new modelfile');
    txn.write(file('fresh.txt'), 'did not exist');
    txn.rollback();
    assert.equal(read('adapter.gguf'), 'old adapter');
    assert.equal(read('staged.gguf'), 'new adapter');
    assert.equal(read('Modelfile'), 'old modelfile');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['Modelfile', 'adapter.gguf', 'staged.gguf']);
  });

  it('commits by removing only what it set aside', () => {
    const txn = new FileSwap();
    txn.move(file('staged.gguf'), file('adapter.gguf'));
    txn.write(file('Modelfile'), 'new modelfile');
    txn.commit();
    assert.equal(read('adapter.gguf'), 'new adapter');
    assert.equal(read('Modelfile'), 'new modelfile');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['Modelfile', 'adapter.gguf']);
  });
});

describe('FileSwap and links', () => {
  let dir: string;
  let outside: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fileswap-links-'));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fileswap-outside-'));
    fs.writeFileSync(path.join(outside, 'victim'), 'precious');
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  for (const [what, target] of [
    ['a link to a file outside', 'victim'],
    ['a dangling link out of the folder', 'created'],
  ] as const) {
    it(`writes a regular file in place of ${what}, and puts the link back on rollback`, () => {
      const modelfile = path.join(dir, 'Modelfile.coder');
      fs.symlinkSync(path.join(outside, target), modelfile);

      const txn = new FileSwap();
      txn.write(modelfile, 'FROM base');
      assert.ok(fs.lstatSync(modelfile).isFile());
      assert.equal(fs.readFileSync(modelfile, 'utf8'), 'FROM base');
      txn.rollback();

      assert.equal(fs.readlinkSync(modelfile), path.join(outside, target));
      assert.deepEqual(fs.readdirSync(outside), ['victim'], 'nothing created outside');
      assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'precious');

      const again = new FileSwap();
      again.write(modelfile, 'FROM base');
      again.commit();
      assert.ok(fs.lstatSync(modelfile).isFile());
      assert.deepEqual(fs.readdirSync(dir), ['Modelfile.coder']);
      assert.deepEqual(fs.readdirSync(outside), ['victim']);
    });
  }

  it('replaces a dangling link where the trained folder goes', () => {
    fs.mkdirSync(path.join(dir, 'training'));
    fs.symlinkSync(path.join(outside, 'gone'), path.join(dir, 'trained'));

    replaceDir(path.join(dir, 'training'), path.join(dir, 'trained'));

    assert.ok(fs.lstatSync(path.join(dir, 'trained')).isDirectory());
    assert.deepEqual(fs.readdirSync(dir), ['trained']);
  });
});

describe('replaceDir', () => {
  it('puts the new folder in place of the old one and leaves nothing beside it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replacedir-'));
    try {
      for (const [name, text] of Object.entries({ training: 'new', trained: 'old' })) {
        fs.mkdirSync(path.join(dir, name));
        fs.writeFileSync(path.join(dir, name, 'eval.json'), text);
      }
      replaceDir(path.join(dir, 'training'), path.join(dir, 'trained'));
      assert.equal(fs.readFileSync(path.join(dir, 'trained', 'eval.json'), 'utf8'), 'new');
      assert.deepEqual(fs.readdirSync(dir), ['trained']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
