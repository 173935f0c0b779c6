// Which workspace folder holds the learning data: the first with a `.agent/` folder, else the first folder.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

export function pickWorkspaceFolder(): vscode.WorkspaceFolder | undefined {
  const folders = vscode.workspace.workspaceFolders ?? [];
  return (
    folders.find((f) => f.uri.scheme === 'file' && fs.existsSync(path.join(f.uri.fsPath, '.agent'))) ??
    folders.find((f) => f.uri.scheme === 'file')
  );
}
