// The loop after export: train → convert (or merge) → deploy to Ollama → watch for drift → roll back. Each step is
// a program run by the host's runner (VS Code Tasks, or child processes); a failed step leaves every file and model
// as it was and says which step failed and why.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveBaseModel, type BaseModel } from './baseModels';
import { adapterPaths, type AdapterPaths } from '../workspace/agentDir';
import { writeFileAtomicSync } from '../workspace/atomicFile';
import type { LearningConfig } from '../workspace/config';
import {
  convertModelStep,
  convertStep,
  createStep,
  mergeStep,
  modelfileText,
  modelName,
  type ModelfileSource,
} from './deploy';
import { DriftWatch } from './driftWatch';
import { DeployGateError, describe, LearningError } from '../errors';
import { Emitter, type Disposable } from '../events';
import { checkRole } from '../workspace/names';
import {
  deployMethodFor,
  OllamaClient,
  ADAPTER_REMOVED_IN,
  compareVersions,
  OllamaError,
  UNSTAMPED_VERSION,
  type DeployMethod,
} from './ollama';
import type { TrainingDue } from '../pipeline';
import type { AutomationPort } from './port';
import type { DeployRecord } from '../store/eventLog';
import { checkComplexity, COMPLEXITIES } from '../learning/runResult';
import { FileSwap, replaceDir } from './fileSwap';
import type { Step, StepRunner } from './steps';
import {
  launcherSource,
  ProgressTail,
  readLastTrain,
  readTrainEval,
  trainerExitReason,
  trainStep,
  writeLastTrain,
  type TrainEval,
  type TrainProgress,
  type Tools,
} from './training';

type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

export interface AutomationOptions {
  runner: StepRunner;
  tools: Tools;
  /**
   * Ollama's address (`agentLearning.ollamaHost`); default http://127.0.0.1:11434. A function is asked at each use: in
   * VS Code a workspace's value of this restricted setting applies only once the workspace is trusted, which may be
   * after the pipeline opened.
   */
  ollamaHost?: string | (() => string | undefined);
  /** Workspace Trust: nothing runs while this says false. Default: trusted (CLI, scripts). */
  trusted?: () => boolean;
  log?: (line: string) => void;
  fetch?: Fetch;
  /** Clock in ms since the epoch (training time, the last-train stamp); default `Date.now`. */
  now?: () => number;
}

/**
 * A step that failed: which one and why, in words a user can act on, and the setting that fixes it where one does:
 * a VS Code setting (`agentLearning.pythonPath`) or a key of .agent/learning-config.json (`autoDeploy.method`).
 */
export class StepFailedError extends LearningError {
  constructor(
    readonly step: string,
    readonly reason: string,
    readonly setting?: string,
  ) {
    super(`${step} failed: ${reason}`);
  }
}

/** The setting that fixes a trainer or merger that stopped with this exit code (python/README.md), if one does. */
function settingForExit(code: number | undefined): string | undefined {
  return code === 4 ? 'agentLearning.pythonPath' : code === 5 ? 'autoTrain.allowCpu' : undefined;
}

export interface TrainOutcome {
  key: string;
  dir: string;
  eval: TrainEval | undefined;
}

export interface DeployOutcome {
  key: string;
  model: string;
  method: DeployMethod;
  ollamaVersion: string;
}

export interface RollbackOutcome {
  key: string;
  model: string;
  /** `restored`: the previous adapter or model is live again; `withdrawn`: there was none, the router drops it. */
  action: 'restored' | 'withdrawn';
}

export interface Notice {
  severity: 'info' | 'warning' | 'error';
  message: string;
}

export interface ProgressEvent {
  key: string;
  role: string;
  /** null when the training ended. */
  progress: TrainProgress | null;
}

export class Automation implements Disposable {
  /** key → what is running for it (Training, Deploying, Rolling back). */
  private readonly running = new Map<string, string>();
  private readonly subscriptions: Disposable[] = [];
  private readonly progress = new Emitter<ProgressEvent>();
  private readonly changed = new Emitter<void>();
  private readonly notice = new Emitter<Notice>();
  private untrustedLogged = false;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly driftWatch: DriftWatch;

