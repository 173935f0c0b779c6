// Multi-armed bandit policies over per-arm reward sums: epsilon-greedy (the seed's), Thompson sampling (Beta, or
// scaled to the rewards' observed spread), UCB1; and the test that tells when an arm's reward has dropped.

import type { ArmStats } from '../store/store';
import type { Algorithm } from '../workspace/config';

/** An arm's runs as sums (the store keeps them per arm); rewards are in [0, 1]. */
export type ArmSums = Pick<ArmStats, 'n' | 'rewardSum' | 'rewardSq'>;

export interface Arm extends ArmSums {
  id: string;
}

export type Reason = 'untried' | 'explore' | 'exploit' | 'sample' | 'only-choice';

export interface Choice {
  id: string;
  reason: Reason;
}

export interface PolicySettings {
  algorithm: Algorithm;
  epsilon: number;
  random: () => number;
  /** An arm's cost: among arms whose score is within `tolerance` of the best, the cheapest wins. */
  cost?: (id: string) => number;
  /** Reward points a cheaper arm may trail the best score by and still be chosen. Default 0 (ties only). */
  tolerance?: number;
}

/** Picks one of `arms` (at least one). Rewards are in [0, 1]. */
export function chooseArm(arms: Arm[], s: PolicySettings): Choice {
  if (arms.length === 0) throw new Error('chooseArm needs at least one arm');
  if (arms.length === 1) return { id: arms[0]!.id, reason: 'only-choice' };
  switch (s.algorithm) {
    case 'thompson':
      return {
        id: best(arms, (a) => sampleBeta(1 + a.rewardSum, 1 + a.n - a.rewardSum, s.random), s),
        reason: 'sample',
      };
    case 'thompson-variance': {
      const pooled = spreadRatio(arms, 1);
      return {
        id: best(
          arms,
          (a) => {
            const k = spreadRatio([a], pooled);
            return sampleBeta(1 + k * a.rewardSum, 1 + k * Math.max(0, a.n - a.rewardSum), s.random);
          },
          s,
        ),
        reason: 'sample',
      };
    }
    case 'ucb1': {
      const untried = arms.filter((a) => a.n === 0);
      if (untried.length) return { id: pick(untried, s.random).id, reason: 'untried' };
      const total = arms.reduce((t, a) => t + a.n, 0);
      return {
        id: best(arms, (a) => mean(a) + Math.sqrt((2 * Math.log(total)) / a.n), s),
        reason: 'exploit',
      };
    }
    case 'epsilon-greedy': {
      const untried = arms.filter((a) => a.n === 0);
      if (untried.length) return { id: pick(untried, s.random).id, reason: 'untried' };
      if (s.random() < s.epsilon) return { id: pick(arms, s.random).id, reason: 'explore' };
      return { id: best(arms, mean, s), reason: 'exploit' };
    }
  }
}

export function mean(a: ArmSums): number {
  return a.n === 0 ? 0 : a.rewardSum / a.n;
}

/**
 * Pseudo-spread of the prior behind `spreadRatio`: about four pass/fail runs' worth (each contributes at most 0.25),
 * so an arm's first few runs do not make its posterior narrow on their own.
 */
const PRIOR_SPREAD = 1;

/**
 * How many pass/fail trials one run is worth: the spread Σ(r − r̄)² that 0/1 rewards with the arms' mean would have,
 * over the spread observed, shrunk toward `prior` (the ratio pooled over all the arms of the choice, or 1). Never
 * below 1, since rewards in [0, 1] spread at most as much as 0/1 ones; exactly 1 for 0/1 rewards.
 *
 * Thompson sampling from Beta(1 + k·Σr, 1 + k·(n − Σr)) then has a posterior about as wide as the observed standard
 * deviation over √n, as a Gaussian posterior would, but stays within [0, 1] and is Beta Thompson on pass/fail
 * rewards. Beta Thompson alone treats a run that passed 70% of its tests as uncertain as a coin flip, and keeps
 * exploring arms it could already tell apart (BENCHMARKS.md, close-prompts-beta).
 */
function spreadRatio(arms: readonly ArmSums[], prior: number): number {
  let binary = 0;
  let observed = 0;
  for (const a of arms) {
    if (a.n === 0) continue;
    const m2 = (a.rewardSum * a.rewardSum) / a.n;
    binary += Math.max(0, a.rewardSum - m2);
    observed += Math.max(0, a.rewardSq - m2);
  }
  return Math.max(1, (binary + PRIOR_SPREAD * prior) / (Math.min(observed, binary) + PRIOR_SPREAD));
}

