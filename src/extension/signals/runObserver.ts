// Which files belong to which run, and when each observed signal is due: the editor's events come in (a file
// changed, diagnostics changed, a task ended, a run was recorded), signals go out through `report`. No `vscode`
// here: the clock, the timers and what a file holds now come in through `ObserverPorts`, so tests drive it.

import type { SignalInput } from '../../core/learning/signals';
import { diagnosticSignals, type DiagnosticLike, type DiagnosticSignals } from './diagnosticCounts';
import { insertedLines, keptShare, type FileChange } from './keptLines';
import { Settler, type Schedule } from './settler';

export interface ObserverPorts {
  now(): number;
  schedule: Schedule;
  /** A file's text now (an open document's, else the disk's); undefined when it is gone. */
  readText(file: string): string | undefined;
  diagnostics(file: string): DiagnosticLike[];
  report(runId: string, signal: Required<SignalInput>): void;
}

export interface ObserverSettings {
  settleMs: number;
  runWindowMs: number;
  keptAfterSec: readonly number[];
  testTasks: readonly string[];
  buildTasks: readonly string[];
}

export const SOURCES = {
  diagnostics: 'editor:diagnostics',
  task: 'editor:task',
  kept: 'editor:kept',
} as const;

interface ObservedRun {
  runId: string;
  recordedAt: number;
  /** The run named its files: nothing else is adopted into it. */
  named: boolean;
  files: Map<string, FileChange>;
  settler: Settler;
  timers: { cancel(): void }[];
  reported: Map<string, number>;
  reverted: boolean;
}

export class RunObserver {
  private readonly runs = new Map<string, ObservedRun>();
  /** Per file, its text before the latest burst of changes and when that burst was last changed. */
  private readonly recent = new Map<string, { before: string | undefined; at: number }>();

  constructor(
    private readonly ports: ObserverPorts,
    private readonly settings: ObserverSettings,
  ) {}

  /** The runs being observed, for tests and the log. */
  get observing(): string[] {
    return [...this.runs.keys()];
  }

  /**
   * A run was recorded. With `files`, those are its change; without (a gateway run), the files that changed in the
   * last `runWindowMs` and those that change within `runWindowMs` from now are.
   */
  runRecorded(runId: string, files: readonly string[]): void {
    const now = this.ports.now();
    const run: ObservedRun = {
      runId,
      recordedAt: now,
      named: files.length > 0,
      files: new Map(),
      settler: new Settler(this.settings.settleMs, this.ports.schedule, () => this.countDiagnostics(run)),
      timers: [],
      reported: new Map(),
      reverted: false,
    };
    this.runs.set(runId, run);
    const adopt = run.named
      ? files
      : [...this.recent].filter(([, r]) => now - r.at <= this.settings.runWindowMs).map(([f]) => f);
    for (const file of adopt) this.adopt(run, file, this.recentBefore(file, now));
    const checkpoints = [...this.settings.keptAfterSec].sort((a, b) => a - b);
    for (const sec of checkpoints)
      run.timers.push(this.ports.schedule(() => this.measureKept(run), sec * 1000));
    // Observed until the last checkpoint (or one window, without any), then forgotten.
    const life =
      Math.max(this.settings.runWindowMs, (checkpoints.at(-1) ?? 0) * 1000) + this.settings.settleMs;
    run.timers.push(this.ports.schedule(() => this.forget(run), life));
  }

  /** A file changed; `before` is its text before this change when the editor knew it. */
  fileChanged(file: string, before: string | undefined): void {
    const now = this.ports.now();
    const last = this.recent.get(file);
    if (!last || now - last.at > this.settings.runWindowMs) this.recent.set(file, { before, at: now });
    else last.at = now;
    for (const run of this.runs.values()) {
      if (run.files.has(file)) {
        this.refreshChange(run, file);
        this.checkRevert(run);
      }
    }
    const taker = this.latestOpenRun(now);
    if (taker && !taker.files.has(file)) this.adopt(taker, file, this.recentBefore(file, now));
  }

  diagnosticsChanged(files: readonly string[]): void {
    for (const run of this.runs.values()) {
      if (!run.reverted && files.some((f) => run.files.has(f))) run.settler.poke();
    }
  }

