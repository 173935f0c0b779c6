// Puts the bundled `agent-learning` CLI on the PATH of VS Code's integrated terminals, so the command the empty
// state shows works as written there (the CLI is not on the npm registry).

import * as path from 'node:path';
import * as vscode from 'vscode';
import { describe } from '../core/errors';
import { writeLaunchers } from './cliLauncher';

/** Returns the folder now on the terminals' PATH, or undefined (logged) when the launchers could not be written. */
export function putCliOnPath(
  context: vscode.ExtensionContext,
  output: vscode.OutputChannel,
): string | undefined {
  const bin = path.join(context.globalStorageUri.fsPath, 'bin');
  const collection = context.environmentVariableCollection;
  try {
    writeLaunchers(bin, {
      execPath: process.execPath,
      cliPath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath,
    });
  } catch (err) {
    collection.clear();
    output.appendLine(
      `Agent Learning: could not put the agent-learning command on the terminals' PATH: ${describe(err)}`,
    );
    return undefined;
  }
  // Shown in the terminal's hover, where VS Code lists what extensions changed in its environment.
  collection.description = new vscode.MarkdownString(
    'Adds the `agent-learning` command (record runs, feedback, stats, export, the gateway) to `PATH`.',
  );
  // Kept across restarts, so terminals opened before this extension activates have it too.
  collection.persistent = true;
  collection.prepend('PATH', bin + path.delimiter);
  return bin;
}
