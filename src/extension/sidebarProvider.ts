// The sidebar's host side: a WebviewViewProvider rendering SidebarState (the page itself is
// src/webview/sidebarView.ts), with Accept/Reject and the action buttons.

import { isDeepStrictEqual } from 'node:util';
import * as vscode from 'vscode';
import type { HostMessage, PageState, SidebarState, WebviewMessage } from '../protocol';
import { Coalescer } from './coalescer';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';
import { StateCache } from './stateCache';
import { emptySidebarState, sidebarState } from './viewState';
import { makeNonce } from './webviewHtml';
import { loadWebviewPage, webviewOptions } from './webviewPage';

export const SIDEBAR_VIEW_ID = 'agentLearning.sidebar';

/** While the view is hidden, how long after the last change its state is computed ahead of the next showing. */
const PREPARE_DELAY_MS = 1000;

export class SidebarProvider extends Disposable implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  /** Coalesces bursts of changes (an agent recording many runs) into one render. */
  private readonly updates = this._register(new Coalescer(100, () => this.update(true)));
  private preparation: NodeJS.Timeout | undefined;
  /**
   * The state last computed, for the pipeline it came from. Computing it runs the store's queries, so it is done
   * ahead, while the view is hidden, rather than on the way to its first paint.
   */
  private readonly cache = new StateCache<SidebarState>();
  /** What the page was last given, embedded in its HTML or posted. */
  private shown: SidebarState | undefined;
  private wasReady = false;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
    private readonly onMessage: (message: WebviewMessage) => unknown,
  ) {
    super();
    this._register({ dispose: () => clearTimeout(this.preparation) });
    this._register(service.onDidChange(() => this.changed()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extensionUri);
    // The state goes into the HTML: the first paint needs no ready → state round trip, nor VS Code handing the
    // message over, which it holds until the page has loaded. A state from before the last change still goes in
    // at once, and the current one follows it.
    const known = this.knownState();
    const state = known?.state ?? this.state();
    const initialState: PageState<SidebarState> | undefined = state && { pageId: makeNonce(), state };
    this.shown = state;
    this._register(
      loadWebviewPage(view.webview, this.extensionUri, 'sidebar', this.output, {
        // Only what changed after the HTML was made: the page already shows the rest.
        onReady: () => this.update(true),
        onMessage: this.onMessage,
        initialState,
      }),
    );
    this._register(view.onDidChangeVisibility(() => view.visible && this.update()));
    // On a timer set after the HTML's: the extension host sends its messages on one, and this one's queries
    // must not hold the HTML back.
    if (known && !known.current) setTimeout(() => this.update(true), 0);
  }

  private changed(): void {
    this.cache.invalidate();
    const becameReady = this.service.ready && !this.wasReady;
    this.wasReady = this.service.ready;
    if (this.view?.visible) {
      // The database has just opened: its numbers replace "Opening the experience database…" now.
      if (this.shown?.ready === false && this.service.ready) this.update();
      else this.updates.schedule();
    } else {
      // Once things are quiet (a burst of runs costs one computation), or at once when the database opens.
      clearTimeout(this.preparation);
      this.preparation = setTimeout(() => this.state(), becameReady ? 0 : PREPARE_DELAY_MS);
    }
  }

  /** The state last computed for today's pipeline, current or not. */
  private knownState(): { state: SidebarState; current: boolean } | undefined {
    return this.cache.known(this.service.hasPipeline ? this.service.pipeline : undefined);
  }

  /** The state as it is now, computed only when something changed since the last time. */
  private state(): SidebarState | undefined {
    const folder = this.service.folder;
    if (!folder) return undefined;
    if (!this.service.hasPipeline)
      return emptySidebarState({ workspaceName: folder.name, trusted: vscode.workspace.isTrusted });
    const pipeline = this.service.pipeline;
    return this.cache.get(pipeline, () =>
      sidebarState(pipeline, {
        workspaceName: this.service.folder!.name,
        trusted: vscode.workspace.isTrusted,
        ready: this.service.ready,
      }),
    );
  }

  /**
   * Posts the state as it is now; with `ifChanged`, only when it differs from what the page was given (a config
   * file saved again, or the database's own mirror files, change nothing the sidebar shows). A page VS Code
   * re-creates when the view shows again gets it in any case.
   */
  private update(ifChanged = false): void {
    const state = this.state();
    if (!this.view || !state) return;
    const same = isDeepStrictEqual(state, this.shown);
    this.shown = state;
    if (ifChanged && same) return;
    const message: HostMessage = { type: 'sidebar', state };
    void this.view.webview.postMessage(message);
  }
}