  /** Training progress as the trainer reports it; `progress: null` when a training ends. */
  readonly onProgress = this.progress.event;
  /** A training, deploy or rollback started or ended. */
  readonly onDidChange = this.changed.event;
  /** What the user should hear about from work nobody asked for: automatic trainings, deploys, drift. */
  readonly onNotice = this.notice.event;

  constructor(
    private readonly pipeline: AutomationPort,
    private readonly options: AutomationOptions,
  ) {
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? Date.now;
    this.driftWatch = new DriftWatch(pipeline, {
      trusted: () => this.trusted,
      log: this.log,
      notify: (notice) => this.notice.fire(notice),
      rollback: (role, opts) => this.rollback(role, opts),
    });
  }

  private get root(): string {
    return path.dirname(this.pipeline.agentDir);
  }

  private get config(): LearningConfig {
    return this.pipeline.getConfig().config;
  }

  private get trusted(): boolean {
    return this.options.trusted?.() ?? true;
  }

  /** Trains on due exports and watches deployed models; call once the pipeline is open. */
  attach(): Disposable {
    this.driftWatch.restore();
    this.subscriptions.push(
      this.pipeline.onTrainingDue((due) => void this.onTrainingDue(due)),
      this.pipeline.onDidChange(() => void this.checkDrift()),
    );
    return this;
  }

  dispose(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
  }

  /** Keys (`coder`, `coder-large`) with a training, deploy or rollback in progress, and which. */
  busy(): { key: string; what: string }[] {
    return [...this.running].map(([key, what]) => ({ key, what }));
  }

  /** Deployed models under evaluation. */
  evaluating(): { key: string; model: string; runs: number }[] {
    return this.driftWatch.evaluating();
  }

  // ---- train ----

  async train(
    role: string,
    opts: { tier?: string; trigger?: 'auto' | 'manual' } = {},
  ): Promise<TrainOutcome> {
    const p = this.paths(role, opts.tier);
    return this.exclusive(p, 'Training', async () => {
      const config = this.config;
      const base = resolveBaseModel(config.autoTrain.baseModel, config.autoTrain.hfModel);
      // A tier's dataset is exported for each training; the role's comes from auto-export, or now.
      if (p.tier) await this.pipeline.exportDataset(role, checkComplexity(p.tier, 'tier'));
      else if (!fs.existsSync(p.dataset)) await this.pipeline.exportDataset(role);
      const watermarkPk = this.pipeline.lastRunPk();
      const started = this.now();
      fs.mkdirSync(p.dir, { recursive: true });
      // Replaces a link in its place instead of writing through it.
      writeFileAtomicSync(p.launcher, launcherSource(p, base.hfModel, config, this.options.tools));
      fs.rmSync(p.training, { recursive: true, force: true });
      fs.mkdirSync(p.training, { recursive: true });

      this.log(`🚀 ${opts.trigger === 'auto' ? 'Auto-training' : 'Training'} LoRA adapter for ${p.key}...`);
      this.log(`   Dataset: ${rel(this.root, p.dataset)}`);
      this.log(`   Output: ${rel(this.root, p.dir)}`);
      this.log(`🔧 Training LoRA adapter for ${p.key}...`);
      const tail = new ProgressTail(p.progress, (progress) =>
        this.progress.fire({ key: p.key, role, progress }),
      );
      let outcome;
      try {
        outcome = await this.options.runner.run(
          trainStep(p, base.hfModel, config, this.options.tools, this.root),
        );
      } finally {
        tail.dispose();
        this.progress.fire({ key: p.key, role, progress: null });
      }
      const missing = ['adapter_config.json', 'adapter_model.safetensors'].filter(
        (f) => !fs.existsSync(path.join(p.training, f)),
      );
      if (outcome.exitCode !== 0 || missing.length > 0) {
        const reason =
          outcome.exitCode !== 0
            ? trainerExitReason(outcome.exitCode) + lastLine(outcome.output)
            : `the trainer wrote no ${missing.join(' or ')}`;
        this.pipeline.recordEvent('training-failed', role, `Training ${p.key} failed: ${reason}`, {
          key: p.key,
        });
        throw new StepFailedError('Training', reason, settingForExit(outcome.exitCode));
      }
      replaceDir(p.training, p.trained);
      const evaluation = readTrainEval(p.trained);
      const examples = (evaluation?.trainExamples ?? 0) + (evaluation?.evalExamples ?? 0);
      writeLastTrain(p.lastTrain, { at: new Date(this.now()).toISOString(), examples, watermarkPk });
      const loss =
        evaluation?.lossBefore != null && evaluation.lossAfter != null
          ? `held-out loss ${evaluation.lossBefore.toFixed(3)} → ${evaluation.lossAfter.toFixed(3)}`
          : 'no held-out loss reported';
      this.pipeline.recordEvent('training', role, `Trained ${p.key}: ${loss}`, {
        key: p.key,
        tier: p.tier ?? null,
        baseModel: base.hfModel,
        seconds: Math.round((this.now() - started) / 1000),
        evalLossBefore: evaluation?.lossBefore ?? null,
        evalLossAfter: evaluation?.lossAfter ?? null,
        improved: evaluation?.improved ?? null,
        examples,
      });
      this.log(`✅ LoRA training complete for ${p.key} (${loss})`);
      return { key: p.key, dir: p.trained, eval: evaluation };
    });
  }

