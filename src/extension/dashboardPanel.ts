// The dashboard: one WebviewPanel (revived after a reload by its serializer) rendering DashboardState.

import * as vscode from 'vscode';
import type { HostMessage, TrainingProgress, WebviewMessage } from '../protocol';
import { Coalescer } from './coalescer';
import type { LearningService } from './learningService';
import { dashboardState } from './viewState';
import { loadWebviewPage, webviewOptions } from './webviewPage';

export const DASHBOARD_VIEW_TYPE = 'agentLearning.dashboard';

export class DashboardPanel implements vscode.WebviewPanelSerializer, vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  /** The dashboard aggregates more than the sidebar: updates are coalesced over half a second. */
  private readonly updates = new Coalescer(500, () => this.update());
  private training: TrainingProgress | null = null;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
    private readonly onMessage: (message: WebviewMessage) => unknown,
  ) {
    this.disposables.push(
      this.updates,
      service.onDidChange(() => this.panel?.visible && this.updates.schedule()),
    );
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
      webviewOptions(this.extensionUri),
    );
    this.attach(panel);
  }

  /** Called by VS Code after a reload for a dashboard that was open. */
  async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
    panel.webview.options = webviewOptions(this.extensionUri);
    this.attach(panel);
  }

  /** Live training progress (from the training task), pushed without rebuilding the whole state. */
  setTraining(progress: TrainingProgress | null): void {
    this.training = progress;
    const message: HostMessage = { type: 'training', progress };
    void this.panel?.webview.postMessage(message);
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'agent-learning.svg');
    this.panelDisposables.push(
      loadWebviewPage(panel.webview, this.extensionUri, 'dashboard', this.output, {
        onReady: () => this.update(),
        onMessage: this.onMessage,
      }),
      panel.onDidChangeViewState(() => panel.visible && this.update()),
      panel.onDidDispose(() => {
        for (const d of this.panelDisposables) d.dispose();
        this.panelDisposables = [];
        this.panel = undefined;
      }),
    );
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
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
