// Gives the workspace's pipeline its automation (train → deploy → drift → rollback) with VS Code's parts: Tasks in
// terminals, the Python extension's interpreter, progress notifications, the dashboard's training bar, and
// Workspace Trust. Also the Train, Deploy and Roll Back commands.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Automation, StepFailedError, type ProgressEvent } from '../core/automation/automation';
import { DEFAULT_OLLAMA_HOST } from '../core/automation/ollama';
import { DeployGateError, describe } from '../core/errors';
import { automationPort, type LearningPipeline } from '../core/pipeline';
import { COMPLEXITIES, type Complexity } from '../core/learning/runResult';
import type { Tools } from '../core/automation/training';
import { adapterPaths } from '../core/workspace/agentDir';
import type { TrainingProgress } from '../protocol';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';
import { TaskRunner } from './taskRunner';

interface Target extends vscode.QuickPickItem {
  role: string;
  opts: { tier?: string };
}

interface Activity {
  report: (value: { message?: string; increment?: number }) => void;
  done: () => void;
  percent: number;
}

export class AutomationHost extends Disposable {
  private automation: Automation | undefined;
  private pipeline: LearningPipeline | undefined;
  private readonly activities = new Map<string, Activity>();
  private readonly tools: Tools;
  private readonly training = this._register(new vscode.EventEmitter<TrainingProgress | null>());
  /** A training's progress (null when none runs), for the dashboard's bar. */
  readonly onDidChangeTraining = this.training.event;

  constructor(
    private readonly service: LearningService,
    private readonly output: vscode.OutputChannel,
    extensionUri: vscode.Uri,
  ) {
    super();
    this.tools = {
      python: 'python3',
      pythonDir: path.join(extensionUri.fsPath, 'python'),
      // VS Code's own runtime runs our CLI: Electron acts as Node.js with this variable (code-server is Node.js).
      node: process.execPath,
      nodeEnv: { ELECTRON_RUN_AS_NODE: '1' },
      cli: path.join(extensionUri.fsPath, 'dist', 'cli.js'),
      ollama: 'ollama',
    };
    this._register(service.onDidChange(() => this.sync()));
    this._register({
      dispose: () => {
        this.automation?.dispose();
        for (const a of this.activities.values()) a.done();
      },
    });
  }

  /** What is running now, for the views. */
  busy(): { key: string; what: string }[] {
    return this.automation?.busy() ?? [];
  }

  // ---- commands ----

  async train(roleArg?: string, tierArg?: string): Promise<unknown> {
    return this.command('Training', async (automation, pipeline, attempt) => {
      const target = await this.pickTarget(
        'Train a LoRA adapter for which role?',
        roleArg,
        tierArg,
        this.targets(pipeline, () => true),
      );
      if (!target) return undefined;
      attempt.retry = () => this.train(target.role, target.opts.tier);
      const result = await automation.train(target.role, { ...target.opts, trigger: 'manual' });
      const loss =
        result.eval?.lossBefore != null && result.eval.lossAfter != null
          ? ` Held-out loss ${result.eval.lossBefore.toFixed(3)} → ${result.eval.lossAfter.toFixed(3)}.`
          : '';
      const deploy = 'Deploy to Ollama';
      void vscode.window
        .showInformationMessage(`Agent Learning: trained the ${result.key} adapter.${loss}`, deploy)
        .then(
          (choice) =>
            choice === deploy &&
            vscode.commands.executeCommand('agentLearning.deploy', target.role, target.opts.tier),
        );
      return result;
    });
  }

  async deploy(roleArg?: string, tierArg?: string, force = false): Promise<unknown> {
    return this.command('Deploying', async (automation, pipeline, attempt) => {
      const target = await this.pickTarget(
        'Deploy which trained adapter to Ollama?',
        roleArg,
        tierArg,
        this.targets(pipeline, (role, tier) =>
          fs.existsSync(
            path.join(adapterPaths(pipeline.agentDir, role, tier).trained, 'adapter_config.json'),
          ),
        ),
        'No trained adapter yet: run "Agent Learning: Train LoRA Adapter" first.',
      );
      if (!target) return undefined;
      attempt.retry = () => this.deploy(target.role, target.opts.tier, force);
      try {
        const result = await automation.deploy(target.role, { ...target.opts, force, trigger: 'manual' });
        void vscode.window.showInformationMessage(
          `Agent Learning: deployed ${result.model} (${result.method === 'adapter' ? 'adapter' : 'merged model'}, ` +
            `Ollama ${result.ollamaVersion}). Run it with "ollama run ${result.model}".`,
        );
        return result;
      } catch (err) {
        // The deploy gate is a judgement the user may overrule for one deploy.
        if (!force && err instanceof DeployGateError) {
          const anyway = 'Deploy Anyway';
          const choice = await vscode.window.showWarningMessage(`Agent Learning: ${err.message}`, anyway);
          return choice === anyway ? this.deploy(target.role, target.opts.tier, true) : undefined;
        }
        throw err;
      }
    });
  }

