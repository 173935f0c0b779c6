// The run view's host side: one WebviewPanel per run (reused when that run is open), showing RunViewState, with
// Accept / Reject / Clear / Undo and the review queue's Next / Previous; revived with its run after a reload.

import * as vscode from 'vscode';
import type { Verdict } from '../core/learning/runResult';
import {
  savedRunId,
  type HostMessage,
  type PageState,
  type RunViewState,
  type WebviewMessage,
} from '../protocol';
import { Coalescer } from './coalescer';
import { Disposable, disposeAll } from './dispose';
import type { LearningService } from './learningService';
import type { ReviewQueueModel } from './reviewQueueModel';
import type { VerdictDesk } from './verdictHistory';
import { makeNonce } from './webviewHtml';
import { loadWebviewPage, webviewOptions } from './webviewPage';

export const RUN_VIEW_TYPE = 'agentLearning.run';

interface OpenRun {
  panel: vscode.WebviewPanel;
  runId: string;
  /** The run's place in the queue when it was opened, to find its neighbour once a verdict moved it out. */
  queueIndex: number | undefined;
  disposables: vscode.Disposable[];
}

export class RunPanels extends Disposable implements vscode.WebviewPanelSerializer {
  private readonly open = new Map<vscode.WebviewPanel, OpenRun>();
  private readonly updates = this._register(new Coalescer(100, () => this.updateAll()));
  private active: OpenRun | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
    private readonly desk: VerdictDesk,
    private readonly queue: ReviewQueueModel,
    private readonly onOtherMessage: (message: WebviewMessage) => unknown,
  ) {
    super();
    this._register(service.onDidChange(() => this.updates.schedule()));
    this._register({ dispose: () => [...this.open.keys()].forEach((p) => p.dispose()) });
  }

  /** The run in the focused run view, if one is focused. */
  get activeRunId(): string | undefined {
    return this.active?.panel.active ? this.active.runId : undefined;
  }

  /** Opens `runId` in its tab, or reveals the tab it is already in. */
  show(runId: string, column = vscode.ViewColumn.Active): void {
    const existing = this.find(runId);
    if (existing) {
      existing.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(RUN_VIEW_TYPE, this.title(runId), column, {
      ...webviewOptions(this.extensionUri),
      retainContextWhenHidden: false,
      enableFindWidget: true,
    });
    this.attach(panel, runId, true);
  }

  /**
   * Called by VS Code after a window reload for a run view that was open: it shows the same run again (the id the
   * page saved). One whose saved state holds no run id is closed rather than left blank.
   */
  async deserializeWebviewPanel(panel: vscode.WebviewPanel, saved: unknown): Promise<void> {
    const runId = savedRunId(saved);
    if (!runId || this.find(runId)) {
      this.output.appendLine(
        `Agent Learning: closed a restored run view with ${runId ? 'a duplicate' : 'no'} run id`,
      );
      panel.dispose();
      return;
    }
    panel.webview.options = webviewOptions(this.extensionUri);
    this.attach(panel, runId, panel.active);
  }

  private attach(panel: vscode.WebviewPanel, runId: string, active: boolean): void {
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'agent-learning.svg');
    const entry: OpenRun = { panel, runId, queueIndex: this.queue.indexOf(runId), disposables: [] };
    this.open.set(panel, entry);
    if (active || !this.active) this.active = entry;
    const state = this.state(runId);
    // While the store opens (after a reload) nothing is embedded: the page shows the state it saved, or "Loading".
    const initialState: PageState<RunViewState> | undefined = state && { pageId: makeNonce(), state };
    entry.disposables.push(
      loadWebviewPage(panel.webview, this.extensionUri, 'run', this.output, {
        onReady: () => this.update(entry),
        onMessage: (message) => this.onMessage(entry, message),
        initialState,
      }),
      panel.onDidChangeViewState(() => {
        if (panel.active) this.active = entry;
        if (panel.visible) this.update(entry);
      }),
      panel.onDidDispose(() => {
        disposeAll(entry.disposables);
        this.open.delete(panel);
        if (this.active === entry) this.active = undefined;
      }),
    );
  }

  /** Sets the focused run's verdict (the Accept / Reject keybindings). */
  async judgeActive(verdict: Verdict | null): Promise<void> {
    const entry = this.active;
    if (entry) await this.judge(entry, verdict);
  }

  /** Shows the queue's next or previous run in the focused run view (or the queue's first run if none is). */
  navigate(direction: 'next' | 'previous'): void {
    const entry = this.active;
    const next = this.queue.neighbour(entry?.runId, direction, entry?.queueIndex);
    if (!next) {
      void vscode.window.showInformationMessage(
        direction === 'next'
          ? 'Agent Learning: no more runs in the review queue.'
          : 'Agent Learning: this is the first run of the review queue.',
      );
      return;
    }
    const other = this.find(next.id);
    if (!entry || other) {
      this.show(next.id);
      return;
    }
    // One tab follows the queue, as a preview does, rather than a tab per run stepped through.
    entry.runId = next.id;
    entry.queueIndex = this.queue.indexOf(next.id);
    entry.panel.title = this.title(next.id);
    this.update(entry);
  }

  private async onMessage(entry: OpenRun, message: WebviewMessage): Promise<void> {
    switch (message.type) {
      case 'feedback':
        return this.judge(entry, message.verdict, message.runId);
      case 'clearVerdict':
        return this.judge(entry, null, message.runId);
      case 'undoVerdict': {
        await this.desk.undo(message.runId);
        this.update(entry);
        return;
      }
      case 'navigate':
        this.active = entry;
        return this.navigate(message.direction);
      default:
        await this.onOtherMessage(message);
    }
  }

  private async judge(entry: OpenRun, verdict: Verdict | null, runId = entry.runId): Promise<void> {
    await this.desk.set(runId, verdict);
    this.update(entry);
  }

  private find(runId: string): OpenRun | undefined {
    return [...this.open.values()].find((e) => e.runId === runId);
  }

  private title(runId: string): string {
    const run = this.service.hasPipeline ? this.service.pipeline.getRun(runId) : undefined;
    return runTitle(run?.taskSlug ?? runId);
  }

  /** Undefined while the store is opening: "no such run" would be wrong then. */
  private state(runId: string): RunViewState | undefined {
    if (this.service.hasPipeline && !this.service.ready) return undefined;
    const run = this.service.hasPipeline ? this.service.pipeline.getRun(runId) : undefined;
    return { version: 1, runId, run: run ?? null, undo: this.desk.history.peek(runId) ?? null };
  }

  private update(entry: OpenRun): void {
    const state = this.state(entry.runId);
    if (!state) return; // the service's change event once the store is ready sends it
    if (state.run) entry.panel.title = runTitle(state.run.taskSlug);
    const message: HostMessage = { type: 'run', state };
    void entry.panel.webview.postMessage(message);
  }

  private updateAll(): void {
    for (const entry of this.open.values()) if (entry.panel.visible) this.update(entry);
  }
}

function runTitle(task: string): string {
  return `Run: ${task.length > 40 ? `${task.slice(0, 39)}…` : task}`;
}
