import assert from 'node:assert/strict';
import { checkRunChange, MAX_CHANGED_FILES, MAX_PATCH_BYTES } from '../../../../src/core/learning/runChange';
import { isCut } from '../../../../src/core/store/storedText';
import { MAX_DIFF_TEXT_CHARS, runChangeOf } from '../../../../src/extension/signals/runChangeDiff';

describe("a run's change (the diff the run view shows)", async () => {
  it('diffs each changed file as git does, counts its lines, and says what the editor knew before', async () => {
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
      { path: 'src/disk.ts', added: 1, removed: 0, before: 'unseen' },
      { path: 'src/gone.ts', added: 0, removed: 1, before: 'seen' },
      { path: 'src/new.ts', added: 1, removed: 0, before: 'new' },
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
        '--- a/src/disk.ts',
        '+++ b/src/disk.ts',
        '@@ -0,0 +1,1 @@',
        '+z',
        '--- a/src/gone.ts',
        '+++ /dev/null',
        '@@ -1,1 +0,0 @@',
        '-y',
        '--- /dev/null',
        '+++ b/src/new.ts',
        '@@ -0,0 +1,1 @@',
        '+x',
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
    assert.match(change.patch, /and more files, not listed/);
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

  it('refuses a change whose fields are wrong, naming the field', async () => {
    assert.throws(
      () => checkRunChange({ at: 1, files: [{ path: '', added: 0, removed: 0, before: 'seen' }], patch: '' }),
      /Invalid change\.files\.0\.path/,
    );
    assert.throws(() => checkRunChange({ at: -1, files: [], patch: '' }), /Invalid change\.at/);
  });
});
