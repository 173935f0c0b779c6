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
  /** The run's files once its window closed: what each held before and holds now (for the change's diff). */
  changed(runId: string, files: ObservedFile[]): void;
}

export interface ObservedFile {
  file: string;
  before: string | undefined;
  created: boolean;
  after: string | undefined;
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

/** A file's latest burst of changes: the text before it, and each change in it (when, and the text before it). */
interface RecentFile {
  before: string | undefined;
  created: boolean;
  at: number;
  changes: { at: number; before: string | undefined }[];
}

/** Changes of one burst kept to tell overlapping runs' edits apart (an agent writes a file a few times a run). */
const MAX_BURST_CHANGES = 64;
/**
 * How long a file's text before its latest burst is kept for a run that names the file: an agent may edit, run its
 * tests for a while, and record the run only then.
 */
const NAMED_LOOKBACK_MS = 10 * 60_000;

interface ObservedRun {
  runId: string;
  recordedAt: number;
  /** Its change was handed over (once its window closed, or when the observer was disposed). */
  changeTaken: boolean;
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
  private readonly recent = new Map<string, RecentFile>();

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
      changeTaken: false,
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
    for (const file of adopt) this.adopt(run, file, now);
    // The change is what the files hold once the agent had its window to write them.
    run.timers.push(this.ports.schedule(() => this.takeChange(run), this.settings.runWindowMs));
    const checkpoints = [...this.settings.keptAfterSec].sort((a, b) => a - b);
    for (const sec of checkpoints)
      run.timers.push(this.ports.schedule(() => this.measureKept(run), sec * 1000));
    // Observed until the last checkpoint (or one window, without any), then forgotten.
    const life =
      Math.max(this.settings.runWindowMs, (checkpoints.at(-1) ?? 0) * 1000) + this.settings.settleMs;
    run.timers.push(this.ports.schedule(() => this.forget(run), life));
  }

  /**
   * A file changed; `before` is its text before this change when the editor knew it, `created`: it did not exist
   * before.
   */
  fileChanged(file: string, before: string | undefined, created = false): void {
    const now = this.ports.now();
    const last = this.recent.get(file);
    if (!last || now - last.at > this.settings.runWindowMs) {
      this.recent.set(file, { before, created, at: now, changes: [{ at: now, before }] });
    } else {
      last.at = now;
      last.changes.push({ at: now, before });
      if (last.changes.length > MAX_BURST_CHANGES) last.changes.shift();
    }
    for (const run of this.runs.values()) {
      if (run.files.has(file)) {
        this.refreshChange(run, file);
        this.checkRevert(run);
      }
    }
    const taker = this.latestOpenRun(now);
    if (taker && !taker.files.has(file)) this.adopt(taker, file, now);
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

  /** Forgets every run; one whose window is still open hands over its change as it is now rather than losing it. */
  dispose(): void {
    for (const run of [...this.runs.values()]) {
      if (!run.changeTaken) this.takeChange(run);
      this.forget(run);
    }
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

  /** The file's text before its latest burst of changes, if that burst is recent (for a named file: recent enough). */
  private recentBefore(
    file: string,
    now: number,
    named: boolean,
  ): { before: string | undefined; created: boolean } {
    const r = this.recent.get(file);
    const horizon = named
      ? Math.max(this.settings.runWindowMs, NAMED_LOOKBACK_MS)
      : this.settings.runWindowMs;
    return r && now - r.at <= horizon
      ? { before: r.before, created: r.created }
      : { before: undefined, created: false };
  }

  /**
   * Takes the file into the run's change. When an earlier run still holds it (two runs within one window), this run's
   * change starts where the earlier run's ends: at the first change made after the earlier run was recorded, and the
   * earlier run's "after" is frozen there, so that neither shows the other's edits.
   */
  private adopt(run: ObservedRun, file: string, now: number): void {
    const holder = this.earlierHolder(run, file);
    if (holder) {
      const next = this.recent.get(file)?.changes.find((c) => c.at > holder.recordedAt);
      const before = next ? next.before : this.ports.readText(file);
      const held = holder.files.get(file)!;
      held.frozen ??= { after: before };
      run.files.set(file, { before, created: false, inserted: [] });
    } else {
      run.files.set(file, { ...this.recentBefore(file, now, run.named), inserted: [] });
    }
    this.refreshChange(run, file);
    run.settler.poke(); // diagnostics may be there already, or on their way
  }

  /** The latest other run recorded no later than `run` that holds `file`. */
  private earlierHolder(run: ObservedRun, file: string): ObservedRun | undefined {
    let holder: ObservedRun | undefined;
    for (const other of this.runs.values()) {
      if (other === run || !other.files.has(file) || other.recordedAt > run.recordedAt) continue;
      if (!holder || other.recordedAt >= holder.recordedAt) holder = other;
    }
    return holder;
  }

  /** While the run's window is open, the agent may still be writing: its change is the file as it is now. */
  private refreshChange(run: ObservedRun, file: string): void {
    const change = run.files.get(file);
    if (!change || change.frozen || this.ports.now() - run.recordedAt > this.settings.runWindowMs) return;
    const text = this.ports.readText(file);
    if (text !== undefined && text !== change.before) change.inserted = insertedLines(change.before, text);
  }

  private takeChange(run: ObservedRun): void {
    run.changeTaken = true;
    if (run.files.size === 0) return;
    this.ports.changed(
      run.runId,
      [...run.files].map(([file, change]) => ({
        file,
        before: change.before,
        created: change.created ?? false,
        after: change.frozen ? change.frozen.after : this.ports.readText(file),
      })),
    );
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
