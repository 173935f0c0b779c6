// The editor's side of observed signals: turns VS Code's events (documents changed, diagnostics, tasks ended, a run
// recorded) into RunObserver calls, and its reports into `recordSignal`. The logic lives in ./signals/.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describe } from '../core/errors';
import { EDITOR_SIGNALS_IGNORE, type LearningConfig } from '../core/workspace/config';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';
import type { DiagnosticLike, Severity } from './signals/diagnosticCounts';
import { RunObserver } from './signals/runObserver';
import { ignoreMatcher } from './signals/ignoredFiles';
import { runChangeOf } from './signals/runChangeDiff';

/** Files larger than this are not read to measure what was kept (a generated bundle is no agent's change). */
const MAX_TEXT_BYTES = 2 * 1024 * 1024;
/** Folders whose files are never a run's change: ours, the VCS's and dependencies. */
const IGNORED = /(^|[\\/])(\.agent|\.git|node_modules)([\\/]|$)/;

const SEVERITIES: Record<vscode.DiagnosticSeverity, Severity> = {
  [vscode.DiagnosticSeverity.Error]: 'error',
  [vscode.DiagnosticSeverity.Warning]: 'warning',
  [vscode.DiagnosticSeverity.Information]: 'information',
  [vscode.DiagnosticSeverity.Hint]: 'hint',
};

export class EditorSignals extends Disposable {
  private observer: RunObserver | undefined;
  private settingsKey = '';
  private ignoreKey = '';
  private ignoreMatch: (relativePath: string) => boolean = () => false;
  /** The last text seen of each open document: the "before" of its next change. */
  private readonly texts = new Map<string, string>();

