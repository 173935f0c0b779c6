// What the sidebar and dashboard show (getStats, getInsights): totals, progress per role, intervals, trends and
// downsampled series, all computed from the store's aggregates so a view never scans the runs' texts.

import type { EventLog } from '../store/eventLog';
import type { ArmStats, LearningEvent, RecentRun, StoreReader } from '../store/store';
import type { LearningConfig } from '../workspace/config';
import type { ModelVariant } from '../workspace/variants';

/** The trend compares the last 100 runs with the 100 before them. */
const RECENT_WINDOW = 100;

export interface RoleProgress {
  role: string;
  runs: number;
  /** High-quality runs since the last export, toward `autoExport.minRuns`. */
  highQualitySinceExport: number;
  exportThreshold: number;
  lastExport: { at: number; count: number; file: string } | null;
  /** Examples in the latest export, toward `autoTrain.minExamples`. */
  exportedExamples: number;
  trainThreshold: number;
}

export interface LearningStats {
  /** `costCount`/`durationCount`: the runs that reported one; with none, the average's 0 means "not known". */
  recentStats: {
    avgReward: number;
    avgCost: number;
    avgDuration: number;
    count: number;
    costCount: number;
    durationCount: number;
  };
  modelPerformance: { model_name: string; avg_reward: number; count: number; avg_cost: number }[];
  promptPerformance: { prompt_id: string; avg_reward: number; count: number }[];
  totals: { runs: number; byRole: Record<string, number> };
  roles: RoleProgress[];
  recentRuns: RecentRun[];
  events: LearningEvent[];
}

export interface Insights {
  /** Average reward of the 100 runs before the last 100 (the trend's baseline); null with fewer than 200. */
  previousAvgReward: number | null;
  models: ArmEstimate[];
  prompts: ArmEstimate[];
  /** The prompt the bandit would exploit now. */
  preferredPrompt: string | undefined;
  rewardSeries: RewardSeries[];
  /** USD per 1,000 tokens of the configured models. */
  modelCosts: Record<string, number>;
  automation: { autoExport: boolean; autoTrain: boolean; autoDeploy: boolean };
}

/** An arm's mean reward with its 95% interval, and its average cost: what the dashboard compares. */
export interface ArmEstimate {
  id: string;
  avgReward: number;
  count: number;
  /** 95% interval of the mean (normal approximation on the observed variance), clamped to [0, 1]. */
  low: number;
  high: number;
  /** Null when none of its runs reported a cost. */
  avgCostTokens: number | null;
}

export interface RewardSeries {
  role: string;
  points: { run: number; at: number; reward: number; mean: number }[];
}

export function withInterval(s: ArmStats): ArmEstimate {
  const m = s.rewardSum / s.n;
  const variance = s.n > 1 ? Math.max(0, (s.rewardSq - s.n * m * m) / (s.n - 1)) : 0.25;
  const half = 1.96 * Math.sqrt(variance / s.n);
  return {
    id: s.arm,
    avgReward: m,
    count: s.n,
    low: Math.max(0, m - half),
    high: Math.min(1, m + half),
    avgCostTokens: s.costN ? s.costSum / s.costN : null,
  };
}

/**
 * The arm with the best mean reward, and whether its 95% interval has separated from every other arm's: only
 * then is it the best rather than ahead by chance so far. One arm alone has nothing to separate from.
 */
export function leaderOf<A extends { avgReward: number; low: number; high: number }>(
  arms: readonly A[],
): { arm: A; separated: boolean } | undefined {
  const leader = arms.reduce<A | undefined>(
    (best, a) => (!best || a.avgReward > best.avgReward ? a : best),
    undefined,
  );
  if (!leader) return undefined;
  const others = arms.filter((a) => a !== leader);
  return { arm: leader, separated: others.length > 0 && others.every((a) => a.high < leader.low) };
}

/** Per-role reward series of at most ~`maxPoints` points each, with a rolling mean over 20 points. */
export function rewardSeries(
  store: StoreReader,
  roles: Map<string, number>,
  maxPoints = 500,
): RewardSeries[] {
  return [...roles.entries()].sort().map(([role, runs]) => {
    const raw = store.rewardSeries(role, Math.ceil(runs / maxPoints));
    const points = raw.map((p, i) => {
      const from = Math.max(0, i - 19);
      const slice = raw.slice(from, i + 1);
      return { ...p, mean: slice.reduce((t, x) => t + x.reward, 0) / slice.length };
    });
    return { role, points };
  });
}

