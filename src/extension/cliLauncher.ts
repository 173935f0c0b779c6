// The `agent-learning` launchers that put the bundled CLI on the PATH of VS Code's integrated terminals: a POSIX
// sh script and a Windows .cmd that run dist/cli.js with the Node inside VS Code. No vscode import, so the unit
// tests run the launchers themselves.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../core/workspace/atomicFile';

export const LAUNCHER_NAME = 'agent-learning';

export interface LauncherTarget {
  /** The program that runs VS Code's extension host: Electron (or Node under code-server and remotes). */
  execPath: string;
  /** The bundled CLI: <extension>/dist/cli.js. */
  cliPath: string;
}

/**
 * Writes (or rewrites, when VS Code or the extension moved) the launchers into `dir`; returns the sh launcher's
 * path. The extension host runs where the terminals do (a remote's too), so its platform decides: the sh script
 * everywhere (Git Bash and WSL-style shells on Windows use it), the .cmd for cmd.exe and PowerShell on Windows.
 */
export function writeLaunchers(
  dir: string,
  target: LauncherTarget,
  platform: NodeJS.Platform = process.platform,
): string {
  fs.mkdirSync(dir, { recursive: true });
  const sh = path.join(dir, LAUNCHER_NAME);
  writeIfChanged(sh, posixLauncher(target));
  // The mode may be lost by an earlier write (or a copy of global storage): set it every time.
  fs.chmodSync(sh, 0o755);
  if (platform === 'win32') writeIfChanged(path.join(dir, `${LAUNCHER_NAME}.cmd`), windowsLauncher(target));
  return sh;
}

/**
 * `ELECTRON_RUN_AS_NODE=1` makes Electron behave as plain Node (VS Code's own `code` launcher does the same); Node
 * ignores it. A launcher left behind after an update that moved the extension says what to do, not "not found".
 */
export function posixLauncher({ execPath, cliPath }: LauncherTarget): string {
  return [
    '#!/bin/sh',
    "# Agent Learning's CLI, run with the Node inside VS Code. Written by the Agent Learning extension each time it",
    '# starts (its folder is on the PATH of VS Code terminals); edits are overwritten.',
    `node_bin=${shQuote(execPath)}`,
    `cli=${shQuote(cliPath)}`,
    'if [ ! -f "$cli" ]; then',
    `  echo "agent-learning: $cli is gone (was the extension updated or removed?). Open the Agent Learning view in VS Code once, then open a new terminal." >&2`,
    '  exit 127',
    'fi',
    'ELECTRON_RUN_AS_NODE=1',
    'export ELECTRON_RUN_AS_NODE',
    'exec "$node_bin" "$cli" "$@"',
    '',
  ].join('\n');
}

export function windowsLauncher({ execPath, cliPath }: LauncherTarget): string {
  return [
    '@echo off',
    "rem Agent Learning's CLI, run with the Node inside VS Code. Written by the Agent Learning extension each time",
    'rem it starts (its folder is on the PATH of VS Code terminals); edits are overwritten.',
    'setlocal',
    'set ELECTRON_RUN_AS_NODE=1',
    `${cmdQuote(execPath)} ${cmdQuote(cliPath)} %*`,
    '',
  ].join('\r\n');
}

/** A single-quoted sh word: nothing inside is expanded; a ' is closed, escaped and reopened. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * A double-quoted word in a .cmd file. Windows paths cannot hold `"`; a `%` would start a variable in a batch file,
 * so it is doubled.
 */
export function cmdQuote(value: string): string {
  if (value.includes('"')) throw new Error(`A Windows path cannot contain '"': ${value}`);
  return `"${value.replaceAll('%', '%%')}"`;
}

function writeIfChanged(file: string, text: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return;
  } catch {
    // Not there yet.
  }
  writeFileAtomicSync(file, text);
}