  // ---- deploy ----

  async deploy(
    role: string,
    opts: { tier?: string; force?: boolean; trigger?: 'auto' | 'manual' } = {},
  ): Promise<DeployOutcome> {
    const p = this.paths(role, opts.tier);
    return this.exclusive(p, 'Deploying', async () => {
      const config = this.config;
      const name = modelName(config, p);
      if (!fs.existsSync(path.join(p.trained, 'adapter_config.json')))
        throw new LearningError(
          `There is no trained adapter for ${p.key} yet: run "Train LoRA Adapter" first.`,
        );
      const evaluation = readTrainEval(p.trained);
      if (config.autoDeploy.requireImprovement && !opts.force && evaluation && !evaluation.improved) {
        const gate = new DeployGateError(
          p.key,
          evaluation.lossBefore,
          evaluation.lossAfter,
          evaluation.gateReason,
        );
        this.pipeline.recordEvent('deploy-skipped', role, gate.message, { key: p.key });
        throw gate;
      }

      const client = new OllamaClient(this.ollamaHost(), this.options.fetch);
      const version = await asStep('Deploy', () => client.version());
      const method = this.method(config, version, client.baseUrl);
      const baseTag = config.autoTrain.baseModel;
      const baseInfo = await asStep('Deploy', () => client.show(baseTag));
      if (!baseInfo) {
        throw new StepFailedError(
          'Deploy',
          `Ollama at ${client.baseUrl} does not have the base model ${baseTag}: run "ollama pull ${baseTag}" first.`,
          'autoTrain.baseModel',
        );
      }
      const base = resolveBaseModel(baseTag, config.autoTrain.hfModel, baseInfo.arch);
      if (baseInfo.arch && baseInfo.arch !== base.arch) {
        throw new StepFailedError(
          'Deploy',
          `Ollama's ${baseTag} is a ${baseInfo.arch} model but the adapter was trained for ${base.arch}.`,
          'autoTrain.hfModel',
        );
      }
      const previous = this.lastDeploy(p);

      this.log(`🚀 Deploying to Ollama: ${name}`);
      this.log(`   Run with: ollama run ${name}`);
      const fresh = method === 'adapter' ? `${p.gguf}.new` : `${p.merged}.new`;
      const scratch = () => {
        fs.rmSync(fresh, { force: true });
        fs.rmSync(p.mergedHf, { recursive: true, force: true });
      };
      scratch();
      const tools = this.options.tools;
      if (method === 'adapter') {
        await this.runStep(convertStep(p, base, tools, this.root, fresh), role, p, scratch);
      } else {
        // The merged Hugging Face copy is as big as the base model: it lives only until it is converted.
        await this.runStep(
          mergeStep(p, base, tools, this.root, p.mergedHf, config.autoTrain.allowCpu),
          role,
          p,
          scratch,
        );
        await this.runStep(convertModelStep(config, p, tools, this.root, fresh), role, p, scratch);
        fs.rmSync(p.mergedHf, { recursive: true, force: true });
      }

      // Put the new weights in place, the current ones becoming the backup; undone if Ollama refuses them.
      const txn = new FileSwap();
      const [live, backup] = method === 'adapter' ? [p.gguf, p.ggufBackup] : [p.merged, p.mergedBackup];
      const hadLive = fs.existsSync(live);
      if (hadLive) txn.move(live, backup);
      txn.move(fresh, live);
      txn.write(
        p.modelfile,
        modelfileText(config, p, this.modelfileSource(method, baseTag, live, baseInfo.template)),
      );
      try {
        await this.runStep(
          createStep(config, p, this.options.tools.ollama, this.root, this.ollamaEnv()),
          role,
          p,
        );
        const created = await client.show(name);
        if (!created)
          throw new StepFailedError('ollama create', `Ollama does not list ${name} after creating it.`);
        txn.commit();
      } catch (err) {
        txn.rollback();
        scratch();
        throw err;
      }
      this.log(`✅ Model deployed: ${name}`);

      this.pipeline.addModelVariant({
        id: name,
        costPer1kTokens: 0,
        tiers: p.tier ? [checkComplexity(p.tier, 'tier')] : [...COMPLEXITIES],
        roles: [role],
      });
      this.log(`✅ Added ${name} to model variants`);
      const deployPk = this.pipeline.lastRunPk();
      this.pipeline.recordEvent('deploy', role, `Deployed ${name} (${method}, Ollama ${version})`, {
        key: p.key,
        role,
        ...(p.tier && { tier: p.tier }),
        model: name,
        method,
        base: baseTag,
        baseDigest: baseInfo.digest,
        deployPk,
        backupBaseDigest: hadLive ? (previous?.baseDigest ?? null) : null,
        ollamaVersion: version,
        evalLossBefore: evaluation?.lossBefore ?? null,
        evalLossAfter: evaluation?.lossAfter ?? null,
      });
      if (config.driftDetection.enabled)
        this.driftWatch.watch({ key: p.key, role, tier: p.tier, model: name, deployPk });
      return { key: p.key, model: name, method, ollamaVersion: version };
    });
  }

