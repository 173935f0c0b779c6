import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cmdQuote, posixLauncher, windowsLauncher, writeLaunchers } from '../../../src/extension/cliLauncher';

/** A folder name a shell would expand or split if the launcher left it unquoted. */
const AWKWARD = `it's a $HOME \`id\` "dir" ; & %PATH%`;

describe('the agent-learning launchers on the terminals PATH', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'al-launcher-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A stand-in for dist/cli.js: prints what it was run with. */
  function standInCli(): string {
    const dir = path.join(tmp, AWKWARD, 'dist');
    fs.mkdirSync(dir, { recursive: true });
    const cli = path.join(dir, 'cli.js');
    fs.writeFileSync(
      cli,
      'process.stdout.write(JSON.stringify({ args: process.argv.slice(2), asNode: process.env.ELECTRON_RUN_AS_NODE, ' +
        'stdin: require("node:fs").readFileSync(0, "utf8") }));\n',
    );
    return cli;
  }

  function runInTerminal(bin: string, command: string, input = ''): ReturnType<typeof spawnSync> {
    return spawnSync('sh', ['-c', command], {
      cwd: tmp,
      input,
      encoding: 'utf8',
      env: { ...process.env, PATH: bin + path.delimiter + (process.env.PATH ?? '') },
    });
  }

  it('runs the bundled CLI by name, with Node, every path quoted, arguments and stdin passed through', () => {
    const cli = standInCli();
    const bin = path.join(tmp, AWKWARD, 'bin');
    writeLaunchers(bin, { execPath: process.execPath, cliPath: cli });

    const r = runInTerminal(
      bin,
      `echo '{"taskSlug":"a b"}' | agent-learning record --workspace "x y" '$HOME'`,
    );
    assert.equal(r.status, 0, String(r.stderr));
    assert.deepEqual(JSON.parse(String(r.stdout)), {
      args: ['record', '--workspace', 'x y', '$HOME'],
      asNode: '1',
      stdin: '{"taskSlug":"a b"}\n',
    });
    assert.equal(fs.statSync(path.join(bin, 'agent-learning')).mode & 0o111, 0o111);
  });

  it('says what to do, not "not found", when the extension it points at has moved', () => {
    const bin = path.join(tmp, 'bin');
    const gone = path.join(tmp, 'agent-learning-0.0.9', 'dist', 'cli.js');
    writeLaunchers(bin, { execPath: process.execPath, cliPath: gone });
    const r = runInTerminal(bin, 'agent-learning stats');
    assert.equal(r.status, 127);
    assert.match(
      String(r.stderr),
      /agent-learning-0\.0\.9\/dist\/cli\.js is gone .*Open the Agent Learning view/,
    );
  });

  it('rewrites the launchers when VS Code or the extension moved, and leaves them alone otherwise', () => {
    const bin = path.join(tmp, 'bin');
    const sh = writeLaunchers(bin, { execPath: '/old/node', cliPath: '/old/cli.js' });
    const before = fs.statSync(sh).mtimeMs;
    writeLaunchers(bin, { execPath: '/old/node', cliPath: '/old/cli.js' });
    assert.equal(fs.statSync(sh).mtimeMs, before);

    const cli = standInCli();
    writeLaunchers(bin, { execPath: process.execPath, cliPath: cli });
    assert.equal(runInTerminal(bin, 'agent-learning ok < /dev/null').status, 0);
    assert.equal(fs.existsSync(path.join(bin, 'agent-learning.cmd')), false, 'no .cmd off Windows');
    writeLaunchers(bin, { execPath: '/n', cliPath: '/c/cli.js' }, 'win32');
    assert.match(fs.readFileSync(path.join(bin, 'agent-learning.cmd'), 'utf8'), /"\/c\/cli\.js" %\*\r\n$/);
  });

  it('passes a path through sh unexpanded', () => {
    const script = posixLauncher({ execPath: '/a/node', cliPath: `/x/${AWKWARD}/cli.js` });
    const printed = execFileSync('sh', ['-c', `${script.split('\n')[4]}; printf %s "$cli"`], {
      encoding: 'utf8',
    });
    assert.equal(printed, `/x/${AWKWARD}/cli.js`);
  });

  it('writes a .cmd that quotes both paths and doubles % so cmd.exe expands nothing', () => {
    const text = windowsLauncher({
      execPath: 'C:\\Program Files\\Microsoft VS Code\\Code.exe',
      cliPath: 'C:\\Users\\a%b\\.vscode\\extensions\\agent-learning\\dist\\cli.js',
    });
    assert.match(text, /^@echo off\r\n/);
    assert.match(text, /\r\nset ELECTRON_RUN_AS_NODE=1\r\n/);
    assert.match(
      text,
      /\r\n"C:\\Program Files\\Microsoft VS Code\\Code\.exe" "C:\\Users\\a%%b\\.vscode\\extensions\\agent-learning\\dist\\cli\.js" %\*\r\n$/,
    );
    assert.throws(() => cmdQuote('C:\\a"b'), /cannot contain/);
  });
});
