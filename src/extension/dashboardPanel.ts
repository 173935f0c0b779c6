// The dashboard: one WebviewPanel (revived after a reload by its serializer) rendering DashboardState.

import { isDeepStrictEqual } from 'node:util';
import * as vscode from 'vscode';
import type { DashboardState, HostMessage, TrainingProgress, WebviewMessage } from '../protocol';
import { Coalescer } from './coalescer';
import { Disposable, disposeAll } from './dispose';
import type { LearningService } from './learningService';
import { StateCache } from './stateCache';
import type { TrainingReadiness } from './trainingReadiness';
import { dashboardState, emptyDashboardState } from './viewState';
import { loadWebviewPage, webviewOptions } from './webviewPage';

export const DASHBOARD_VIEW_TYPE = 'agentLearning.dashboard';

export class DashboardPanel extends Disposable implements vscode.WebviewPanelSerializer {
  private panel: vscode.WebviewPanel | undefined;
  /** What lives as long as the panel (a dashboard closed and opened again gets new ones). */
  private readonly panelDisposables: vscode.Disposable[] = [];
  /** The dashboard aggregates more than the sidebar: updates are coalesced over half a second. */
  private readonly updates = this._register(new Coalescer(500, () => this.update()));
  private training: TrainingProgress | null = null;
  /** The state last computed: while nothing changed, `ready` needs no new computation. */
  private readonly cache = new StateCache<DashboardState>();
  /** What the page was last given. */
  private shown: DashboardState | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
    private readonly onMessage: (message: WebviewMessage) => unknown,
    /** Live training progress (the automation's), pushed without rebuilding the whole state. */
    onDidChangeTraining: vscode.Event<TrainingProgress | null>,
    private readonly readiness: TrainingReadiness,
  ) {
    super();
    this._register(
      readiness.onDidChange(() => {
        this.cache.invalidate();
        if (this.panel?.visible) this.updates.schedule();
      }),
    );
    this._register(
      service.onDidChange(() => {
        this.cache.invalidate();
        if (this.panel?.visible) this.updates.schedule();
      }),
    );
    this._register(onDidChangeTraining((progress) => this.setTraining(progress)));
    this._register({ dispose: () => this.panel?.dispose() });
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

  private setTraining(progress: TrainingProgress | null): void {
    this.training = progress;
    this.cache.invalidate();
    const message: HostMessage = { type: 'training', progress };
    void this.panel?.webview.postMessage(message);
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.shown = undefined;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'agent-learning.svg');
    this.panelDisposables.push(
      loadWebviewPage(panel.webview, this.extensionUri, 'dashboard', this.output, {
        // The state went out right after the HTML (below): only what changed since.
        onReady: () => this.update(true),
        onMessage: this.onMessage,
      }),
      panel.onDidChangeViewState(() => panel.visible && this.update()),
      panel.onDidDispose(() => {
        disposeAll(this.panelDisposables);
        this.panel = undefined;
      }),
    );
    // The state is computed while VS Code creates the webview and the page loads its script (Chart.js), and
    // posted at once: VS Code holds it until the page has loaded, so the first render waits for no ready → state
    // round trip, nor for the store's queries after it. On a timer, so the HTML goes out first.
    setTimeout(() => this.update(), 0);
  }

  /**
   * Posts the state as it is now; with `ifChanged`, only when it differs from what the page was given (a page
   * VS Code re-creates shows what it saved, which is what it was given).
   */
  private update(ifChanged = false): void {
    const folder = this.service.folder;
    if (!this.panel || !folder) return;
    const pipeline = this.service.hasPipeline ? this.service.pipeline : undefined;
    const ctx = { workspaceName: folder.name, trusted: vscode.workspace.isTrusted };
    const state = pipeline
      ? this.cache.get(pipeline, () =>
          dashboardState(
            pipeline,
            { ...ctx, ready: this.service.ready },
            this.training,
            // Only where auto-train is on is the probe worth its Python process.
            pipeline.getConfig().config.autoTrain.enabled ? (this.readiness.blocker ?? null) : null,
          ),
        )
      : emptyDashboardState(ctx);
    const same = isDeepStrictEqual(state, this.shown);
    this.shown = state;
    if (ifChanged && same) return;
    const message: HostMessage = { type: 'dashboard', state };
    void this.panel.webview.postMessage(message);
  }
}
