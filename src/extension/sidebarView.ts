// The sidebar: a WebviewViewProvider rendering SidebarState, with Accept/Reject and the action buttons.

import * as vscode from 'vscode';
import type { HostMessage, WebviewMessage } from '../protocol';
import { Coalescer } from './coalescer';
import type { LearningService } from './learningService';
import { sidebarState } from './viewState';
import { loadWebviewPage, webviewOptions } from './webviewPage';

export const SIDEBAR_VIEW_ID = 'agentLearning.sidebar';

export class SidebarView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** Coalesces bursts of changes (an agent recording many runs) into one render. */
  private readonly updates = new Coalescer(100, () => this.update());

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
    private readonly onMessage: (message: WebviewMessage) => unknown,
  ) {
    this.disposables.push(
      this.updates,
      service.onDidChange(() => this.view?.visible && this.updates.schedule()),
    );
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
    for (const d of this.disposables) d.dispose();
  }
}
