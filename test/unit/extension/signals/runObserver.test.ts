import assert from 'node:assert/strict';
import type { SignalInput } from '../../../../src/core/learning/signals';
import { diagnosticSignals } from '../../../../src/extension/signals/diagnosticCounts';
import { insertedLines, keptShare } from '../../../../src/extension/signals/keptLines';
import {
  RunObserver,
  type ObservedFile,
  type ObserverSettings,
} from '../../../../src/extension/signals/runObserver';
import type { DiagnosticLike } from '../../../../src/extension/signals/diagnosticCounts';

/** A manual clock: timers run when `advance` passes their time, never by waiting. */
class Clock {
  now = 1_000_000;
  private timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  schedule = (fn: () => void, ms: number) => {
    const t = { at: this.now + ms, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  };
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.now = due.at;
      due.cancelled = true;
      due.fn();
    }
    this.now = end;
  }
}

const SETTINGS: ObserverSettings = {
  settleMs: 1000,
  runWindowMs: 30_000,
  keptAfterSec: [30, 120, 600],
  testTasks: [],
  buildTasks: [],
};

describe('editor signals', () => {
  let clock: Clock;
  let files: Map<string, string>;
  let diags: Map<string, DiagnosticLike[]>;
  let reports: [string, Required<SignalInput>][];
  let changes: [string, ObservedFile[]][];
  let observer: RunObserver;

  beforeEach(() => {
    clock = new Clock();
    files = new Map();
    diags = new Map();
    reports = [];
    changes = [];
    observer = new RunObserver(
      {
        now: () => clock.now,
        schedule: clock.schedule,
        readText: (f) => files.get(f),
        diagnostics: (f) => diags.get(f) ?? [],
        report: (runId, s) => reports.push([runId, s]),
        changed: (runId, observed) => changes.push([runId, observed]),
      },
      SETTINGS,
    );
  });

  afterEach(() => observer.dispose());

  /** What was reported, as [run, kind, value, source]. */
  const seen = () => reports.map(([id, s]) => [id, s.kind, s.value, s.source]);

  describe('pure parts', () => {
    it('counts the lines a change inserted, and how many of them are still there', () => {
      assert.deepEqual(insertedLines('a\nb\n', 'a\nb\nc\n  d\n\n'), ['c', 'd']);
      const changes = new Map([['f', { before: 'a\n', inserted: ['b', 'c'] }]]);
      assert.deepEqual(
        keptShare(changes, () => 'a\nb\n'),
        { share: 0.5, reverted: false },
      );
      assert.deepEqual(
        keptShare(changes, () => 'a\n'),
        { share: 0, reverted: true },
      );
      const created = new Map([['f', { before: undefined, inserted: ['x'] }]]);
      assert.deepEqual(
        keptShare(created, () => undefined),
        { share: 0, reverted: true },
        'a new file deleted',
      );
    });

    it('maps diagnostics by source: compiler errors are type errors, linter errors and warnings are lint', () => {
      assert.deepEqual(
        diagnosticSignals([
          { severity: 'error', source: 'ts' },
          { severity: 'warning', source: 'ts' },
          { severity: 'error', source: 'Pylance' },
          { severity: 'warning', source: 'eslint' },
          { severity: 'error', source: 'ESLint' },
          { severity: 'information', source: 'eslint' },
        ]),
        { 'errors.type': 2, 'errors.lint': 2 },
      );
    });
  });

  it("reports a named file's diagnostics once they settle, and again only when the counts change", () => {
    files.set('/w/a.ts', 'const a: number = 1;\n');
    observer.runRecorded('r1', ['/w/a.ts']);
    diags.set('/w/a.ts', [{ severity: 'error', source: 'ts' }]);
    observer.diagnosticsChanged(['/w/a.ts']);
    clock.advance(500);
    observer.diagnosticsChanged(['/w/a.ts']); // the burst goes on
    clock.advance(900);
    assert.deepEqual(seen(), [], 'not while the language server is still reporting');
    clock.advance(200);
    assert.deepEqual(seen(), [
      ['r1', 'errors.type', 1, 'editor:diagnostics'],
      ['r1', 'errors.lint', 0, 'editor:diagnostics'],
    ]);
    observer.diagnosticsChanged(['/w/a.ts']);
    clock.advance(2000);
    assert.equal(reports.length, 2, 'the same counts are not sent again');
    observer.diagnosticsChanged(['/w/other.ts']);
    clock.advance(2000);
    assert.equal(reports.length, 2, "another file's diagnostics are not this run's");
  });

  it('takes the files changed just before and after a gateway run as its change', () => {
    files.set('/w/before.ts', 'x\ny\n');
    observer.fileChanged('/w/before.ts', 'x\n');
    clock.advance(5000);
    observer.runRecorded('g1', []);
    files.set('/w/after.ts', 'new\n');
    observer.fileChanged('/w/after.ts', undefined);
    clock.advance(31_000);
    observer.fileChanged('/w/late.ts', 'old\n'); // outside the window
    diags.set('/w/late.ts', [{ severity: 'error', source: 'ts' }]);
    diags.set('/w/after.ts', [{ severity: 'warning', source: 'eslint' }]);
    observer.diagnosticsChanged(['/w/after.ts', '/w/late.ts']);
    clock.advance(1000);
    const latest = new Map(seen().map(([id, kind, value]) => [`${id} ${kind}`, value]));
    assert.equal(latest.get('g1 errors.lint'), 1, "after.ts's lint warning");
    assert.equal(latest.get('g1 errors.type'), 0, "late.ts's type error is not this run's");
  });

  it("hands over the run's files once its window closes: each one's text before the run and then", () => {
    files.set('/w/edited.ts', 'a\nb\n');
    observer.fileChanged('/w/edited.ts', 'a\n');
    observer.runRecorded('g1', []);
    files.set('/w/created.ts', 'new\n');
    observer.fileChanged('/w/created.ts', undefined, true);
    files.set('/w/edited.ts', 'a\nb\nc\n'); // the agent goes on writing: one burst, its "before" stays
    observer.fileChanged('/w/edited.ts', 'a\nb\n');
    clock.advance(29_999);
    assert.deepEqual(changes, [], 'not while the agent may still write');
    clock.advance(1);
    files.set('/w/edited.ts', 'a\nb\nc\nuser\n'); // the user's edit after the window is not the run's
    observer.fileChanged('/w/edited.ts', 'a\nb\nc\n');
    assert.deepEqual(changes, [
      [
        'g1',
        [
          { file: '/w/edited.ts', before: 'a\n', created: false, after: 'a\nb\nc\n' },
          { file: '/w/created.ts', before: undefined, created: true, after: 'new\n' },
        ],
      ],
    ]);
    clock.advance(600_000);
    assert.equal(changes.length, 1, 'taken once');
  });

  it("splits a file two runs of one window changed: each run's change holds only its own edit", () => {
    files.set('/w/a.ts', 'v1\n');
    observer.fileChanged('/w/a.ts', 'v0\n'); // run A's edit, then A is recorded
    observer.runRecorded('A', []);
    clock.advance(10_000);
    files.set('/w/a.ts', 'v2\n');
    observer.fileChanged('/w/a.ts', 'v1\n'); // run B's edit, then B is recorded
    observer.runRecorded('B', []);
    clock.advance(60_000);
    const of = (id: string) => changes.find(([runId]) => runId === id)![1];
    assert.deepEqual(of('A'), [{ file: '/w/a.ts', before: 'v0\n', created: false, after: 'v1\n' }]);
    assert.deepEqual(of('B'), [{ file: '/w/a.ts', before: 'v1\n', created: false, after: 'v2\n' }]);
  });

  it("keeps a named file's text before for a run recorded minutes after the edit (tests ran in between)", () => {
    files.set('/w/a.ts', 'one\ntwo\n');
    observer.fileChanged('/w/a.ts', 'one\n');
    clock.advance(4 * 60_000);
    observer.runRecorded('N', ['/w/a.ts']);
    clock.advance(30_000);
    assert.deepEqual(changes, [
      ['N', [{ file: '/w/a.ts', before: 'one\n', created: false, after: 'one\ntwo\n' }]],
    ]);
  });

  it('hands over a change still in its window when it is disposed (a reload, a settings change)', () => {
    files.set('/w/a.ts', 'b\n');
    observer.fileChanged('/w/a.ts', 'a\n');
    observer.runRecorded('r1', []);
    clock.advance(5_000);
    observer.dispose();
    assert.deepEqual(changes, [['r1', [{ file: '/w/a.ts', before: 'a\n', created: false, after: 'b\n' }]]]);
  });

  it('hands over no change for a run that changed no file', () => {
    observer.runRecorded('r0', []);
    clock.advance(600_000);
    assert.deepEqual(changes, []);
  });

  it('measures the share of the change kept at 30 s, 2 min and 10 min', () => {
    files.set('/w/a.ts', 'keep\nl1\nl2\nl3\nl4\n');
    observer.fileChanged('/w/a.ts', 'keep\n');
    observer.runRecorded('r1', ['/w/a.ts']);
    clock.advance(30_000);
    files.set('/w/a.ts', 'keep\nl1\nl2\nl3\n');
    clock.advance(90_000);
    files.set('/w/a.ts', 'keep\nl1\n');
    clock.advance(481_000);
    assert.deepEqual(
      seen().filter(([, k]) => k === 'kept'),
      [
        ['r1', 'kept', 1, 'editor:kept'],
        ['r1', 'kept', 0.75, 'editor:kept'],
        ['r1', 'kept', 0.25, 'editor:kept'],
      ],
    );
    assert.deepEqual(observer.observing, [], 'forgotten after the last checkpoint');
  });

  it('reports an implicit reject (kept 0) when the whole change is reverted, at once', () => {
    files.set('/w/a.ts', 'old\nnew\n');
    observer.fileChanged('/w/a.ts', 'old\n');
    observer.runRecorded('r1', []);
    clock.advance(3000);
    files.set('/w/a.ts', 'old\n');
    observer.fileChanged('/w/a.ts', 'old\nnew\n');
    assert.deepEqual(
      seen().filter(([, k]) => k === 'kept'),
      [['r1', 'kept', 0, 'editor:kept']],
    );
    clock.advance(600_000);
    assert.equal(seen().filter(([, k]) => k === 'kept').length, 1, 'no checkpoint after a revert');
  });

  it("keeps a reverted change's signals: the diagnostics and tasks that follow a revert are not about it", () => {
    // An agent's change with a type error, then the user reverts it: the error goes with the change, and a test task
    // run afterwards tests the user's code. Neither may raise the reward of the run whose change was thrown away.
    files.set('/w/a.ts', 'old\nconst n: number = "x";\n');
    observer.fileChanged('/w/a.ts', 'old\n');
    observer.runRecorded('g1', []);
    diags.set('/w/a.ts', [{ severity: 'error', source: 'ts' }]);
    observer.diagnosticsChanged(['/w/a.ts']);
    clock.advance(1000);
    files.set('/w/a.ts', 'old\n');
    observer.fileChanged('/w/a.ts', 'old\nconst n: number = "x";\n');
    diags.set('/w/a.ts', []);
    observer.diagnosticsChanged(['/w/a.ts']);
    clock.advance(2000);
    observer.taskEnded('npm: test', 'test', 0);
    assert.deepEqual(seen(), [
      ['g1', 'errors.type', 1, 'editor:diagnostics'],
      ['g1', 'errors.lint', 0, 'editor:diagnostics'],
      ['g1', 'kept', 0, 'editor:kept'],
    ]);
  });

  it('does not count diagnostics still settling when the change is reverted', () => {
    files.set('/w/a.ts', 'old\nnew\n');
    observer.fileChanged('/w/a.ts', 'old\n');
    observer.runRecorded('g1', []);
    clock.advance(500); // the language server has not answered yet
    files.set('/w/a.ts', 'old\n');
    observer.fileChanged('/w/a.ts', 'old\nnew\n');
    clock.advance(5000);
    assert.deepEqual(seen(), [['g1', 'kept', 0, 'editor:kept']]);
  });

  it("takes a test task's and a build task's exit codes as tests and compile, for the runs observed", () => {
    files.set('/w/a.ts', 'a\n');
    observer.runRecorded('r1', ['/w/a.ts']);
    observer.taskEnded('npm: test', 'test', 1);
    observer.taskEnded('npm: build', 'build', 0);
    observer.taskEnded('npm: watch', undefined, 0);
    observer.taskEnded('npm: test', 'test', undefined); // still running, or no process
    assert.deepEqual(
      seen().filter(([, , , s]) => s === 'editor:task'),
      [
        ['r1', 'tests', 0, 'editor:task'],
        ['r1', 'compile', 1, 'editor:task'],
      ],
    );
  });

  it('counts only the configured tasks when names are given', () => {
    observer.dispose();
    observer = new RunObserver(
      {
        now: () => clock.now,
        schedule: clock.schedule,
        readText: (f) => files.get(f),
        diagnostics: () => [],
        report: (runId, s) => reports.push([runId, s]),
        changed: () => undefined,
      },
      { ...SETTINGS, testTasks: ['unit'] },
    );
    files.set('/w/a.ts', 'a\n');
    observer.runRecorded('r1', ['/w/a.ts']);
    observer.taskEnded('e2e', 'test', 1);
    observer.taskEnded('unit', undefined, 0);
    assert.deepEqual(
      seen().filter(([, , , s]) => s === 'editor:task'),
      [['r1', 'tests', 1, 'editor:task']],
    );
  });
});
