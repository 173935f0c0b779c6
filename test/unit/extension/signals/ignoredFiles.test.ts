import assert from 'node:assert/strict';
import { EDITOR_SIGNALS_IGNORE, defaultConfig } from '../../../../src/core/workspace/config';
import { ignoreMatcher } from '../../../../src/extension/signals/ignoredFiles';

describe('editorSignals.ignore: files never taken as a run’s change', () => {
  const ignored = ignoreMatcher(defaultConfig().editorSignals.ignore);

  it("by default passes over agents' histories and logs, build output and caches, at any depth", () => {
    for (const file of [
      '.aider.chat.history.md',
      '.aider.input.history',
      'server.log',
      'logs/today.log',
      'dist/extension.js',
      'packages/web/dist/index.js',
      'out/main.js',
      'build/app.o',
      'coverage/lcov.info',
      'target/debug/app',
      'web/.next/cache/x',
      'src/__pycache__/a.cpython-312.pyc',
      '.venv/lib/site.py',
    ]) {
      assert.equal(ignored(file), true, file);
    }
  });

  it('takes sources, tests and configs, even ones named like the folders above', () => {
    for (const file of [
      'src/app.ts',
      'src/build.ts',
      'test/dist.test.ts',
      'README.md',
      'docs/out.md',
      '.eslintrc',
    ]) {
      assert.equal(ignored(file), false, file);
    }
  });

  it('reads Windows separators as /, and takes a config of its own', () => {
    assert.equal(ignored('packages\\web\\dist\\index.js'), true);
    const custom = ignoreMatcher(['generated/**', '*.snap']);
    assert.equal(custom('generated/api.ts'), true);
    assert.equal(custom('a.snap'), true);
    assert.equal(custom('src/a.snap'), false, 'a pattern without **/ matches at the top only');
    assert.equal(custom('dist/x.js'), false, 'the defaults are replaced, not added to');
    assert.deepEqual(defaultConfig().editorSignals.ignore, [...EDITOR_SIGNALS_IGNORE]);
  });
});