  // ---- drift and rollback ----

  /** Judges every deployed model under evaluation on the runs recorded since its deploy. */
  checkDrift(): Promise<void> {
    return this.driftWatch.check();
  }

  async rollback(role: string, opts: { tier?: string; reason?: string } = {}): Promise<RollbackOutcome> {
    const p = this.paths(role, opts.tier);
    return this.exclusive(p, 'Rolling back', async () => {
      const record = this.lastDeploy(p);
      if (!record) throw new LearningError(`There is no deployment of ${p.key} to roll back.`);
      this.driftWatch.stop(p.key, record.role, record.tier);
      const [live, backup] =
        record.method === 'adapter' ? [p.gguf, p.ggufBackup] : [p.merged, p.mergedBackup];
      const client = new OllamaClient(this.ollamaHost(), this.options.fetch);
      let action: RollbackOutcome['action'] = 'withdrawn';
      let why = 'there is no previous adapter';
      if (fs.existsSync(backup)) {
        const baseInfo = await asStep('Roll back', () => client.show(record.base));
        // An adapter applied to other weights of the same shapes runs but is wrong: never restore across a re-pull.
        if (
          record.method === 'adapter' &&
          record.backupBaseDigest &&
          baseInfo?.digest !== record.backupBaseDigest
        ) {
          why = `${record.base} changed since the previous adapter was built (digest ${short(record.backupBaseDigest)} → ${short(baseInfo?.digest)})`;
        } else {
          const txn = new FileSwap();
          txn.move(live, `${live.replace(/(\.gguf)?$/, '.rejected$1')}`);
          txn.move(backup, live);
          const config = this.config;
          txn.write(
            p.modelfile,
            modelfileText(
              config,
              p,
              this.modelfileSource(record.method, record.base, live, baseInfo?.template),
            ),
          );
          try {
            await this.runStep(
              createStep(config, p, this.options.tools.ollama, this.root, this.ollamaEnv()),
              role,
              p,
            );
            txn.commit();
            action = 'restored';
          } catch (err) {
            txn.rollback();
            throw err;
          }
        }
      }
      if (action === 'withdrawn') this.pipeline.withdrawModelVariant(record.model);
      const message =
        action === 'restored'
          ? `Rolled back ${record.model} to the previous ${record.method === 'adapter' ? 'adapter' : 'model'}`
          : `Withdrew ${record.model} from the model variants (${why}); "ollama rm ${record.model}" deletes it`;
      this.pipeline.recordEvent('rollback', role, message + (opts.reason ? `: ${opts.reason}` : ''), {
        key: p.key,
        model: record.model,
        action,
      });
      this.log(`↩️ ${message}`);
      return { key: p.key, model: record.model, action };
    });
  }