  async rollback(roleArg?: string, tierArg?: string): Promise<unknown> {
    return this.command('Rolling back', async (automation, pipeline, attempt) => {
      const target = await this.pickTarget(
        'Roll back which deployment?',
        roleArg,
        tierArg,
        this.targets(
          pipeline,
          (role, tier) =>
            automationPort(pipeline).lastEvent(
              'deploy',
              role,
              adapterPaths(pipeline.agentDir, role, tier).key,
            ) !== undefined,
        ),
        'There is no deployment to roll back yet.',
      );
      if (!target) return undefined;
      attempt.retry = () => this.rollback(target.role, target.opts.tier);
      const result = await automation.rollback(target.role, {
        ...target.opts,
        reason: 'asked for by the user',
      });
      void vscode.window.showInformationMessage(
        `Agent Learning: ${result.action === 'restored' ? `${result.model} is back on the previous adapter` : `${result.model} was withdrawn from the model router`}.`,
      );
      return result;
    });
  }

  /** A role's adapter, and with curriculum on each tier's, kept where `keep` says so. */
  private targets(pipeline: LearningPipeline, keep: (role: string, tier?: Complexity) => boolean): Target[] {
    const tiers = pipeline.getConfig().config.autoTrain.curriculum ? COMPLEXITIES : [];
    return pipeline.roles().flatMap((role) =>
      [undefined, ...tiers]
        .filter((tier) => keep(role, tier))
        .map((tier) => ({
          label: tier ? `${role} · ${tier} tasks` : role,
          role,
          opts: tier ? { tier } : {},
        })),
    );
  }

  private async pickTarget(
    title: string,
    roleArg: string | undefined,
    tierArg: string | undefined,
    targets: Target[],
    none = 'No runs recorded yet.',
  ): Promise<Target | undefined> {
    if (roleArg !== undefined)
      return { label: roleArg, role: roleArg, opts: tierArg ? { tier: tierArg } : {} };
    if (targets.length === 0) {
      void vscode.window.showInformationMessage(`Agent Learning: ${none}`);
      return undefined;
    }
    return targets.length === 1 ? targets[0] : vscode.window.showQuickPick(targets, { title });
  }

  // ---- internals ----

