// Picks the prompt and the model for a run: the bandit over each arm's rewards, the router's cost cap and tiers, and
// a freshly deployed model first while it is under evaluation.

import { chooseArm, DROP_DETECTION, hasDropped, mean, sinceDrop, type Arm, type Reason } from './bandit';
import type { Complexity } from './runResult';
import { NoEligibleModelError } from '../errors';
import type { ArmStats, StoreReader } from '../store/store';
import type { ConfigFiles } from '../workspace/configFiles';
import type { ModelVariant, PromptVariant } from '../workspace/variants';

export interface SelectedPrompt extends PromptVariant {
  reason: Reason | 'warming-up';
  meanReward: number;
  count: number;
}

export interface SelectedModel extends ModelVariant {
  tier: Complexity;
  /** `evaluating`: a freshly deployed tuned model gets the role's runs until drift detection has judged it. */
  reason: Reason | 'warming-up' | 'evaluating';
  meanReward: number;
  count: number;
}

export interface SelectorOptions {
  /** Uniform [0, 1) randomness for the bandit and router. */
  random: () => number;
  /** The config and variants in force. */
  files: Pick<ConfigFiles, 'config' | 'promptVariants' | 'modelVariants' | 'fileStats'>;
  /** The store; undefined until it is open, and meanwhile the variants files' statistics stand in. */
  store: () => StoreReader | undefined;
}

export class Selector {
  /** `role|tier` (tier `*` for all) → the deployed model under evaluation, set by the automation. */
  private readonly evaluating = new Map<string, string>();

  constructor(private readonly options: SelectorOptions) {}

  /** Arguments are checked by the caller. */
  selectPrompt(role: string | undefined): SelectedPrompt {
    const { files, random, store } = this.options;
    const { promptBandit } = files.config;
    const variants = files.promptVariants;
    const stats = this.armStats(
      'prompt',
      role,
      undefined,
      promptBandit,
      variants.map((v) => v.id),
    );
    const arms = variants.map((v) => toArm(v.id, stats));
    const choice = chooseArm(arms, { ...promptBandit, random });
    const arm = arms.find((a) => a.id === choice.id)!;
    const variant = variants.find((v) => v.id === choice.id)!;
    return {
      ...variant,
      reason: store() ? choice.reason : 'warming-up',
      meanReward: mean(arm),
      count: arm.n,
    };
  }

  /** A model for the tier within the cost cap (`modelRouter.maxCostPerToken` by default); arguments checked. */
  selectModel(
    complexity: Complexity,
    maxCostPerToken: number | undefined,
    role: string | undefined,
  ): SelectedModel {
    const { files, random, store } = this.options;
    const { modelRouter } = files.config;
    const cap = maxCostPerToken ?? modelRouter.maxCostPerToken;
    // A tuned model serves the role (and tier) it was trained for; the seed's role default is coder.
    const forRole = role ?? 'coder';
    const eligible = files.modelVariants.filter(
      (m) =>
        m.tiers.includes(complexity) &&
        m.costPer1kTokens <= cap &&
        (m.roles === undefined || m.roles.includes(forRole)),
    );
    if (eligible.length === 0) throw new NoEligibleModelError(complexity, cap);
    const canary = [`${forRole}|${complexity}`, `${forRole}|*`]
      .map((k) => this.evaluating.get(k))
      .find((id) => id !== undefined && eligible.some((m) => m.id === id));
    if (canary !== undefined) {
      const model = eligible.find((m) => m.id === canary)!;
      return { ...model, tier: complexity, reason: 'evaluating', meanReward: 0, count: 0 };
    }
    const stats = this.armStats(
      'model',
      role,
      complexity,
      modelRouter,
      eligible.map((m) => m.id),
    );
    const arms = eligible.map((m) => toArm(m.id, stats));
    const cost = new Map(eligible.map((m) => [m.id, m.costPer1kTokens]));
    const choice = chooseArm(arms, {
      ...modelRouter,
      random,
      cost: (id) => cost.get(id)!,
      tolerance: modelRouter.costTolerance,
    });
    const arm = arms.find((a) => a.id === choice.id)!;
    const model = eligible.find((m) => m.id === choice.id)!;
    return {
      ...model,
      tier: complexity,
      reason: store() ? choice.reason : 'warming-up',
      meanReward: mean(arm),
      count: arm.n,
    };
  }

