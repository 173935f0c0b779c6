import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ConfigError } from '../../../../src/core/errors';
import { ConfigFiles } from '../../../../src/core/workspace/configFiles';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';

describe('ConfigFiles', () => {
  let ws: string;
  let logs: string[];
  let problems: ConfigError[];
  let changes: number;

  beforeEach(() => {
    ws = makeWorkspace();
    logs = [];
    problems = [];
    changes = 0;
  });

  afterEach(() => removeWorkspace(ws));

  function open(): ConfigFiles {
    return new ConfigFiles(path.join(ws, '.agent'), {
      log: (line) => logs.push(line),
      onProblem: (err) => problems.push(err),
      onChange: () => changes++,
    });
  }

  describe('reload', () => {
    it('clears the error and applies the new values once the file is fixed', () => {
      writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: -1 } });
      const files = open();
      assert.ok(files.error instanceof ConfigError);

      writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 7 } });
      const error = files.reload();

      assert.equal(error, undefined);
      assert.equal(files.error, undefined);
      assert.equal(files.config.autoExport.minRuns, 7);
    });

    it('keeps the last valid values when the file turns invalid', () => {
      writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 7 } });
      const files = open();

      writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 'many' } });
      const error = files.reload();

      assert.ok(error instanceof ConfigError);
      assert.equal(files.config.autoExport.minRuns, 7);
    });

    it('keeps the previous variants when a variants file turns invalid, and marks it not to be overwritten', () => {
      writeAgentFile(ws, 'prompt_variants.json', { variants: [{ id: 'terse', text: 'Be brief.' }] });
      const files = open();
      assert.equal(files.promptFileOk, true);

      writeAgentFile(ws, 'prompt_variants.json', '{ "variants": [ }');
      files.reload();

      assert.equal(files.promptFileOk, false);
      assert.deepEqual(
        files.promptVariants.map((v) => v.id),
        ['default', 'detailed', 'concise', 'terse'],
      );
      assert.deepEqual(files.userPromptVariants, [{ id: 'terse', text: 'Be brief.' }]);
    });
  });

  it('reports a problem once, logged, however often the same invalid file is read', () => {
    writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 0 } });
    const files = open();
    files.reload();
    files.reload();

    assert.equal(problems.length, 1);
    assert.deepEqual(logs, [`❌ ${problems[0]!.message}`]);
  });

  it('reports every invalid file in one error naming them all', () => {
    writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 0 } });
    writeAgentFile(ws, 'model_variants.json', {
      variants: [{ id: 'free', costPer1kTokens: -1, tiers: ['small'] }],
    });

    const { error, modelFileOk } = open();

    assert.ok(error instanceof ConfigError);
    assert.ok(
      error.file.includes('learning-config.json') && error.file.includes('model_variants.json'),
      error.file,
    );
    assert.equal(modelFileOk, false);
  });

  describe('reloadIfChanged', () => {
    it('reports a user’s edit once, and tells onChange', () => {
      const files = open();
      assert.equal(files.reloadIfChanged(), false);

      writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 9 } });

      assert.equal(files.reloadIfChanged(), true);
      assert.equal(files.reloadIfChanged(), false);
      assert.equal(changes, 1);
      assert.equal(files.config.autoExport.minRuns, 9);
    });

    it('takes a restamped file for its own write, and still sees an edit of another file', () => {
      const files = open();
      const mirror = writeAgentFile(ws, 'model_variants.json', { variants: [] });
      files.restamp(mirror);
      assert.equal(files.reloadIfChanged(), false, 'a write taken in is no change');

      writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 11 } });
      files.restamp(mirror);

      assert.equal(files.reloadIfChanged(), true);
      assert.equal(files.config.autoExport.minRuns, 11);
    });
  });

  it('looks at the files at most once a second when asked on every call', () => {
    const files = open();
    writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 12 } });

    files.maybeReload();

    assert.equal(changes, 0, 'read less than a second ago');
    assert.equal(files.config.autoExport.minRuns, 100);
  });
});
