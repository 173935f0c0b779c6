// The sidebar: a WebviewViewProvider rendering SidebarState, with Accept/Reject and the action buttons.

import * as vscode from 'vscode';
import type { HostMessage, WebviewMessage } from '../protocol';
import type { LearningService } from './learningService';
import { sidebarState } from './viewState';
import { loadWebviewPage, webviewOptions } from './webviewPage';

export const SIDEBAR_VIEW_ID = 'agentLearning.sidebar';

export class SidebarView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private pending: NodeJS.Timeout | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
    private readonly onMessage: (message: WebviewMessage) => unknown,
  ) {
    this.disposables.push(service.onDidChange(() => this.scheduleUpdate()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extensionUri);
    this.disposables.push(
      loadWebviewPage(view.webview, this.extensionUri, 'sidebar', this.output, {
        onReady: () => this.update(),
        onMessage: this.onMessage,
      }),
      view.onDidChangeVisibility(() => view.visible && this.update()),
    );
  }

  /** Coalesces bursts of changes (an agent recording many runs) into one render. */
  private scheduleUpdate(): void {
    if (this.pending || !this.view?.visible) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.update();
    }, 100);
  }

  private update(): void {
    if (!this.view || !this.service.hasPipeline) return;
    const folder = this.service.folder!;
    const message: HostMessage = {
      type: 'sidebar',
      state: sidebarState(this.service.pipeline, {
        workspaceName: folder.name,
        trusted: vscode.workspace.isTrusted,
        ready: this.service.ready,
      }),
    };
    void this.view.webview.postMessage(message);
  }

  dispose(): void {
    clearTimeout(this.pending);
    for (const d of this.disposables) d.dispose();
  }
}
