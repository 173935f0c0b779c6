// Whether training can run with the interpreter in use, for the dashboard's automation table ("on, but torch is
// missing"). Check Setup's Python probe, run once and cached: it spawns Python and may import torch (seconds), so
// never per render. Probed again when the interpreter setting changes.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkPython, trainingBlocker } from '../core/automation/setupCheck';
import { defaultConfig } from '../core/workspace/config';
import type { AutomationHost } from './automationHost';
import { Disposable } from './dispose';

export class TrainingReadiness extends Disposable {
  private known: { blocker: string | null } | undefined;
  private probing: Promise<void> | undefined;
  private generation = 0;
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly automation: AutomationHost,
    private readonly extensionUri: vscode.Uri,
  ) {
    super();
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration('agentLearning.pythonPath')) return;
        this.generation++;
        this.known = undefined;
        this.probing = undefined;
        void this.probe();
      }),
    );
  }

  /** What stops training, as last probed (null: nothing); undefined until the first probe ends, which this starts. */
  get blocker(): string | null | undefined {
    if (!this.known) void this.probe();
    return this.known?.blocker;
  }

  private probe(): Promise<void> {
    this.probing ??= (async () => {
      const generation = this.generation;
      const { python } = await this.automation.currentTools();
      const lines = await checkPython({
        python,
        requirementsFile: path.join(this.extensionUri.fsPath, 'python', 'requirements.txt'),
        // Only the interpreter's lines are used here.
        ollamaHost: '',
        ollamaPath: '',
        dataDir: '',
        config: defaultConfig(),
        roles: [],
      });
      if (generation !== this.generation) return; // the setting changed meanwhile: that probe's answer counts
      this.known = { blocker: trainingBlocker(lines) };
      this.changed.fire();
    })().catch(() => undefined);
    return this.probing;
  }
}
