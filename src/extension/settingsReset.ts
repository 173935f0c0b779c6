// Resetting a setting to its default: its key is removed from .agent/learning-config.json by an edit of the open
// document (one undo step, the rest of the file as the user wrote it), then saved. Refused in Restricted Mode.

import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { NotAFileError } from '../core/errors';
import { fileKind } from '../core/workspace/regularFile';
import { keysSetInFile, resetSettingEdits, type Setting } from '../core/workspace/settingsInForce';
import type { LearningService } from './learningService';
import { currentSettings, valueText, type SettingsItem } from './settingsView';

/** The inline action's argument is the tree item; the palette's command asks which key. */
export async function resetSettingCommand(service: LearningService, item?: SettingsItem): Promise<boolean> {
  if (!checkTrusted(item ? itemPath(item)?.join('.') : undefined)) return false;
  const path = item ? itemPath(item) : await pickKey(service);
  return path ? resetSetting(service, path) : false;
}

function itemPath(item: SettingsItem): string[] | undefined {
  if (item.kind === 'setting') return item.setting.path;
  if (item.kind === 'issue' && item.key) return item.path ?? item.key.split('.');
  return undefined;
}

/** The keys the file sets, known or not, with their value in the file and the default they go back to. */
async function pickKey(service: LearningService): Promise<string[] | undefined> {
  const current = currentSettings(service);
  // The editor's text where the file is open: what the reset will edit.
  const open = vscode.workspace.textDocuments.find(
    (d) => d.uri.scheme === 'file' && d.uri.fsPath === current?.file,
  );
  const text = open ? open.getText() : current && readText(current.file);
  const keys = text === undefined ? [] : keysSetInFile(text);
  if (!current || keys.length === 0) {
    void vscode.window.showInformationMessage(
      'Agent Learning: .agent/learning-config.json sets no setting: every one is at its default.',
    );
    return undefined;
  }
  const known = new Map<string, Setting>(
    current.settings.sections.flatMap((s) => s.settings).map((s) => [s.key, s]),
  );
  const pick = await vscode.window.showQuickPick(
    keys.map((path) => {
      const key = path.join('.');
      const setting = known.get(key);
      return {
        label: key,
        description: setting
          ? `${setting.issue !== undefined ? 'invalid' : valueText(setting.value)} → default ${valueText(setting.defaultValue)}`
          : 'not a setting: removed from the file',
        detail: setting?.description,
        path,
      };
    }),
    {
      title: 'Reset which setting to its default?',
      placeHolder: 'The settings .agent/learning-config.json sets',
    },
  );
  return pick?.path;
}

async function resetSetting(service: LearningService, path: string[]): Promise<boolean> {
  const key = path.join('.');
  const current = currentSettings(service);
  if (!current) return false;
  const { file } = current;
  // Like every write under .agent/, never through a link (or into a FIFO): the user edits such a file themselves.
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    void vscode.window.showInformationMessage(
      `Agent Learning: there is no .agent/learning-config.json, so ${key} is at its default already.`,
    );
    return false;
  }
  if (!stat.isFile()) {
    void vscode.window.showErrorMessage(
      `Agent Learning: ${key} was not reset: ${new NotAFileError(file, fileKind(stat)).message}`,
    );
    return false;
  }
  const uri = vscode.Uri.file(file);
  const document = await vscode.workspace.openTextDocument(uri);
  // Unsaved changes of the user's stay unsaved: saving the reset would save their half-done edit with it.
  const wasDirty = document.isDirty;
  const edits = resetSettingEdits(document.getText(), path);
  if (edits.length === 0) {
    void vscode.window.showInformationMessage(
      `Agent Learning: .agent/learning-config.json does not set ${key}: it is at its default already.`,
    );
    return false;
  }
  const edit = new vscode.WorkspaceEdit();
  for (const e of edits) {
    const range = new vscode.Range(document.positionAt(e.offset), document.positionAt(e.offset + e.length));
    edit.replace(uri, range, e.content);
  }
  if (!(await vscode.workspace.applyEdit(edit))) {
    void vscode.window.showErrorMessage(
      `Agent Learning: ${key} was not reset: the editor refused the change to .agent/learning-config.json.`,
    );
    return false;
  }
  if (wasDirty) {
    void vscode.window.showInformationMessage(
      `Agent Learning: ${key} was removed from the unsaved .agent/learning-config.json; save it to apply.`,
    );
    return true;
  }
  if (!(await document.save())) {
    void vscode.window.showErrorMessage(
      `Agent Learning: ${key} was removed from .agent/learning-config.json in the editor, but saving failed; save it to apply.`,
    );
    return false;
  }
  vscode.window.setStatusBarMessage(`Agent Learning: ${key} reset to its default`, 5000);
  return true;
}

/**
 * A workspace the user does not trust may be a cloned repository: Agent Learning changes none of its files on a
 * click there. Says so, and how to go on.
 */
function checkTrusted(key: string | undefined): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showErrorMessage(
    `Agent Learning: ${key ? `${key} was not reset` : 'no setting is reset'} in Restricted Mode: settings are only ` +
      'changed in a trusted workspace. Trust this folder (Workspaces: Manage Workspace Trust), or edit ' +
      '.agent/learning-config.json yourself.',
  );
  return false;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
