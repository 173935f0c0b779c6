// What Undo restores: for each run judged in this window, the verdicts it had before each change made here (no
// vscode import, so it is tested on Node). Undo restores the previous verdict, not "no verdict".

import type { Verdict } from '../core/learning/runResult';

/** Changes remembered per run; older ones are forgotten. */
const DEPTH = 20;

export class VerdictHistory {
  private readonly before = new Map<string, (Verdict | null)[]>();

  /** Remembers `previous`, the verdict `runId` had before a change made here. */
  push(runId: string, previous: Verdict | null): void {
    const stack = this.before.get(runId) ?? [];
    stack.push(previous);
    if (stack.length > DEPTH) stack.shift();
    this.before.set(runId, stack);
  }

  /** The verdict Undo would restore, without taking it; undefined when there is nothing to undo. */
  peek(runId: string): { verdict: Verdict | null } | undefined {
    const stack = this.before.get(runId);
    return stack && stack.length > 0 ? { verdict: stack[stack.length - 1]! } : undefined;
  }

  /** Takes the verdict Undo restores. */
  pop(runId: string): { verdict: Verdict | null } | undefined {
    const stack = this.before.get(runId);
    if (!stack || stack.length === 0) return undefined;
    const verdict = stack.pop()!;
    if (stack.length === 0) this.before.delete(runId);
    return { verdict };
  }

  clear(): void {
    this.before.clear();
  }
}

/** Where verdicts go: the LearningPipeline's feedback methods. */
export interface FeedbackTarget {
  getRun(id: string): { human: Verdict | null } | undefined;
  recordFeedback(runId: string, verdict: Verdict): Promise<{ reward: number }>;
  clearFeedback(runId: string): Promise<{ reward: number }>;
}

/** Gives, clears and undoes verdicts, remembering each change so that Undo can restore what was there. */
export class VerdictDesk {
  readonly history = new VerdictHistory();

  constructor(private readonly target: () => FeedbackTarget) {}

  /** Sets the verdict (null clears it); the new reward. A change to the same verdict is no change to undo. */
  async set(runId: string, verdict: Verdict | null): Promise<{ reward: number; previous: Verdict | null }> {
    const target = this.target();
    const previous = target.getRun(runId)?.human ?? null;
    const { reward } = await apply(target, runId, verdict);
    if (previous !== verdict) this.history.push(runId, previous);
    return { reward, previous };
  }

  /** Restores the verdict before the last change made here; undefined when there was none. */
  async undo(runId: string): Promise<{ reward: number; verdict: Verdict | null } | undefined> {
    const last = this.history.pop(runId);
    if (!last) return undefined;
    const { reward } = await apply(this.target(), runId, last.verdict);
    return { reward, verdict: last.verdict };
  }
}

function apply(target: FeedbackTarget, runId: string, verdict: Verdict | null): Promise<{ reward: number }> {
  return verdict === null ? target.clearFeedback(runId) : target.recordFeedback(runId, verdict);
}
