// Runs a render at most once per interval however many changes arrive: an agent recording a burst of runs must
// not rebuild a view per run.

import type * as vscode from 'vscode';

export class Coalescer implements vscode.Disposable {
  private pending: NodeJS.Timeout | undefined;

  constructor(
    private readonly delayMs: number,
    private readonly run: () => void,
  ) {}

  schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.run();
    }, this.delayMs);
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
  }
}
