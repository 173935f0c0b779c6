import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NotAFileError } from '../../../../src/core/errors';
import { AGENT_DIR_PATTERN, LARGE_AGENT_PATHS } from '../../../../src/core/workspace/agentDir';
import { addToGitignore, withGitignoreEntries } from '../../../../src/core/workspace/gitignore';

describe('withGitignoreEntries', () => {
  it('appends after the last line, adding the missing newline first', () => {
    assert.equal(withGitignoreEntries('node_modules', ['/.agent/']), 'node_modules\n/.agent/\n');
    assert.equal(withGitignoreEntries('node_modules\n', ['/.agent/']), 'node_modules\n/.agent/\n');
    assert.equal(withGitignoreEntries('', ['/.agent/']), '/.agent/\n');
  });

  it("keeps the file's CRLF line endings", () => {
    assert.equal(withGitignoreEntries('dist\r\nout', ['/.agent/']), 'dist\r\nout\r\n/.agent/\r\n');
  });

  it('adds nothing that is already there, with or without its slashes', () => {
    assert.equal(withGitignoreEntries('.agent\n', [AGENT_DIR_PATTERN]), undefined);
    assert.equal(withGitignoreEntries('  /.agent/  \r\n', [AGENT_DIR_PATTERN]), undefined);
    assert.equal(
      withGitignoreEntries('/.agent/inbox/\n', LARGE_AGENT_PATHS),
      '/.agent/inbox/\n' + LARGE_AGENT_PATHS.filter((e) => e !== '/.agent/inbox/').join('\n') + '\n',
    );
  });
});

describe('addToGitignore', () => {
  let ws: string;
  const gitignore = () => path.join(ws, '.gitignore');

  beforeEach(() => {
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'al-gitignore-'));
  });

  afterEach(() => {
    fs.rmSync(ws, { recursive: true, force: true });
  });

  it('creates .gitignore when there is none', () => {
    assert.deepEqual(addToGitignore(ws, [AGENT_DIR_PATTERN]), [AGENT_DIR_PATTERN]);
    assert.equal(fs.readFileSync(gitignore(), 'utf8'), '/.agent/\n');
  });

  it('appends the large files once, however often it is asked', () => {
    fs.writeFileSync(gitignore(), 'node_modules/\r\n*.log');
    addToGitignore(ws, LARGE_AGENT_PATHS);
    assert.deepEqual(addToGitignore(ws, LARGE_AGENT_PATHS), []);
    assert.equal(
      fs.readFileSync(gitignore(), 'utf8'),
      ['node_modules/', '*.log', ...LARGE_AGENT_PATHS].map((l) => l + '\r\n').join(''),
    );
  });

  it('leaves a .gitignore that is a link alone, and its target untouched', () => {
    const target = path.join(ws, 'shared-ignore');
    fs.writeFileSync(target, 'dist\n');
    fs.symlinkSync(target, gitignore());
    assert.throws(() => addToGitignore(ws, [AGENT_DIR_PATTERN]), NotAFileError);
    assert.equal(fs.readFileSync(target, 'utf8'), 'dist\n');
    assert.ok(fs.lstatSync(gitignore()).isSymbolicLink());
  });
});