/** getStats(): the seed's numbers plus totals and export/training progress per role; zeros before the store opens. */
export function learningStats(
  store: { db: StoreReader; events: EventLog } | undefined,
  config: LearningConfig,
): LearningStats {
  const { autoExport, autoTrain } = config;
  if (!store) {
    return {
      recentStats: { avgReward: 0, avgCost: 0, avgDuration: 0, count: 0, costCount: 0, durationCount: 0 },
      modelPerformance: [],
      promptPerformance: [],
      totals: { runs: 0, byRole: dictionary([]) },
      roles: [],
      recentRuns: [],
      events: [],
    };
  }
  const { db, events } = store;
  const models = db.armStats('model', undefined);
  const prompts = db.armStats('prompt', undefined);
  const byRole = db.runsPerRole();
  const roles: RoleProgress[] = [...byRole.entries()].sort().map(([role, runs]) => {
    const last = events.last('export', role);
    return {
      role,
      runs,
      highQualitySinceExport: db.countHighQuality(role, autoExport.minReward, last?.data.watermarkPk ?? 0),
      exportThreshold: autoExport.minRuns,
      lastExport: last ? { at: last.at, count: last.data.count, file: last.data.file } : null,
      exportedExamples: last?.data.count ?? 0,
      trainThreshold: autoTrain.minExamples,
    };
  });
  return {
    recentStats: db.recentStats(RECENT_WINDOW),
    modelPerformance: models
      .map((m) => ({
        model_name: m.arm,
        avg_reward: m.rewardSum / m.n,
        count: m.n,
        avg_cost: m.costN ? m.costSum / m.costN : 0,
      }))
      .sort((a, b) => b.avg_reward - a.avg_reward),
    promptPerformance: prompts
      .map((p) => ({ prompt_id: p.arm, avg_reward: p.rewardSum / p.n, count: p.n }))
      .sort((a, b) => b.avg_reward - a.avg_reward),
    totals: { runs: [...byRole.values()].reduce((a, b) => a + b, 0), byRole: dictionary(byRole) },
    roles,
    recentRuns: db.recentRuns(20),
    events: events.recent(50),
  };
}

/**
 * getInsights(): intervals, the trend's baseline and reward series of at most ~`maxPointsPerRole` points (0: none);
 * empty before the store opens. `preferredPrompt` is asked only when the store is open.
 */
export function insights(
  db: StoreReader | undefined,
  settings: {
    config: LearningConfig;
    modelVariants: ModelVariant[];
    preferredPrompt: () => string | undefined;
  },
  maxPointsPerRole: number,
): Insights {
  const { autoExport, autoTrain, autoDeploy, enabled } = settings.config;
  const automation = {
    autoExport: enabled && autoExport.enabled,
    autoTrain: enabled && autoTrain.enabled,
    autoDeploy: enabled && autoDeploy.enabled,
  };
  const modelCosts = dictionary(settings.modelVariants.map((m) => [m.id, m.costPer1kTokens]));
  if (!db) {
    return {
      previousAvgReward: null,
      models: [],
      prompts: [],
      preferredPrompt: undefined,
      rewardSeries: [],
      modelCosts,
      automation,
    };
  }
  const prompts = db.armStats('prompt', undefined);
  return {
    previousAvgReward: db.earlierAvgReward(RECENT_WINDOW, RECENT_WINDOW),
    models: db
      .armStats('model', undefined)
      .map(withInterval)
      .sort((a, b) => b.avgReward - a.avgReward),
    prompts: prompts.map(withInterval).sort((a, b) => b.avgReward - a.avgReward),
    preferredPrompt: settings.preferredPrompt(),
    rewardSeries: maxPointsPerRole > 0 ? rewardSeries(db, db.runsPerRole(), maxPointsPerRole) : [],
    modelCosts,
    automation,
  };
}

/**
 * A null-prototype object of `entries`: its keys are model ids and roles from run data, which callers look up, and
 * `constructor` or `toString` must find nothing there rather than Object.prototype's functions (STYLE 17).
 */
function dictionary(entries: Iterable<readonly [string, number]>): Record<string, number> {
  return Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(entries));
}