  /** While set, `selectModel` for the role (and tier; undefined: all) returns this model when it is eligible. */
  setEvaluating(role: string, tier: string | undefined, model: string | undefined): void {
    const key = `${role}|${tier ?? '*'}`;
    if (model === undefined) this.evaluating.delete(key);
    else this.evaluating.set(key, model);
  }

  /** The prompt the bandit would exploit now, judged by the same runs as `selectPrompt` (all roles). */
  preferredPrompt(): string | undefined {
    const { files } = this.options;
    const ids = files.promptVariants.map((v) => v.id);
    const current = this.armStats('prompt', undefined, undefined, files.config.promptBandit, ids);
    return preferredArm(ids.map((id) => toArm(id, current)));
  }

  /**
   * The sums each arm is judged by: its last `window` runs; or all its runs, less those before a drop in its reward
   * (with `changeDetection`). O(arms) queries, each bounded by the arm's index: never O(runs).
   */
  private armStats(
    kind: 'prompt' | 'model',
    role: string | undefined,
    tier: string | undefined,
    learning: { window: number; changeDetection: boolean },
    arms: readonly string[],
  ): Map<string, ArmStats> {
    const db = this.options.store();
    if (!db) return mirrorArmStats(this.options.files.fileStats[kind], role ?? '*');
    const byArm = (stats: ArmStats[]) => new Map(stats.map((s) => [s.arm, s]));
    if (learning.window > 0) return byArm(db.windowArmStats(kind, role, tier, learning.window, arms));
    const all = byArm(db.armStats(kind, role, tier));
    if (!learning.changeDetection) return all;
    const tested = arms.filter((id) => (all.get(id)?.n ?? 0) >= 2 * DROP_DETECTION.runs);
    for (const recent of db.windowArmStats(kind, role, tier, DROP_DETECTION.runs, tested)) {
      const total = all.get(recent.arm)!;
      if (!hasDropped(total, recent)) continue;
      // Rare (after a real drop) and bounded: the arm's latest maxScan rewards, to find where the drop began.
      const latest = db.latestRewards(kind, role, tier, recent.arm, DROP_DETECTION.maxScan);
      all.set(recent.arm, { ...total, ...sinceDrop(total, latest) });
    }
    return all;
  }
}

/** The arm the policy would exploit now: the best mean (untried arms count as 0). */
function preferredArm(arms: Arm[]): string | undefined {
  let best: Arm | undefined;
  for (const a of arms) if (!best || mean(a) > mean(best)) best = a;
  return best?.id;
}

function toArm(id: string, stats: Map<string, ArmStats>): Arm {
  const s = stats.get(id);
  return { id, n: s?.n ?? 0, rewardSum: s?.rewardSum ?? 0, rewardSq: s?.rewardSq ?? 0 };
}

/** Mirror-file stats as arm sums (before the database is open). Tolerant: a malformed section is ignored. */
function mirrorArmStats(stats: unknown, role: string): Map<string, ArmStats> {
  const section = (stats as Record<string, unknown> | undefined)?.[role];
  const out = new Map<string, ArmStats>();
  if (!Array.isArray(section)) return out;
  for (const s of section as { id?: unknown; n?: unknown; meanReward?: unknown }[]) {
    if (typeof s.id !== 'string' || typeof s.n !== 'number' || typeof s.meanReward !== 'number') continue;
    out.set(s.id, {
      arm: s.id,
      n: s.n,
      rewardSum: s.meanReward * s.n,
      rewardSq: s.meanReward * s.n, // as if 0/1 rewards: the widest spread that mean allows
      costSum: 0,
      costN: 0,
      durationSum: 0,
    });
  }
  return out;
}