  // ---- internals ----

  private async onTrainingDue(due: TrainingDue): Promise<void> {
    const config = this.config;
    if (!config.autoTrain.enabled) return;
    if (!this.trusted) {
      if (!this.untrustedLogged)
        this.log('⏸️ Auto-train is off in an untrusted workspace (trust it to enable).');
      this.untrustedLogged = true;
      return;
    }
    await this.autoTrain(due.role, undefined);
    // Curriculum: one adapter per complexity tier that has enough data of its own.
    if (this.config.autoTrain.curriculum)
      for (const tier of COMPLEXITIES) await this.autoTrain(due.role, tier);
  }

  /** Trains (and deploys) one adapter when it has no training yet or enough new data since its last. */
  private async autoTrain(role: string, tier: string | undefined): Promise<void> {
    const { autoTrain, autoDeploy } = this.config;
    const p = this.paths(role, tier);
    if (this.running.has(p.key)) return;
    const last = readLastTrain(p.lastTrain);
    // The role's trigger is the export itself (it reached minExamples); a tier counts its own runs.
    const fresh = this.pipeline.highQualityRunsSince(role, last?.watermarkPk ?? 0, tier);
    if (last ? fresh < autoTrain.retrainMinNewExamples : tier !== undefined && fresh < autoTrain.minExamples)
      return;
    if (last) this.log(`🔁 ${fresh} new high-quality ${p.key} runs since the last training: training again.`);
    try {
      await this.train(role, { ...(tier && { tier }), trigger: 'auto' });
      if (autoDeploy.enabled) {
        const d = await this.deploy(role, { ...(tier && { tier }), trigger: 'auto' });
        this.notice.fire({
          severity: 'info',
          message: `Trained and deployed ${d.model} (run it with "ollama run ${d.model}").`,
        });
      }
    } catch (err) {
      this.log(`❌ ${describe(err)}`);
      this.notice.fire({ severity: 'error', message: `Automatic training of ${p.key}: ${describe(err)}` });
    }
  }

  private lastDeploy(p: AdapterPaths): DeployRecord | undefined {
    return this.pipeline.lastEvent('deploy', p.role, p.key)?.data;
  }

