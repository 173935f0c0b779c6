// The dashboard: one WebviewPanel (revived after a reload by its serializer) rendering DashboardState.

import * as vscode from 'vscode';
import type { HostMessage, TrainingProgress, WebviewMessage } from '../protocol';
import type { LearningService } from './learningService';
import { dashboardState } from './viewState';
import { makeNonce, renderWebviewHtml } from './webviewHtml';
import { onWebviewMessage } from './webviewMessages';

export const DASHBOARD_VIEW_TYPE = 'agentLearning.dashboard';

export class DashboardPanel implements vscode.WebviewPanelSerializer, vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private pending: NodeJS.Timeout | undefined;
  private training: TrainingProgress | null = null;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
    private readonly onMessage: (message: WebviewMessage) => unknown,
  ) {
    this.disposables.push(service.onDidChange(() => this.scheduleUpdate()));
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      DASHBOARD_VIEW_TYPE,
      'Agent Learning',
      vscode.ViewColumn.Active,
      {
        enableScripts: true,
        retainContextWhenHidden: false,
        localResourceRoots: this.roots(),
      },
    );
    this.attach(panel);
  }

  /** Called by VS Code after a reload for a dashboard that was open. */
  async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
    panel.webview.options = { enableScripts: true, localResourceRoots: this.roots() };
    this.attach(panel);
  }

  /** Live training progress (from the training task), pushed without rebuilding the whole state. */
  setTraining(progress: TrainingProgress | null): void {
    this.training = progress;
    const message: HostMessage = { type: 'training', progress };
    void this.panel?.webview.postMessage(message);
  }

  private roots(): vscode.Uri[] {
    return [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')];
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'agent-learning.svg');
    const asUri = (...parts: string[]) =>
      panel.webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, ...parts)).toString();
    panel.webview.html = renderWebviewHtml({
      cspSource: panel.webview.cspSource,
      nonce: makeNonce(),
      scriptUri: asUri('dist', 'webview', 'dashboard.js'),
      styleUris: [asUri('dist', 'webview', 'codicon.css'), asUri('media', 'dashboard.css')],
      title: 'Agent Learning',
    });
    this.panelDisposables.push(
      onWebviewMessage(panel.webview, this.output, (message) => {
        if (message.type === 'ready') return this.update();
        return this.onMessage(message);
      }),
      panel.onDidChangeViewState(() => panel.visible && this.update()),
      panel.onDidDispose(() => {
        for (const d of this.panelDisposables) d.dispose();
        this.panelDisposables = [];
        this.panel = undefined;
      }),
    );
  }

  /** The dashboard aggregates more than the sidebar: updates are coalesced over half a second. */
  private scheduleUpdate(): void {
    if (this.pending || !this.panel?.visible) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.update();
    }, 500);
  }

  private update(): void {
    if (!this.panel || !this.service.hasPipeline) return;
    const message: HostMessage = {
      type: 'dashboard',
      state: dashboardState(
        this.service.pipeline,
        {
          workspaceName: this.service.folder!.name,
          trusted: vscode.workspace.isTrusted,
          ready: this.service.ready,
        },
        this.training,
      ),
    };
    void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
