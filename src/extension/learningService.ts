// Owns the LearningPipeline of the chosen workspace folder: opens it off the activation path, reloads config
// files when they change, switches folders, and tells the views when anything changed.

import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { LearningError } from '../core/errors';
import { LearningPipeline, type RecordedRunEvent } from '../core/pipeline';
import { agentDirOf, CONFIG_FILES_GLOB } from '../core/workspace/agentDir';
import { Disposable, disposeAll } from './dispose';

const FOLDER_KEY = 'agentLearning.folder';

export class LearningService extends Disposable {
  private current: { folder: vscode.WorkspaceFolder; pipeline: LearningPipeline; ready: boolean } | undefined;
  /** What lives as long as the current folder's pipeline. */
  private readonly perPipeline: vscode.Disposable[] = [];
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  private readonly recorded = this._register(new vscode.EventEmitter<RecordedRunEvent>());

  /** Any change: data from any source, config, readiness, the folder. */
  readonly onDidChange = this.changed.event;
  readonly onDidRecordRun = this.recorded.event;

  constructor(
    private readonly output: vscode.OutputChannel,
    private readonly memento: vscode.Memento,
  ) {
    super();
    // First of all on dispose (registered last): the pipeline closes while its events can still be told.
    this._register({ dispose: () => void this.close() });
  }

  get folder(): vscode.WorkspaceFolder | undefined {
    return this.current?.folder;
  }

  get ready(): boolean {
    return this.current?.ready ?? false;
  }

  /** The pipeline, or an error that says why there is none. */
  get pipeline(): LearningPipeline {
    if (!this.current)
      throw new LearningError('Open a folder first: Agent Learning keeps its data in <folder>/.agent/.');
    return this.current.pipeline;
  }

  get hasPipeline(): boolean {
    return this.current !== undefined;
  }

  /** Starts on the remembered folder, else the first with `.agent/`, else the first folder. */
  start(): void {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const remembered = this.memento.get<string>(FOLDER_KEY);
    const folder = folders.find((f) => f.uri.toString() === remembered) ?? pickFolder(folders);
    if (folder) this.open(folder);
  }

  /** For changes the service cannot see itself (workspace trust granted). */
  notifyChanged(): void {
    this.changed.fire();
  }

  async switchTo(folder: vscode.WorkspaceFolder): Promise<void> {
    if (this.current?.folder.uri.toString() === folder.uri.toString()) return;
    await this.close();
    await this.memento.update(FOLDER_KEY, folder.uri.toString());
    this.open(folder);
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    disposeAll(this.perPipeline);
    await current?.pipeline.close();
  }

  private open(folder: vscode.WorkspaceFolder): void {
    const pipeline = new LearningPipeline(folder.uri.fsPath, {
      log: (line) => this.output.appendLine(line),
      // Restricted Mode: records runs, but writes through no link in .agent/ that leads out of the workspace.
      trusted: () => vscode.workspace.isTrusted,
    });
    const entry = { folder, pipeline, ready: false };
    this.current = entry;
    this.output.appendLine(`Agent Learning: using ${folder.uri.fsPath}/.agent`);
    pipeline.whenReady().then(
      () => {
        entry.ready = true;
        this.changed.fire();
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        this.output.appendLine(`❌ ${message}`);
        void vscode.window.showErrorMessage(`Agent Learning: ${message}`);
      },
    );
    const pattern = new vscode.RelativePattern(folder, CONFIG_FILES_GLOB);
    const watcher = vscode.workspace.createFileSystemWatcher(pattern);
    // The pipeline's own mirror writes (when the database opens, then every few seconds) reach the watcher too:
    // only a real edit reloads, and the pipeline's onDidChange then tells the views.
    const reload = () => void pipeline.reloadConfigIfChanged();
    this.perPipeline.push(
      watcher,
      watcher.onDidChange(reload),
      watcher.onDidCreate(reload),
      watcher.onDidDelete(reload),
      toVsDisposable(pipeline.onDidChange(() => this.changed.fire())),
      toVsDisposable(pipeline.onDidRecordRun((r) => this.recorded.fire(r))),
      toVsDisposable(
        pipeline.onProblem(
          (problem) => void vscode.window.showWarningMessage(`Agent Learning: ${problem.message}`),
        ),
      ),
    );
    this.changed.fire();
  }
}

export function pickFolder(folders: readonly vscode.WorkspaceFolder[]): vscode.WorkspaceFolder | undefined {
  return folders.find((f) => fs.existsSync(agentDirOf(f.uri.fsPath))) ?? folders[0];
}

function toVsDisposable(d: { dispose(): void }): vscode.Disposable {
  return new vscode.Disposable(() => d.dispose());
}
