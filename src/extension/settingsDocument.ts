// "Agent Learning: Show Settings in Force": a read-only JSON-with-comments document of the merged values, each
// marked `// file` or `// default`, kept up to date while it is open.

import * as vscode from 'vscode';
import { settingsDocument } from '../core/workspace/settingsInForce';
import { Coalescer } from './coalescer';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';
import { currentSettings } from './settingsView';

export const SETTINGS_SCHEME = 'agent-learning-settings';
/** `.jsonc`: the editor colours it as JSON with comments. */
const SETTINGS_URI = vscode.Uri.from({ scheme: SETTINGS_SCHEME, path: '/Settings in Force.jsonc' });

export class SettingsDocumentProvider extends Disposable implements vscode.TextDocumentContentProvider {
  private readonly changed = this._register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this.changed.event;
  private readonly updates = this._register(new Coalescer(200, () => this.changed.fire(SETTINGS_URI)));

  constructor(private readonly service: LearningService) {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(SETTINGS_SCHEME, this));
    this._register(
      service.onDidChange(() => {
        if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === SETTINGS_URI.toString()))
          this.updates.schedule();
      }),
    );
  }

  provideTextDocumentContent(): string {
    const current = currentSettings(this.service);
    if (!current) return '// Open a folder to see the Agent Learning settings in force there.\n';
    return settingsDocument(current.settings, '.agent/learning-config.json');
  }

  async show(): Promise<void> {
    const document = await vscode.workspace.openTextDocument(SETTINGS_URI);
    await vscode.window.showTextDocument(document, { preview: false });
  }
}
