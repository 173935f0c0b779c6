// A folder's pipeline, opened only when its `.agent/` exists or something is to be written: opening one creates
// `.agent/`, and a view, the status bar or activation must not put that into a repository unasked.
// No `vscode` here, so the unit tests drive it with a real pipeline on a temp folder.

import * as fs from 'node:fs';
import type { LearningPipeline } from '../core/pipeline';
import { agentDirOf } from '../core/workspace/agentDir';

/** How `.agent/` came to be: a write through the extension, or another process (the CLI, an agent's inbox file). */
export type AgentDirOrigin = 'write' | 'outside';

export class LazyPipeline {
  private opened: LearningPipeline | undefined;
  private told = false;
  readonly agentDir: string;

  constructor(
    readonly root: string,
    /** Creates (and wires) the pipeline; called at most once. */
    private readonly create: (root: string) => LearningPipeline,
    /** Told once, after the pipeline that created `.agent/` is ready (so a run being recorded is on disk first). */
    private readonly onCreated: (origin: AgentDirOrigin) => void,
  ) {
    this.agentDir = agentDirOf(root);
  }

  /** The pipeline, when open. */
  get pipeline(): LearningPipeline | undefined {
    return this.opened;
  }

  /** Opens the pipeline when `.agent/` is already there; never creates it. */
  openIfPresent(): LearningPipeline | undefined {
    if (!this.opened && fs.existsSync(this.agentDir)) this.opened = this.create(this.root);
    return this.opened;
  }

  /** For a write: the pipeline, opened now if need be, which creates `.agent/` when there is none. */
  openForWrite(): LearningPipeline {
    if (this.opened) return this.opened;
    const existed = fs.existsSync(this.agentDir);
    const pipeline = this.create(this.root);
    this.opened = pipeline;
    if (!existed)
      pipeline.whenReady().then(
        () => this.tell('write'),
        () => undefined,
      );
    return pipeline;
  }

  /**
   * Something created `.agent/` (a file watcher saw it): opens the pipeline if it was not, and tells `onCreated`
   * when another process made it. Our own pipeline's folder comes here too, and is no news.
   */
  appeared(): LearningPipeline | undefined {
    if (this.opened || !fs.existsSync(this.agentDir)) return this.opened;
    this.opened = this.create(this.root);
    this.tell('outside');
    return this.opened;
  }

  private tell(origin: AgentDirOrigin): void {
    if (this.told) return;
    this.told = true;
    this.onCreated(origin);
  }
}
