// Multi-armed bandit policies over per-arm reward sums: epsilon-greedy (the seed's), Thompson sampling, UCB1.

import type { Algorithm } from './config';

export interface Arm {
  id: string;
  n: number;
  rewardSum: number;
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

export function mean(a: Arm): number {
  return a.n === 0 ? 0 : a.rewardSum / a.n;
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
