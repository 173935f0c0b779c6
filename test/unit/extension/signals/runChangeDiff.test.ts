import assert from 'node:assert/strict';
import { checkRunChange, MAX_CHANGED_FILES, MAX_PATCH_BYTES } from '../../../../src/core/learning/runChange';
import { isCut } from '../../../../src/core/store/storedText';
import { MAX_DIFF_TEXT_CHARS, runChangeOf } from '../../../../src/extension/signals/runChangeDiff';

describe("a run's change (the diff the run view shows)", async () => {
  it('diffs each changed file as git does, counts its lines, says what the editor knew before, seen ones first', async () => {
    const change = (await runChangeOf(
      [
        { path: 'src/b.ts', before: 'a\nb\nc\n', created: false, after: 'a\nB\nc\nd\n' },
        { path: 'src/new.ts', before: undefined, created: true, after: 'x\n' },
        { path: 'src/gone.ts', before: 'y\n', created: false, after: undefined },
        { path: 'src/disk.ts', before: undefined, created: false, after: 'z\n' },
        { path: 'src/same.ts', before: 'same\n', created: false, after: 'same\n' },
      ],
      42,
    ))!;
    assert.equal(change.at, 42);
    assert.deepEqual(change.files, [
      { path: 'src/b.ts', added: 2, removed: 1, before: 'seen' },
      { path: 'src/gone.ts', added: 0, removed: 1, before: 'seen' },
      { path: 'src/new.ts', added: 1, removed: 0, before: 'new' },
      { path: 'src/disk.ts', added: 1, removed: 0, before: 'unseen' },
    ]);
    assert.equal(
      change.patch,
      [
        '--- a/src/b.ts',
        '+++ b/src/b.ts',
        '@@ -1,3 +1,4 @@',
        ' a',
        '-b',
        '+B',
        ' c',
        '+d',
        '--- a/src/gone.ts',
        '+++ /dev/null',
        '@@ -1,1 +0,0 @@',
        '-y',
        '--- /dev/null',
        '+++ b/src/new.ts',
        '@@ -0,0 +1,1 @@',
        '+x',
        '--- a/src/disk.ts',
        '+++ b/src/disk.ts',
        '@@ -0,0 +1,1 @@',
        '+z',
        '',
      ].join('\n'),
    );
  });

  it('is no change when every file is as it was', async () => {
    assert.equal(await runChangeOf([{ path: 'a', before: 'x', created: false, after: 'x' }], 1), undefined);
    assert.equal(await runChangeOf([], 1), undefined);
  });

  it('lists at most MAX_CHANGED_FILES files and says the rest were left out', async () => {
    const files = Array.from({ length: MAX_CHANGED_FILES + 5 }, (_, i) => ({
      path: `f${String(i).padStart(4, '0')}`,
      before: '',
      created: false,
      after: 'x\n',
    }));
    const change = (await runChangeOf(files, 1))!;
    assert.equal(change.files.length, MAX_CHANGED_FILES);
    assert.match(change.patch, /# … and 5 more files, not listed \(a change lists 200\)\n$/);
    assert.doesNotThrow(() => checkRunChange(change));
  });

  it('keeps a diff at most MAX_PATCH_BYTES long, cut with the marker exports know', async () => {
    const change = checkRunChange({ at: 1, files: [], patch: '+x\n'.repeat(MAX_PATCH_BYTES) });
    assert.ok(Buffer.byteLength(change.patch) <= MAX_PATCH_BYTES);
    assert.ok(isCut(change.patch));
  });

  it('lists a file too long to diff, with its line counts, without diffing it', async () => {
    const long = 'x\n'.repeat(MAX_DIFF_TEXT_CHARS / 2 + 1);
    const change = (await runChangeOf(
      [
        { path: 'big.txt', before: 'x\n', created: false, after: long },
        { path: 'small.ts', before: 'a\n', created: false, after: 'b\n' },
      ],
      1,
    ))!;
    assert.deepEqual(change.files[0], { path: 'big.txt', added: 0, removed: 0, before: 'seen' });
    assert.match(
      change.patch,
      /^# big\.txt: not diffed, 1 lines before and 131073 after are too long to diff\n/,
    );
    assert.match(change.patch, /\+b\n$/, 'the next file is diffed');
  });

  it('lists a deleted file it never saw, and a binary file, without a diff of either', async () => {
    const change = (await runChangeOf(
      [
        { path: 'gone.ts', before: undefined, created: false, after: undefined },
        { path: 'tmp.ts', before: undefined, created: true, after: undefined },
        { path: 'logo.png', before: 'PNG\u0000\u0001', created: false, after: 'PNG\u0000\u0002' },
        { path: 'font.woff', before: undefined, created: false, after: 'wOFF\uFFFD\uFFFD' },
      ],
      1,
    ))!;
    assert.deepEqual(
      change.files.map((f) => f.path),
      ['logo.png', 'font.woff', 'gone.ts'],
      'a file created and deleted again in the window is no change',
    );
    assert.equal(
      change.patch,
      '# logo.png: binary file changed\n# font.woff: binary file changed\n# gone.ts: deleted; the editor had not seen its text\n',
    );
  });

  it('shows a file whose diff takes too long as replaced whole, with its real line counts', async () => {
    // Two unrelated texts of ~6,000 lines each: more than a diff may take on the extension host's thread.
    const lines = (tag: string) =>
      Array.from({ length: 6000 }, (_, i) => `${tag} ${i} ${(i * 7919) % 6007}`).join('\n') + '\n';
    const change = (await runChangeOf(
      [{ path: 'big.ts', before: lines('old'), created: false, after: lines('new') }],
      1,
    ))!;
    assert.deepEqual(change.files, [{ path: 'big.ts', added: 6000, removed: 6000, before: 'seen' }]);
    assert.match(change.patch, /^--- a\/big\.ts\n\+\+\+ b\/big\.ts\n@@ -1,6000 \+1,6000 @@\n-old 0 0\n/);
  });

  it('stops adding diff text past MAX_PATCH_BYTES, and still lists the files after it', async () => {
    const block = (n: number) => Array.from({ length: 3000 }, (_, i) => `line ${n} ${i}`).join('\n') + '\n';
    const files = Array.from({ length: 12 }, (_, i) => ({
      path: `gen/f${String(i).padStart(2, '0')}.js`,
      before: '',
      created: false,
      after: block(i),
    }));
    const change = (await runChangeOf(files, 1))!;
    assert.equal(change.files.length, 12);
    assert.ok(change.patch.length < 2 * MAX_PATCH_BYTES, `patch of ${change.patch.length} characters`);
  });

  it('refuses a change whose fields are wrong, naming the field', async () => {
    assert.throws(
      () => checkRunChange({ at: 1, files: [{ path: '', added: 0, removed: 0, before: 'seen' }], patch: '' }),
      /Invalid change\.files\.0\.path/,
    );
    assert.throws(() => checkRunChange({ at: -1, files: [], patch: '' }), /Invalid change\.at/);
  });
});
