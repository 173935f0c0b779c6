// The review queue: a native tree view (keyboard navigation and type-to-filter come with it) of the runs to
// review, paged by "Load more", with filter commands in its title; Enter or a click opens the run view.

import * as vscode from 'vscode';
import type { RecentRun } from '../core/store/store';
import { Coalescer } from './coalescer';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';
import type { ReviewQueueModel } from './reviewQueueModel';

export const REVIEW_QUEUE_VIEW_ID = 'agentLearning.reviewQueue';
export const OPEN_RUN_COMMAND = 'agentLearning.openRun';
export const LOAD_MORE_COMMAND = 'agentLearning.queue.loadMore';

type QueueItem = { kind: 'run'; run: RecentRun } | { kind: 'more' };

export class ReviewQueue extends Disposable implements vscode.TreeDataProvider<QueueItem> {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;
  /** Bursts of runs refresh the list once. */
  private readonly refreshes = this._register(new Coalescer(300, () => this.refresh()));
  readonly view: vscode.TreeView<QueueItem>;

  constructor(
    private readonly service: LearningService,
    readonly model: ReviewQueueModel,
  ) {
    super();
    this.view = this._register(
      vscode.window.createTreeView(REVIEW_QUEUE_VIEW_ID, { treeDataProvider: this, showCollapseAll: false }),
    );
    this.view.description = model.describe();
    this._register(service.onDidChange(() => this.view.visible && this.refreshes.schedule()));
    this._register(this.view.onDidChangeVisibility(() => this.view.visible && this.refresh()));
  }

  /** Reads the queue again from the store (its first pages, as many as were loaded). */
  refresh(): void {
    if (this.service.hasPipeline && this.service.ready) this.model.reload();
    this.view.description = this.model.describe();
    this.changed.fire();
  }

  loadMore(): void {
    if (this.model.loadMore()) this.changed.fire();
  }

  getChildren(parent?: QueueItem): QueueItem[] {
    if (parent || !this.service.hasPipeline || !this.service.ready) return [];
    const items: QueueItem[] = this.model.runs.map((run) => ({ kind: 'run', run }));
    if (this.model.hasMore) items.push({ kind: 'more' });
    this.view.message =
      items.length === 0 ? 'No runs match: every run has a verdict, or the filter leaves none.' : undefined;
    return items;
  }

  getTreeItem(item: QueueItem): vscode.TreeItem {
    if (item.kind === 'more') {
      const more = new vscode.TreeItem('Load more…');
      more.iconPath = new vscode.ThemeIcon('ellipsis');
      more.command = { command: LOAD_MORE_COMMAND, title: 'Load more' };
      return more;
    }
    const run = item.run;
    // Labels and tooltips are plain text in a tree (no markdown): run data cannot become markup here.
    const element = new vscode.TreeItem(run.taskSlug.slice(0, 200));
    element.id = run.id;
    element.description = `${run.reward.toFixed(2)} · ${run.role} · ${run.modelId.slice(0, 80)} · ${age(run.createdAt)}`;
    element.tooltip = `${run.taskSlug.slice(0, 500)}\nReward ${run.reward.toFixed(2)} · ${run.role} · ${run.modelId.slice(0, 200)} · prompt ${run.promptId.slice(0, 200)}\n${new Date(run.createdAt).toLocaleString()}${run.human ? `\nVerdict: ${run.human}` : ''}`;
    element.iconPath = new vscode.ThemeIcon(
      run.human === 'accept' ? 'thumbsup' : run.human === 'reject' ? 'thumbsdown' : 'circle-outline',
    );
    element.contextValue = 'run';
    element.accessibilityInformation = {
      label: `${run.taskSlug.slice(0, 100)}, reward ${run.reward.toFixed(2)}, ${run.role}, ${run.modelId.slice(0, 60)}`,
    };
    element.command = { command: OPEN_RUN_COMMAND, title: 'Open Run', arguments: [run.id] };
    return element;
  }
}

function age(at: number): string {
  const minutes = Math.max(0, Math.floor((Date.now() - at) / 60_000));
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(at).toLocaleDateString();
}
