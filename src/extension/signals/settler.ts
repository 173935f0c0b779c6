// Waits until something stops changing: each poke restarts the wait, and `settled` runs once it has been quiet
// for `delayMs`. Language servers report diagnostics in bursts; a count taken mid-burst would be noise.

/** A timer the caller provides (tests: a manual clock). */
export type Schedule = (fn: () => void, ms: number) => { cancel(): void };

export class Settler {
  private pending: { cancel(): void } | undefined;

  constructor(
    private readonly delayMs: number,
    private readonly schedule: Schedule,
    private readonly settled: () => void,
  ) {}

  poke(): void {
    this.pending?.cancel();
    this.pending = this.schedule(() => {
      this.pending = undefined;
      this.settled();
    }, this.delayMs);
  }

  get waiting(): boolean {
    return this.pending !== undefined;
  }

  dispose(): void {
    this.pending?.cancel();
    this.pending = undefined;
  }
}
