// The review queue's data, apart from its tree view (no vscode import, so it is tested on Node): which runs are
// loaded for the current filter and order, loading the next page, and a run's neighbours for Next / Previous.

import type { RecentRun, RunCursor, RunFilter, RunOrder, RunPage } from '../core/store/store';

/** A page of the queue: what the tree shows at first and adds on "Load more". */
export const QUEUE_PAGE_SIZE = 100;

/** Where the queue's pages come from: LearningPipeline.listRuns. */
export type RunLister = (
  filter: RunFilter,
  options: { order: RunOrder; limit: number; after?: RunCursor },
) => RunPage;

export class ReviewQueueModel {
  private loaded: RecentRun[] = [];
  private next: RunCursor | undefined;
  private started = false;
  /** Runs without a verdict, newest first: the queue of runs to review. */
  filter: RunFilter = { verdict: 'none' };
  order: RunOrder = 'newest';

  constructor(private readonly list: RunLister) {}

  get runs(): readonly RecentRun[] {
    if (!this.started) this.reload();
    return this.loaded;
  }

  get hasMore(): boolean {
    return this.next !== undefined;
  }

  /** Reads the first page again (after a change, or a new filter), keeping as many runs loaded as before. */
  reload(): void {
    const keep = Math.max(QUEUE_PAGE_SIZE, this.loaded.length);
    this.started = true;
    this.loaded = [];
    this.next = undefined;
    let cursor: RunCursor | undefined;
    do {
      const page = this.list(this.filter, {
        order: this.order,
        limit: Math.min(QUEUE_PAGE_SIZE, keep - this.loaded.length),
        after: cursor,
      });
      this.loaded.push(...page.runs);
      cursor = page.next;
    } while (cursor && this.loaded.length < keep);
    this.next = cursor;
  }

  loadMore(): boolean {
    if (!this.started) this.reload();
    if (!this.next) return false;
    const page = this.list(this.filter, { order: this.order, limit: QUEUE_PAGE_SIZE, after: this.next });
    this.loaded.push(...page.runs);
    this.next = page.next;
    return page.runs.length > 0;
  }

  /**
   * The run after (or before) `runId` in the queue; loads the next page when `runId` is the last loaded. A run no
   * longer in the queue (judged, so filtered out) is looked up by where it was: `lastIndex`, when given.
   */
  neighbour(
    runId: string | undefined,
    direction: 'next' | 'previous',
    lastIndex?: number,
  ): RecentRun | undefined {
    const runs = this.runs;
    let index = runId === undefined ? -1 : runs.findIndex((r) => r.id === runId);
    if (index === -1) {
      // The run left the queue (its verdict filtered it out): its old place now holds the run after it.
      if (lastIndex === undefined) return direction === 'next' ? runs[0] : undefined;
      index = direction === 'next' ? lastIndex - 1 : lastIndex;
    }
    const target = index + (direction === 'next' ? 1 : -1);
    if (target < 0) return undefined;
    if (target >= this.loaded.length && this.hasMore) this.loadMore();
    return this.loaded[target];
  }

  indexOf(runId: string): number | undefined {
    const index = this.loaded.findIndex((r) => r.id === runId);
    return index === -1 ? undefined : index;
  }

  /** The filter and order in words, for the view's description: "no verdict · coder · newest first". */
  describe(): string {
    const f = this.filter;
    const parts: string[] = [];
    if (f.verdict !== undefined) parts.push(f.verdict === 'none' ? 'no verdict' : `${f.verdict}ed`);
    if (f.role !== undefined) parts.push(`role ${f.role}`);
    if (f.model !== undefined) parts.push(`model ${f.model}`);
    if (f.prompt !== undefined) parts.push(`prompt ${f.prompt}`);
    if (f.minReward !== undefined || f.maxReward !== undefined)
      parts.push(`reward ${(f.minReward ?? 0).toFixed(2)}–${(f.maxReward ?? 1).toFixed(2)}`);
    parts.push(this.order === 'newest' ? 'newest first' : 'least certain first');
    return parts.join(' · ');
  }
}
