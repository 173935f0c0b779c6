// "Settings in Force": a native tree of the values in force (the defaults merged with .agent/learning-config.json),
// by section, each saying whether the file or the default sets it, with its description as tooltip; an invalid file
// is shown as its issues (key and reason), and the values as the last valid ones.

import * as vscode from 'vscode';
import { agentDirOf, configFile } from '../core/workspace/agentDir';
import { defaultConfig } from '../core/workspace/config';
import {
  readSettingsInForce,
  type Setting,
  type SettingsInForce,
  type SettingsSection,
} from '../core/workspace/settingsInForce';
import { Coalescer } from './coalescer';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';

export const SETTINGS_VIEW_ID = 'agentLearning.settings';
/** The inline action on a setting the file sets. */
export const RESET_ITEM_COMMAND = 'agentLearning.settings.reset';

export type SettingsItem =
  | { kind: 'problems'; settings: SettingsInForce }
  | {
      kind: 'issue';
      key: string;
      path?: string[];
      reason: string;
      line?: number;
      column?: number;
      file: string;
    }
  | { kind: 'section'; section: SettingsSection; file: string }
  | { kind: 'setting'; setting: Setting; file: string };

/** The settings of the current folder as they are now: its file on disk over the defaults. */
export function currentSettings(
  service: LearningService,
): { file: string; settings: SettingsInForce } | undefined {
  const folder = service.folder;
  if (!folder) return undefined;
  const file = configFile(agentDirOf(folder.uri.fsPath));
  // The pipeline keeps the last valid configuration in force while the file is invalid.
  const lastValid = service.hasPipeline ? service.pipeline.getConfig().config : defaultConfig();
  return { file, settings: readSettingsInForce(file, lastValid) };
}

export class SettingsView extends Disposable implements vscode.TreeDataProvider<SettingsItem> {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;
  private readonly refreshes = this._register(new Coalescer(200, () => this.refresh()));
  readonly view: vscode.TreeView<SettingsItem>;

  constructor(private readonly service: LearningService) {
    super();
    this.view = this._register(
      vscode.window.createTreeView(SETTINGS_VIEW_ID, { treeDataProvider: this, showCollapseAll: true }),
    );
    // Config reloads (the pipeline's file watcher), a folder switch, trust granted: read the file again.
    this._register(service.onDidChange(() => this.view.visible && this.refreshes.schedule()));
    this._register(this.view.onDidChangeVisibility(() => this.view.visible && this.refresh()));
  }

  refresh(): void {
    this.changed.fire();
  }

  getChildren(parent?: SettingsItem): SettingsItem[] {
    if (parent?.kind === 'section') {
      const { file } = parent;
      return parent.section.settings.map((setting) => ({ kind: 'setting', setting, file }));
    }
    if (parent?.kind === 'problems') {
      const error = parent.settings.error;
      return (error?.issues ?? []).map((issue) => ({
        kind: 'issue',
        key: issue.key,
        ...(issue.path ? { path: issue.path } : {}),
        reason: issue.reason,
        ...(issue.line !== undefined ? { line: issue.line, column: issue.column ?? 1 } : {}),
        file: issue.file ?? error!.file,
      }));
    }
    if (parent) return [];
    const current = currentSettings(this.service);
    if (!current) {
      this.view.message = 'Open a folder to see the Agent Learning settings in force there.';
      return [];
    }
    const { file, settings } = current;
    this.view.message = settings.fileExists
      ? undefined
      : 'There is no .agent/learning-config.json: every setting is at its default.';
    const sections: SettingsItem[] = settings.sections.map((section) => ({ kind: 'section', section, file }));
    return settings.error ? [{ kind: 'problems', settings }, ...sections] : sections;
  }

  getTreeItem(item: SettingsItem): vscode.TreeItem {
    // Labels, descriptions and tooltips are plain text (no markdown): the file's values cannot become markup.
    switch (item.kind) {
      case 'problems': {
        const element = new vscode.TreeItem(
          'learning-config.json is invalid',
          vscode.TreeItemCollapsibleState.Expanded,
        );
        element.id = 'problems';
        element.description = 'the last valid settings stay in force';
        element.tooltip =
          'Fix the file (or reset the keys named below to their defaults): until then the settings below are ' +
          'the last valid ones.';
        element.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
        return element;
      }
      case 'issue': {
        const element = new vscode.TreeItem(item.key || '(file)');
        element.description = item.reason.slice(0, 300);
        element.tooltip = `${item.key || 'The file'}: ${item.reason}${item.line ? ` (line ${item.line})` : ''}`;
        element.iconPath = new vscode.ThemeIcon(
          'warning',
          new vscode.ThemeColor('problemsWarningIcon.foreground'),
        );
        element.command = openAt(item.file, item.line, item.column);
        // Resetting the key named by an issue removes it from the file: the issue goes with it.
        element.contextValue = item.key ? 'issue resettable' : 'issue';
        return element;
      }
      case 'section': {
        const { section } = item;
        const set = section.settings.filter((s) => s.setInFile).length;
        const element = new vscode.TreeItem(
          section.name || 'General',
          set > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
        );
        element.id = `section:${section.name}`;
        element.description = set > 0 ? `${set} set in the file` : 'defaults';
        element.tooltip = section.description;
        element.iconPath = new vscode.ThemeIcon('symbol-namespace');
        element.contextValue = 'section';
        return element;
      }
      case 'setting':
        return settingItem(item.setting, item.file);
    }
  }
}

function settingItem(setting: Setting, file: string): vscode.TreeItem {
  const name = setting.path[setting.path.length - 1]!;
  const element = new vscode.TreeItem(name);
  element.id = `setting:${setting.key}`;
  const source = SOURCE_WORDS[setting.source];
  element.description = `${valueText(setting.value)} · ${setting.issue !== undefined ? 'invalid in the file' : source}`;
  element.tooltip = [
    setting.key,
    setting.description,
    `In force: ${valueText(setting.value, 2000)} (${SOURCE_SENTENCES[setting.source]})`,
    `Default: ${valueText(setting.defaultValue, 2000)}`,
    ...(setting.issue !== undefined ? [`The file's value is invalid: ${setting.issue}`] : []),
  ].join('\n');
  element.iconPath = new vscode.ThemeIcon(
    setting.issue !== undefined ? 'warning' : setting.source === 'file' ? 'edit' : 'blank',
  );
  element.accessibilityInformation = {
    label: `${setting.key}: ${valueText(setting.value)}, ${setting.issue !== undefined ? 'invalid in the file' : source}`,
  };
  element.contextValue = setting.setInFile ? 'setting resettable' : 'setting';
  if (setting.at) element.command = openAt(file, setting.at.line, setting.at.column);
  return element;
}

const SOURCE_WORDS: Record<Setting['source'], string> = {
  file: 'file',
  default: 'default',
  lastValid: 'last valid',
};

const SOURCE_SENTENCES: Record<Setting['source'], string> = {
  file: 'set in .agent/learning-config.json',
  default: 'the default',
  lastValid: 'the last valid value: the file is invalid',
};

/** A value as the file would hold it, cut for a one-line description. */
export function valueText(value: unknown, max = 80): string {
  if (value === undefined) return 'unset';
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function openAt(file: string, line?: number, column?: number): vscode.Command {
  const at = new vscode.Position(Math.max(0, (line ?? 1) - 1), Math.max(0, (column ?? 1) - 1));
  const options: vscode.TextDocumentShowOptions = { selection: new vscode.Range(at, at), preview: true };
  return {
    command: 'vscode.open',
    title: 'Open in learning-config.json',
    arguments: [vscode.Uri.file(file), options],
  };
}
