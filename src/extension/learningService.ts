// Owns the LearningPipeline of the chosen workspace folder: opens it off the activation path (and only once its
// `.agent/` exists or something is written), reloads config files when they change, switches folders, and tells the
// views when anything changed.

import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { ConfigError, LearningError } from '../core/errors';
import { LearningPipeline, type RecordedRunEvent } from '../core/pipeline';
import { AGENT_DIR, agentDirOf, CONFIG_FILES_GLOB } from '../core/workspace/agentDir';
import { configProblems, notifyProblem } from './configProblems';
import { Disposable, disposeAll } from './dispose';
import { LazyPipeline, type AgentDirOrigin } from './lazyPipeline';

const FOLDER_KEY = 'agentLearning.folder';

export class LearningService extends Disposable {
  private current: { folder: vscode.WorkspaceFolder; lazy: LazyPipeline; ready: boolean } | undefined;
  /** What lives as long as the current folder. */
  private readonly perFolder: vscode.Disposable[] = [];
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  private readonly recorded = this._register(new vscode.EventEmitter<RecordedRunEvent>());
  private readonly external = this._register(new vscode.EventEmitter<{ runs: number }>());
  private readonly created = this._register(
    new vscode.EventEmitter<{ folder: vscode.WorkspaceFolder; origin: AgentDirOrigin }>(),
  );

  /** Any change: data from any source, config, readiness, the folder. */
  readonly onDidChange = this.changed.event;
  readonly onDidRecordRun = this.recorded.event;
  /** Runs other processes (the CLI, an agent's inbox file) wrote, once ingested. */
  readonly onDidIngestRuns = this.external.event;
  /** `.agent/` was created in the current folder (by a write through the extension, or from outside). */
  readonly onDidCreateAgentDir = this.created.event;
  /** The current folder's invalid config files, in the Problems view and as squiggles. */
  private readonly configDiagnostics = this._register(
    vscode.languages.createDiagnosticCollection('agent-learning'),
  );

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

  /**
   * The open pipeline, or an error that says why there is none. Readers check `hasPipeline` first: a folder
   * without `.agent/` has none until something is written (`openPipeline`).
   */
  get pipeline(): LearningPipeline {
    if (!this.current)
      throw new LearningError('Open a folder first: Agent Learning keeps its data in <folder>/.agent/.');
    const pipeline = this.current.lazy.pipeline;
    if (!pipeline) throw new LearningError(`No runs recorded in ${this.current.folder.name} yet.`);
    return pipeline;
  }

  get hasPipeline(): boolean {
    return this.current?.lazy.pipeline !== undefined;
  }

  /**
   * For a write (a run, a verdict, an export, the config, the gateway): the pipeline, opened now if need be, which
   * creates `.agent/` in a folder that has none (and `onDidCreateAgentDir` then says so).
   */
  openPipeline(): LearningPipeline {
    if (!this.current)
      throw new LearningError('Open a folder first: Agent Learning keeps its data in <folder>/.agent/.');
    return this.current.lazy.openForWrite();
  }

  /** Starts on the remembered folder, else the first with `.agent/`, else the first folder. */
  start(): void {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const remembered = this.memento.get<string>(FOLDER_KEY);
    const folder = folders.find((f) => f.uri.toString() === remembered) ?? pickFolder(folders);
    if (folder) this.use(folder);
  }

  /** For changes the service cannot see itself (workspace trust granted). */
  notifyChanged(): void {
    this.changed.fire();
  }

  async switchTo(folder: vscode.WorkspaceFolder): Promise<void> {
    if (this.current?.folder.uri.toString() === folder.uri.toString()) return;
    await this.close();
    await this.memento.update(FOLDER_KEY, folder.uri.toString());
    this.use(folder);
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    disposeAll(this.perFolder);
    await current?.lazy.pipeline?.close();
  }

