// Reward: a weighted mean of the quality signals that are present, weights renormalised over those present.

import type { LearningConfig } from '../workspace/config';

export type RewardWeights = LearningConfig['rewardWeights'];

export interface RewardSignals {
  compile: boolean | null;
  testsPassed: number | null;
  testsTotal: number | null;
  lintErrors: number | null;
  typeErrors: number | null;
  schemaErrors: number | null;
  boundaryErrors: number | null;
  human: 'accept' | 'reject' | null;
}

/**
 * 1/(1+n): no errors scores 1, one error 0.5, three 0.25 — falls fast at first, never below 0, so a run with many
 * lint warnings is still ranked above one that did not compile only if the other signals say so.
 */
export function errorTerm(errors: number): number {
  return 1 / (1 + errors);
}

/** In [0, 1]. A run with no signal at all scores 0: nothing says it was good. */
export function computeReward(s: RewardSignals, w: RewardWeights): number {
  let sum = 0;
  let weight = 0;
  const add = (value: number, wt: number) => {
    sum += value * wt;
    weight += wt;
  };
  if (s.compile !== null) add(s.compile ? 1 : 0, w.compile);
  if (s.testsTotal !== null && s.testsTotal > 0) add((s.testsPassed ?? 0) / s.testsTotal, w.tests);
  const errorCounts = [s.lintErrors, s.typeErrors, s.schemaErrors, s.boundaryErrors].filter(
    (n): n is number => n !== null,
  );
  if (errorCounts.length > 0) add(errorTerm(errorCounts.reduce((a, b) => a + b, 0)), w.errors);
  if (s.human !== null) add(s.human === 'accept' ? 1 : 0, w.human);
  if (weight === 0) return 0;
  return Math.min(1, Math.max(0, sum / weight));
}