  constructor(
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
  ) {
    super();
    for (const doc of vscode.workspace.textDocuments) this.remember(doc);
    this._register(
      service.onDidRecordRun((run) => run.recorded !== false && this.runRecorded(run.id, run.files)),
    );
    this._register(vscode.workspace.onDidOpenTextDocument((doc) => this.remember(doc)));
    this._register(vscode.workspace.onDidCloseTextDocument((doc) => this.texts.delete(doc.uri.fsPath)));
    this._register(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length === 0) return;
        const file = this.inWorkspace(e.document.uri);
        if (!file) return;
        const before = this.texts.get(file);
        this.remember(e.document);
        this.observerFor()?.fileChanged(file, before);
      }),
    );
    // Agents that write files directly (not through an editor) show up here; an open document also gets a change.
    const watcher = this._register(vscode.workspace.createFileSystemWatcher('**/*'));
    const onDisk = (uri: vscode.Uri, created = false) => {
      const file = this.inWorkspace(uri);
      if (file && !this.texts.has(file)) this.observerFor()?.fileChanged(file, undefined, created);
    };
    this._register(watcher.onDidChange((uri) => onDisk(uri)));
    this._register(watcher.onDidCreate((uri) => onDisk(uri, true)));
    this._register(watcher.onDidDelete((uri) => onDisk(uri)));
    this._register(
      vscode.languages.onDidChangeDiagnostics((e) =>
        this.observer?.diagnosticsChanged(e.uris.filter((u) => u.scheme === 'file').map((u) => u.fsPath)),
      ),
    );
    this._register(
      vscode.tasks.onDidEndTaskProcess((e) => {
        const task = e.execution.task;
        const group =
          task.group?.id === vscode.TaskGroup.Test.id
            ? 'test'
            : task.group?.id === vscode.TaskGroup.Build.id
              ? 'build'
              : undefined;
        this.observer?.taskEnded(task.name, group, e.exitCode);
      }),
    );
    this._register({ dispose: () => this.observer?.dispose() });
  }

  private runRecorded(runId: string, files: readonly string[]): void {
    const observer = this.observerFor();
    if (!observer || !runId) return;
    const folder = this.service.folder!.uri.fsPath;
    const resolved = files
      .map((f) => path.resolve(folder, f))
      .filter((f) => this.inWorkspace(vscode.Uri.file(f)) !== undefined);
    observer.runRecorded(runId, resolved);
    this.output.appendLine(
      `📡 Observing run ${runId}: ${resolved.length > 0 ? `${resolved.length} named file(s)` : 'files changed around it'}`,
    );
  }

  /** The observer under today's `editorSignals` settings (a new one when they changed); none when switched off. */
  private observerFor(): RunObserver | undefined {
    if (!this.service.hasPipeline) return undefined;
    const settings: LearningConfig['editorSignals'] = this.service.pipeline.getConfig().config.editorSignals;
    const key = JSON.stringify(settings);
    if (key !== this.settingsKey) {
      this.observer?.dispose();
      this.observer = undefined;
      this.settingsKey = key;
    }
    if (!settings.enabled) return undefined;
    this.observer ??= new RunObserver(
      {
        now: Date.now,
        schedule: (fn, ms) => {
          const timer = setTimeout(fn, ms);
          return { cancel: () => clearTimeout(timer) };
        },
        readText: (file) => this.readText(file),
        diagnostics: (file) => diagnosticsOf(file),
        report: (runId, signal) => {
          if (!this.service.hasPipeline) return;
          this.service.pipeline
            .recordSignal(runId, signal)
            .catch((err) => this.output.appendLine(`⚠️ Signal for run ${runId} not kept: ${describe(err)}`));
        },
        changed: (runId, files) => {
          const folder = this.service.folder?.uri.fsPath;
          if (!this.service.hasPipeline || !folder) return;
          const relative = files.map((f) => ({
            ...f,
            path: path.relative(folder, f.file).split(path.sep).join('/'),
          }));
          runChangeOf(relative, Date.now())
            .then((change) =>
              change && this.service.hasPipeline
                ? this.service.pipeline.recordChange(runId, change)
                : undefined,
            )
            .catch((err) => this.output.appendLine(`⚠️ Change of run ${runId} not kept: ${describe(err)}`));
        },
      },
      settings,
    );
    return this.observer;
  }

  private remember(doc: vscode.TextDocument): void {
    const file = this.inWorkspace(doc.uri);
    if (file) this.texts.set(file, doc.getText());
  }

  /**
   * What the file holds now: an open document's text (unsaved edits included), else the disk's. Undefined when it is
   * gone from disk (an open document of a deleted file still has its text), is not a regular file (never read
   * through a link), or is too big to be anyone's change.
   */
  private readText(file: string): string | undefined {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch {
      return undefined;
    }
    const open = this.texts.get(file);
    if (open !== undefined) return open;
    if (!st.isFile() || st.size > MAX_TEXT_BYTES) return undefined;
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  }

  /** The file's path when it is a file of the current folder that can be an agent's change. */
  private inWorkspace(uri: vscode.Uri): string | undefined {
    const folder = this.service.folder?.uri.fsPath;
    if (uri.scheme !== 'file' || !folder) return undefined;
    const rel = path.relative(folder, uri.fsPath);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || IGNORED.test(rel)) return undefined;
    if (this.ignored(rel)) return undefined;
    return uri.fsPath;
  }

  /** `editorSignals.ignore` as it is now (the defaults until the store is open). */
  private ignored(relativePath: string): boolean {
    const globs = this.service.hasPipeline
      ? this.service.pipeline.getConfig().config.editorSignals.ignore
      : EDITOR_SIGNALS_IGNORE;
    const key = JSON.stringify(globs);
    if (key !== this.ignoreKey) {
      this.ignoreKey = key;
      this.ignoreMatch = ignoreMatcher(globs);
    }
    return this.ignoreMatch(relativePath);
  }
}

function diagnosticsOf(file: string): DiagnosticLike[] {
  return vscode.languages
    .getDiagnostics(vscode.Uri.file(file))
    .map((d) => ({ severity: SEVERITIES[d.severity], source: d.source }));
}