  /** Makes `folder` the current one; its pipeline opens now only if its `.agent/` exists. */
  private use(folder: vscode.WorkspaceFolder): void {
    const lazy: LazyPipeline = new LazyPipeline(
      folder.uri.fsPath,
      (root): LearningPipeline => this.openPipelineOf(entry, root),
      (origin) => this.created.fire({ folder, origin }),
    );
    const entry: { folder: vscode.WorkspaceFolder; lazy: LazyPipeline; ready: boolean } = {
      folder,
      lazy,
      ready: false,
    };
    this.current = entry;
    // `.agent/` made by another process (the CLI in a terminal, an agent writing the inbox) opens it then.
    const agentDirWatcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(folder, AGENT_DIR),
    );
    this.perFolder.push(
      agentDirWatcher,
      agentDirWatcher.onDidCreate(() => lazy.appeared()),
    );
    if (!lazy.openIfPresent()) {
      this.output.appendLine(
        `Agent Learning: no .agent/ in ${folder.uri.fsPath} yet; it is created with the first run or export.`,
      );
    }
    this.changed.fire();
  }

  private openPipelineOf(
    entry: { folder: vscode.WorkspaceFolder; ready: boolean },
    root: string,
  ): LearningPipeline {
    const { folder } = entry;
    const pipeline = new LearningPipeline(root, {
      log: (line) => this.output.appendLine(line),
      // Restricted Mode: records runs, but writes through no link in .agent/ that leads out of the workspace.
      trusted: () => vscode.workspace.isTrusted,
    });
    this.output.appendLine(`Agent Learning: using ${folder.uri.fsPath}/.agent`);
    pipeline.whenReady().then(
      () => {
        if (this.current !== entry) return;
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
    const showConfigProblems = () => {
      this.configDiagnostics.clear();
      const error = pipeline.problems().find((p): p is ConfigError => p instanceof ConfigError);
      for (const [file, problems] of configProblems(error)) {
        this.configDiagnostics.set(
          vscode.Uri.file(file),
          problems.map((p) => {
            // An empty range: the editor underlines the word there.
            const at = new vscode.Position(p.line, p.column);
            const diagnostic = new vscode.Diagnostic(
              new vscode.Range(at, at),
              p.message,
              vscode.DiagnosticSeverity.Error,
            );
            diagnostic.source = 'Agent Learning';
            return diagnostic;
          }),
        );
      }
    };
    showConfigProblems();
    this.perFolder.push(
      watcher,
      watcher.onDidChange(reload),
      watcher.onDidCreate(reload),
      watcher.onDidDelete(reload),
      { dispose: () => this.configDiagnostics.clear() },
      toVsDisposable(
        pipeline.onDidChange((e) => {
          if (e.source === 'config') showConfigProblems();
          this.changed.fire();
        }),
      ),
      toVsDisposable(pipeline.onDidRecordRun((r) => this.recorded.fire(r))),
      toVsDisposable(pipeline.onDidIngestRuns((runs) => this.external.fire({ runs }))),
      toVsDisposable(
        pipeline.onProblem((problem) => {
          showConfigProblems();
          if (notifyProblem(problem, openFiles()))
            void vscode.window.showWarningMessage(`Agent Learning: ${problem.message}`);
        }),
      ),
    );
    queueMicrotask(() => this.changed.fire());
    return pipeline;
  }
}

export function pickFolder(folders: readonly vscode.WorkspaceFolder[]): vscode.WorkspaceFolder | undefined {
  return folders.find((f) => fs.existsSync(agentDirOf(f.uri.fsPath))) ?? folders[0];
}

/** The files open in editor tabs. */
function openFiles(): Set<string> {
  return new Set(
    vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .flatMap((t) =>
        t.input instanceof vscode.TabInputText && t.input.uri.scheme === 'file' ? [t.input.uri.fsPath] : [],
      ),
  );
}

function toVsDisposable(d: { dispose(): void }): vscode.Disposable {
  return new vscode.Disposable(() => d.dispose());
}
