// What the sidebar and dashboard show beyond getStats(): intervals, trends and downsampled series, all computed
// from the store's aggregates so a view never scans the runs' texts.

import type { ArmStats, StoreReader } from '../store/store';

export interface ArmSummaryWithInterval {
  id: string;
  avgReward: number;
  count: number;
  /** 95% interval of the mean (normal approximation on the observed variance), clamped to [0, 1]. */
  low: number;
  high: number;
  avgCostTokens: number;
}

export interface RewardSeries {
  role: string;
  points: { run: number; at: number; reward: number; mean: number }[];
}

export function withInterval(s: ArmStats): ArmSummaryWithInterval {
  const m = s.rewardSum / s.n;
  const variance = s.n > 1 ? Math.max(0, (s.rewardSq - s.n * m * m) / (s.n - 1)) : 0.25;
  const half = 1.96 * Math.sqrt(variance / s.n);
  return {
    id: s.arm,
    avgReward: m,
    count: s.n,
    low: Math.max(0, m - half),
    high: Math.min(1, m + half),
    avgCostTokens: s.costN ? s.costSum / s.costN : 0,
  };
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