  private method(config: LearningConfig, version: string, url: string): DeployMethod {
    const wanted = config.autoDeploy.method;
    if (wanted === 'auto' && version === UNSTAMPED_VERSION) {
      // A source build says 0.0.0 whatever it is, so it cannot tell whether its `ollama create` takes ADAPTER.
      throw new StepFailedError(
        'Deploy',
        `Ollama at ${url} says its version is ${UNSTAMPED_VERSION} (a build without a version stamp, e.g. from ` +
          '"go install"), so the deploy path cannot be chosen by version: set "autoDeploy.method" to "merged" ' +
          `(any version) or "adapter" (Ollama before ${ADAPTER_REMOVED_IN}).`,
        'autoDeploy.method',
      );
    }
    if (wanted === 'auto') return deployMethodFor(version);
    if (wanted === 'adapter' && compareVersions(version, ADAPTER_REMOVED_IN) >= 0) {
      throw new StepFailedError(
        'Deploy',
        `Ollama ${version} rejects ADAPTER in Modelfiles (since ${ADAPTER_REMOVED_IN}); set "autoDeploy.method" ` +
          'to "auto" or "merged".',
        'autoDeploy.method',
      );
    }
    return wanted;
  }

  private modelfileSource(
    method: DeployMethod,
    base: string,
    weights: string,
    template?: string,
  ): ModelfileSource {
    return { method, base, weights, ...(template !== undefined && { template }) };
  }

  private ollamaHost(): string | undefined {
    const host = this.options.ollamaHost;
    return typeof host === 'function' ? host() : host;
  }

  private ollamaEnv(): Record<string, string> {
    const host = this.ollamaHost();
    return host ? { OLLAMA_HOST: host } : {};
  }

  private paths(role: string, tier?: string): AdapterPaths {
    checkRole(role);
    if (tier !== undefined) checkComplexity(tier, 'tier');
    return adapterPaths(this.pipeline.agentDir, role, tier);
  }

  private async exclusive<T>(p: AdapterPaths, what: string, fn: () => Promise<T>): Promise<T> {
    if (!this.trusted) {
      throw new LearningError(
        `${what} is disabled in an untrusted workspace, because it runs Python and Ollama on your machine.`,
      );
    }
    await this.pipeline.whenReady();
    if (!this.pipeline.isOwner()) {
      throw new LearningError(
        'Another process (a second VS Code window or the CLI) owns .agent/experience.db; train and deploy from there.',
      );
    }
    if (this.running.has(p.key)) throw new LearningError(`${p.key} is already being trained or deployed.`);
    this.running.set(p.key, what);
    this.changed.fire();
    try {
      return await fn();
    } finally {
      this.running.delete(p.key);
      this.changed.fire();
    }
  }

  private async runStep(step: Step, role: string, p: AdapterPaths, cleanup?: () => void): Promise<void> {
    const outcome = await this.options.runner.run(step);
    if (outcome.exitCode === 0) return;
    cleanup?.();
    const reason =
      outcome.exitCode === undefined
        ? `it could not be started (${outcome.error ?? 'cancelled'})`
        : step.id === 'merge'
          ? trainerExitReason(outcome.exitCode, 'merge')
          : `it exited with code ${outcome.exitCode}`;
    // A failed create is undone by the caller (FileSwap) before this error reaches anyone.
    const undone =
      step.id === 'create'
        ? ". The previous model and its files are as they were; the log has Ollama's whole output"
        : '';
    const failure = new StepFailedError(
      step.title,
      reason + lastLine(outcome.output) + undone,
      step.id === 'merge' ? settingForExit(outcome.exitCode) : undefined,
    );
    this.pipeline.recordEvent('deploy-failed', role, failure.message, { key: p.key, step: step.id });
    throw failure;
  }
}

/** Ollama's own errors before anything is changed (not reachable, not Ollama) say which step they stopped. */
async function asStep<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OllamaError) throw new StepFailedError(step, err.message, 'agentLearning.ollamaHost');
    throw err;
  }
}

function lastLine(output: string | undefined): string {
  const line = output?.trim().split('\n').pop()?.trim();
  return line ? ` (${line.slice(0, 300)})` : '';
}

function rel(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

function short(digest: string | undefined): string {
  return digest ? digest.replace(/^sha256:/, '').slice(0, 12) : 'none';
}

export type { BaseModel };