  private async command(
    what: string,
    fn: (
      automation: Automation,
      pipeline: LearningPipeline,
      attempt: { retry?: () => Promise<unknown> },
    ) => Promise<unknown>,
  ): Promise<unknown> {
    const attempt: { retry?: () => Promise<unknown> } = {};
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(
        `Agent Learning: ${what} is disabled in an untrusted workspace, because it runs Python and Ollama on your ` +
          'machine. Recording runs, feedback and the dashboard keep working. Trust the workspace to enable it.',
      );
      return undefined;
    }
    try {
      // No .agent/ yet means no runs: the service's error says so, and nothing is created for it.
      const pipeline = this.service.pipeline;
      await pipeline.whenReady();
      this.sync();
      await this.refreshTools();
      return await fn(this.automation!, pipeline, attempt);
    } catch (err) {
      this.failed(err, attempt.retry);
      return undefined;
    }
  }

  /**
   * A failed command's notification: the reason as the step gave it (the log has the same line), and what to do
   * next: the log, the same command again, and the setting that fixes it where the failure names one.
   */
  private failed(err: unknown, retry: (() => Promise<unknown>) | undefined): void {
    const log = 'Show Log';
    const again = 'Retry';
    const open = 'Open Setting';
    const setting = err instanceof StepFailedError ? err.setting : undefined;
    this.output.appendLine(`❌ ${describe(err)}`);
    const buttons = [log, ...(retry ? [again] : []), ...(setting ? [open] : [])];
    void vscode.window.showErrorMessage(`Agent Learning: ${describe(err)}`, ...buttons).then((choice) => {
      if (choice === log) this.output.show(true);
      else if (choice === again) void retry?.();
      else if (choice === open && setting) void openSetting(setting);
    });
  }

  /** One Automation per open pipeline, created once it is ready. */
  private sync(): void {
    const pipeline = this.service.hasPipeline && this.service.ready ? this.service.pipeline : undefined;
    if (pipeline === this.pipeline) return;
    this.automation?.dispose();
    this.automation = undefined;
    this.pipeline = pipeline;
    if (!pipeline) return;
    const automation = new Automation(automationPort(pipeline), {
      runner: new TaskRunner(() => this.service.folder),
      tools: this.tools,
      // Asked at each use: the workspace's value applies only once it is trusted, maybe after this was made.
      ollamaHost: () => this.setting('ollamaHost') || undefined,
      trusted: () => vscode.workspace.isTrusted,
      log: (line) => this.output.appendLine(line),
    });
    this.automation = automation;
    automation.attach();
    automation.onProgress((e) => this.onProgress(e));
    automation.onNotice(({ severity, message }) => {
      const show =
        severity === 'error'
          ? vscode.window.showErrorMessage
          : severity === 'warning'
            ? vscode.window.showWarningMessage
            : vscode.window.showInformationMessage;
      void show(`Agent Learning: ${message}`);
    });
    automation.onDidChange(() => {
      this.showActivities(automation);
      this.service.notifyChanged();
    });
    void this.refreshTools();
  }

  private setting(key: 'pythonPath' | 'ollamaHost' | 'ollamaPath'): string {
    return (
      vscode.workspace.getConfiguration('agentLearning', this.service.folder).get<string>(key) ?? ''
    ).trim();
  }

  /** The interpreter and Ollama program training and deploying would run now (Check Setup checks these). */
  async currentTools(): Promise<{ python: string; ollama: string; ollamaHost: string }> {
    await this.refreshTools();
    return {
      python: this.tools.python,
      ollama: this.tools.ollama,
      ollamaHost: this.setting('ollamaHost') || DEFAULT_OLLAMA_HOST,
    };
  }

  /** Python: an explicit `agentLearning.pythonPath`, else the Python extension's interpreter, else python3. */
  private async refreshTools(): Promise<void> {
    this.tools.ollama = this.setting('ollamaPath') || 'ollama';
    // Its default is empty, so a value means the user chose one. (In a remote window VS Code applies machine
    // settings from the remote's settings or the workspace, not from the local user settings.)
    this.tools.python =
      this.setting('pythonPath') || (await pythonExtensionInterpreter(this.service.folder)) || 'python3';
  }

  private onProgress(e: ProgressEvent): void {
    this.training.fire(
      e.progress && {
        role: e.key,
        step: e.progress.step,
        total: e.progress.total,
        loss: e.progress.loss,
        etaS: e.progress.etaS,
      },
    );
    const activity = this.activities.get(e.key);
    if (!activity || !e.progress) return;
    const percent = (100 * e.progress.step) / e.progress.total;
    const parts = [`step ${e.progress.step}/${e.progress.total}`];
    if (e.progress.loss !== null) parts.push(`loss ${e.progress.loss.toFixed(3)}`);
    if (e.progress.etaS !== null) parts.push(`${formatEta(e.progress.etaS)} left`);
    activity.report({ message: parts.join(' · '), increment: Math.max(0, percent - activity.percent) });
    activity.percent = Math.max(activity.percent, percent);
  }

  /** A progress notification for each running training, deploy or rollback (auto ones included). */
  private showActivities(automation: Automation): void {
    const busy = new Map(automation.busy().map((b) => [b.key, b.what]));
    for (const [key, activity] of this.activities) {
      if (!busy.has(key)) {
        activity.done();
        this.activities.delete(key);
      }
    }
    for (const [key, what] of busy) {
      if (this.activities.has(key)) continue;
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Agent Learning: ${what} ${key}` },
        (progress) =>
          new Promise<void>((resolve) => {
            this.activities.set(key, { report: (v) => progress.report(v), done: resolve, percent: 0 });
            progress.report({
              message: what === 'Training' ? 'starting (see the terminal)…' : 'see the terminal…',
            });
          }),
      );
    }
  }
}

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string }): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
}

/** The interpreter selected in the Python extension (ms-python.python), when it is installed. */
async function pythonExtensionInterpreter(
  folder: vscode.WorkspaceFolder | undefined,
): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!ext) return undefined;
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    const env = api.environments?.getActiveEnvironmentPath(folder?.uri);
    if (!env) return undefined;
    const resolved = await api.environments!.resolveEnvironment(env);
    return resolved?.executable?.uri?.fsPath ?? env.path;
  } catch {
    return undefined; // its API changed or failed: the setting's default still works
  }
}

function formatEta(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** A VS Code setting in the Settings editor; a key of .agent/learning-config.json in the file, at the key. */
async function openSetting(setting: string): Promise<void> {
  if (setting.startsWith('agentLearning.')) {
    await vscode.commands.executeCommand('workbench.action.openSettings', setting);
    return;
  }
  await vscode.commands.executeCommand('agentLearning.openConfig', setting);
}