/**
 * When an arm's reward is taken to have dropped: its last `runs` runs average at least `minDrop` below its earlier
 * runs, and the difference is `z` standard errors or more. The z of 5 keeps false alarms out of 2,000-run
 * stationary episodes (a false alarm makes the arm forget a good history); a pass/fail arm falling from 0.8 to 0.3
 * is still caught within about 25 of its runs. At most `maxScan` of its latest runs are read to place the drop.
 */
export const DROP_DETECTION = { runs: 30, minDrop: 0.05, z: 5, maxScan: 1000, minRuns: 10 } as const;

/** Whether `recent` (the arm's last DROP_DETECTION.runs runs) scores significantly below the rest of `all`. */
export function hasDropped(all: ArmSums, recent: ArmSums): boolean {
  const { runs } = DROP_DETECTION;
  return recent.n >= runs && all.n - recent.n >= runs && dropZ(all, recent) >= DROP_DETECTION.z;
}

/**
 * The runs since the arm's reward dropped, from its `latest` rewards (newest first): the split with the strongest
 * drop between the runs after it and all the arm's runs before it (`all` are every run's sums). Call it for an arm
 * that `hasDropped`; it returns at least DROP_DETECTION.minRuns runs.
 */
export function sinceDrop(all: ArmSums, latest: readonly number[]): ArmSums {
  const { minRuns, runs } = DROP_DETECTION;
  let since: ArmSums = { n: 0, rewardSum: 0, rewardSq: 0 };
  let top = -Infinity;
  const suffix = { n: 0, rewardSum: 0, rewardSq: 0 };
  for (const r of latest) {
    if (all.n - suffix.n <= runs) break;
    suffix.n++;
    suffix.rewardSum += r;
    suffix.rewardSq += r * r;
    if (suffix.n < minRuns) continue;
    const z = dropZ(all, suffix);
    if (z > top) {
      top = z;
      since = { ...suffix };
    }
  }
  return since.n > 0 ? since : all;
}

/** How many standard errors `recent` scores below the rest of `all` (−∞ below DROP_DETECTION.minDrop). */
function dropZ(all: ArmSums, recent: ArmSums): number {
  const earlier = all.n - recent.n;
  const drop = (all.rewardSum - recent.rewardSum) / earlier - recent.rewardSum / recent.n;
  if (!(drop >= DROP_DETECTION.minDrop)) return -Infinity;
  // The variance of all the arm's runs: a drop only widens it, which errs on the side of no alarm.
  const variance = Math.max((all.rewardSq - (all.rewardSum * all.rewardSum) / all.n) / (all.n - 1), 1e-9);
  return drop / Math.sqrt(variance * (1 / recent.n + 1 / earlier));
}

/**
 * The best-scoring arm; with costs, the cheapest arm scoring within `tolerance` of it. Ties: random. `score` is
 * called once per arm (Thompson's scores are random draws).
 */
function best(arms: Arm[], score: (a: Arm) => number, s: PolicySettings): string {
  const scored = arms.map((a) => ({ id: a.id, v: score(a) }));
  const top = Math.max(...scored.map((x) => x.v));
  let near = scored.filter((x) => x.v >= top - (s.cost ? (s.tolerance ?? 0) : 0) - 1e-12);
  if (s.cost && near.length > 1) {
    const cheapest = Math.min(...near.map((x) => s.cost!(x.id)));
    near = near.filter((x) => s.cost!(x.id) === cheapest);
    const bestOfCheap = Math.max(...near.map((x) => x.v));
    near = near.filter((x) => x.v >= bestOfCheap - 1e-12);
  }
  return pick(near, s.random).id;
}

function pick<T>(items: T[], random: () => number): T {
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))]!;
}

/** Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(a: number, b: number, random: () => number): number {
  const x = sampleGamma(a, random);
  const y = sampleGamma(b, random);
  return x + y === 0 ? 0.5 : x / (x + y);
}

/** Marsaglia and Tsang (2000); shapes below 1 via the boost Gamma(a) = Gamma(a+1)·U^(1/a). */
function sampleGamma(shape: number, random: () => number): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(random() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = sampleNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u || Number.MIN_VALUE) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function sampleNormal(random: () => number): number {
  const u1 = random() || Number.MIN_VALUE;
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
