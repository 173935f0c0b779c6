// Watches each freshly deployed model until drift detection has judged it: decides when to judge, records the
// verdict, and asks for a rollback when the model does worse than the one it replaced. The statistics are drift.ts's.

import { assessDrift, type DriftVerdict } from './drift';
import { describe } from '../errors';
import { COMPLEXITIES } from '../learning/runResult';
import type { EventData } from '../store/eventLog';
import type { LearningConfig } from '../workspace/config';
import { adapterKey } from '../workspace/agentDir';
import type { Notice, RollbackOutcome } from './automation';
import type { AutomationPort } from './port';

/** A deployed model under evaluation: its adapter's key, and the newest run before it went live. */
interface Evaluation {
  key: string;
  role: string;
  tier: string | undefined;
  model: string;
  deployPk: number;
}

interface DriftWatchOptions {
  /** Workspace Trust: an untrusted workspace withdraws a drifting model instead of rebuilding one with Ollama. */
  trusted: () => boolean;
  log: (line: string) => void;
  notify: (notice: Notice) => void;
  /** Puts the previous model back (Automation's rollback); it calls `stop` for the key. */
  rollback: (role: string, opts: { tier?: string; reason: string }) => Promise<RollbackOutcome>;
}

export class DriftWatch {
  /** key (`coder`, `coder-large`) → the deployed model being evaluated. */
  private readonly evaluations = new Map<string, Evaluation>();
  private checking: Promise<void> | undefined;
  private checkAgain = false;

  constructor(
    private readonly pipeline: AutomationPort,
    private readonly options: DriftWatchOptions,
  ) {}

  private get config(): LearningConfig {
    return this.pipeline.getConfig().config;
  }

  /** Deployed models under evaluation, and how many runs each has had since its deploy. */
  evaluating(): { key: string; model: string; runs: number }[] {
    return [...this.evaluations.values()].map((e) => ({
      key: e.key,
      model: e.model,
      runs: this.pipeline.rewards(e.role, e.model, e.tier, { afterPk: e.deployPk, limit: 10_000 }).length,
    }));
  }

  /** Starts evaluating a model just deployed; the router sends it the role's (tier's) runs meanwhile. */
  watch(e: Evaluation): void {
    this.evaluations.set(e.key, e);
    this.pipeline.setEvaluating(e.role, e.tier, e.model);
  }

  /** Stops evaluating the adapter `key` (its model is being rolled back). */
  stop(key: string, role: string, tier: string | undefined): void {
    this.evaluations.delete(key);
    this.pipeline.setEvaluating(role, tier, undefined);
  }

  /** Picks up the evaluations a previous process left open: a deploy with no verdict or rollback after it. */
  restore(): void {
    if (!this.config.driftDetection.enabled) return;
    for (const role of this.pipeline.roles()) {
      for (const tier of [undefined, ...COMPLEXITIES]) {
        const key = adapterKey(role, tier);
        const deploy = this.pipeline.lastEvent('deploy', role, key);
        if (!deploy) continue;
        const ended = (['evaluated', 'rollback', 'drift'] as const).some(
          (k) => (this.pipeline.lastEvent(k, role, key)?.id ?? 0) > deploy.id,
        );
        if (ended) continue;
        const d = deploy.data;
        this.watch({ key, role, tier: d.tier, model: d.model, deployPk: d.deployPk });
      }
    }
  }

  /**
   * Judges every model under evaluation on the runs recorded since its deploy. Calls while a check runs join it
   * and make it look once more, so a change recorded meanwhile is never missed.
   */
  check(): Promise<void> {
    this.checkAgain = true;
    if (this.checking) return this.checking;
    this.checking = (async () => {
      // After the assignment: a judgement records events, which call back in here synchronously.
      await Promise.resolve();
      try {
        while (this.checkAgain) {
          this.checkAgain = false;
          for (const e of [...this.evaluations.values()]) await this.judge(e);
        }
      } catch (err) {
        this.options.log(`❌ Drift check failed: ${describe(err)}`);
      } finally {
        // In the same step as the last look at checkAgain, so no change can slip between them.
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  private async judge(e: Evaluation): Promise<void> {
    const { driftDetection } = this.config;
    const { log, notify } = this.options;
    // Runs after every change: read no more than the detector can look at (it decides by maxEvaluationRuns).
    const limit = Math.max(driftDetection.evaluationRuns, driftDetection.maxEvaluationRuns);
    const tuned = this.pipeline.rewards(e.role, e.model, e.tier, { afterPk: e.deployPk, limit });
    if (tuned.length < Math.min(driftDetection.evaluationRuns, 5)) return;
    const verdict = assessDrift(this.baseline(e), tuned, driftDetection);
    if (verdict.decision === 'wait') return;
    if (verdict.decision === 'keep') {
      this.stop(e.key, e.role, e.tier);
      this.pipeline.recordEvent(
        'evaluated',
        e.role,
        `Kept ${e.model}: ${verdict.reason}`,
        verdictData(e, verdict),
      );
      log(`✅ ${e.model} passed drift detection: ${verdict.reason}`);
      return;
    }
    this.pipeline.recordEvent(
      'drift',
      e.role,
      `Drift: ${e.model} ${verdict.reason}`,
      verdictData(e, verdict),
    );
    log(`⚠️ Drift detected for ${e.model}: ${verdict.reason}. Rolling back.`);
    if (!this.options.trusted()) {
      // Rebuilding a model runs Ollama; in an untrusted workspace the router just stops using it.
      this.stop(e.key, e.role, e.tier);
      this.pipeline.withdrawModelVariant(e.model);
      log(`↩️ Withdrew ${e.model} from the model variants (untrusted workspace: Ollama is not called).`);
      notify({
        severity: 'warning',
        message: `${e.model} did worse than the model it replaced (${verdict.reason}); it was withdrawn from the model router.`,
      });
      return;
    }
    try {
      const r = await this.options.rollback(e.role, { tier: e.tier, reason: verdict.reason });
      notify({
        severity: 'warning',
        message:
          `${e.model} did worse than the model it replaced (${verdict.reason}); ` +
          (r.action === 'restored'
            ? 'the previous adapter is back.'
            : 'it was withdrawn from the model router.'),
      });
    } catch (err) {
      log(`❌ ${describe(err)}`);
      notify({
        severity: 'error',
        message: `Rolling back ${e.model} after drift failed: ${describe(err)}`,
      });
    }
  }

  /** The replaced model's recent rewards: the same name's previous version, else the base tag, else the role's. */
  private baseline(e: Evaluation): number[] {
    // 200 runs: the baseline mean's own error is what limits detection (BENCHMARKS.md, drift).
    const range = { atMostPk: e.deployPk, limit: 200 };
    const candidates = [e.model, this.config.autoTrain.baseModel, undefined];
    for (const model of candidates) {
      const r = this.pipeline.rewards(e.role, model, e.tier, range);
      if (r.length > 0) return r;
    }
    return [];
  }
}

function verdictData(e: Evaluation, v: DriftVerdict): EventData<'drift'> {
  return {
    key: e.key,
    model: e.model,
    decision: v.decision,
    baselineMean: v.baselineMean,
    tunedMean: v.tunedMean,
    drop: v.drop,
    runs: v.runs,
  };
}