  /**
   * A task ended: a test or build task's exit code is the `tests` or `compile` signal of the runs observed now (not
   * of a reverted one: the task ran on code without its change).
   */
  taskEnded(name: string, group: 'test' | 'build' | undefined, exitCode: number | undefined): void {
    if (exitCode === undefined) return;
    const { testTasks, buildTasks } = this.settings;
    const kind = (testTasks.length > 0 ? testTasks.includes(name) : group === 'test')
      ? 'tests'
      : (buildTasks.length > 0 ? buildTasks.includes(name) : group === 'build')
        ? 'compile'
        : undefined;
    if (!kind) return;
    for (const run of this.runs.values()) {
      if (run.files.size > 0 && !run.reverted)
        this.report(run, kind, exitCode === 0 ? 1 : 0, SOURCES.task, true);
    }
  }

  dispose(): void {
    for (const run of [...this.runs.values()]) this.forget(run);
    this.recent.clear();
  }

  // ---- internals ----

  private latestOpenRun(now: number): ObservedRun | undefined {
    let latest: ObservedRun | undefined;
    for (const run of this.runs.values()) {
      if (run.named || run.reverted || now - run.recordedAt > this.settings.runWindowMs) continue;
      if (!latest || run.recordedAt >= latest.recordedAt) latest = run;
    }
    return latest;
  }

  private recentBefore(file: string, now: number): string | undefined {
    const r = this.recent.get(file);
    return r && now - r.at <= this.settings.runWindowMs ? r.before : undefined;
  }

  private adopt(run: ObservedRun, file: string, before: string | undefined): void {
    run.files.set(file, { before, inserted: [] });
    this.refreshChange(run, file);
    run.settler.poke(); // diagnostics may be there already, or on their way
  }

  /** While the run's window is open, the agent may still be writing: its change is the file as it is now. */
  private refreshChange(run: ObservedRun, file: string): void {
    const change = run.files.get(file);
    if (!change || this.ports.now() - run.recordedAt > this.settings.runWindowMs) return;
    const text = this.ports.readText(file);
    if (text !== undefined && text !== change.before) change.inserted = insertedLines(change.before, text);
  }

  private checkRevert(run: ObservedRun): void {
    if (run.reverted || this.ports.now() - run.recordedAt <= 0) return;
    const kept = keptShare(run.files, (f) => this.ports.readText(f));
    if (kept?.reverted) this.markReverted(run);
  }

  /**
   * The whole change is gone: kept 0, and its other signals stay as they were. The diagnostics of the text without
   * the change (its errors gone with it) and the tasks run on it are not the change's; counting them would raise the
   * reward of a change the user threw away.
   */
  private markReverted(run: ObservedRun): void {
    run.reverted = true;
    run.settler.dispose();
    this.report(run, 'kept', 0, SOURCES.kept, true);
  }

  private measureKept(run: ObservedRun): void {
    if (run.reverted) return;
    const kept = keptShare(run.files, (f) => this.ports.readText(f));
    if (!kept) return;
    if (kept.reverted) this.markReverted(run);
    else this.report(run, 'kept', Math.round(kept.share * 1000) / 1000, SOURCES.kept, true);
  }

  private countDiagnostics(run: ObservedRun): void {
    const all: DiagnosticLike[] = [];
    for (const file of run.files.keys()) all.push(...this.ports.diagnostics(file));
    const counts: DiagnosticSignals = diagnosticSignals(all);
    this.report(run, 'errors.type', counts['errors.type'], SOURCES.diagnostics, false);
    this.report(run, 'errors.lint', counts['errors.lint'], SOURCES.diagnostics, false);
  }

  /** `always`: report even when unchanged (a task run again, a later checkpoint is news); else only changes. */
  private report(
    run: ObservedRun,
    kind: Required<SignalInput>['kind'],
    value: number,
    source: string,
    always: boolean,
  ): void {
    if (!always && run.reported.get(kind) === value) return;
    run.reported.set(kind, value);
    this.ports.report(run.runId, { kind, value, source, at: this.ports.now() });
  }

  private forget(run: ObservedRun): void {
    run.settler.dispose();
    for (const t of run.timers) t.cancel();
    this.runs.delete(run.runId);
  }
}
