// Reward: a weighted mean of the quality signals that are present, weights renormalised over those present.

import type { LearningConfig } from '../workspace/config';

/** `kept`: the implicit verdict's weight (`editorSignals.keptWeight`); absent counts as 0. */
export type RewardWeights = LearningConfig['rewardWeights'] & { kept?: number };

export interface RewardSignals {
  compile: boolean | null;
  testsPassed: number | null;
  testsTotal: number | null;
  lintErrors: number | null;
  typeErrors: number | null;
  schemaErrors: number | null;
  boundaryErrors: number | null;
  human: 'accept' | 'reject' | null;
  /** The share of the change the user kept (an observed, implicit verdict; signals.ts), when there is no `human`. */
  kept?: number | null;
}

/**
 * 1/(1+n): no errors scores 1, one error 0.5, three 0.25 — falls fast at first, never below 0, so a run with many
 * lint warnings is still ranked above one that did not compile only if the other signals say so.
 */
export function errorTerm(errors: number): number {
  return 1 / (1 + errors);
}

/** One signal's part in a reward: its score, its configured weight and its share of the weights present. */
export interface RewardTerm {
  signal: 'compile' | 'tests' | 'errors' | 'human' | 'kept';
  /** The signal's score in [0, 1]. */
  score: number;
  /** Its weight from `rewardWeights`. */
  weight: number;
  /** Its weight over the sum of the weights of the signals present (they add up to 1). */
  share: number;
  /** score × share: the terms' contributions add up to the reward (before clamping to [0, 1]). */
  contribution: number;
}

/**
 * The reward and the terms it is made of, for showing a run: the same arithmetic as computeReward (which is this
 * function's total), so a view never shows a breakdown that disagrees with the stored reward's formula.
 */
export function rewardBreakdown(s: RewardSignals, w: RewardWeights): { reward: number; terms: RewardTerm[] } {
  const present: { signal: RewardTerm['signal']; score: number; weight: number }[] = [];
  if (s.compile !== null) present.push({ signal: 'compile', score: s.compile ? 1 : 0, weight: w.compile });
  if (s.testsTotal !== null && s.testsTotal > 0)
    present.push({ signal: 'tests', score: (s.testsPassed ?? 0) / s.testsTotal, weight: w.tests });
  const errorCounts = [s.lintErrors, s.typeErrors, s.schemaErrors, s.boundaryErrors].filter(
    (n): n is number => n !== null,
  );
  if (errorCounts.length > 0)
    present.push({
      signal: 'errors',
      score: errorTerm(errorCounts.reduce((a, b) => a + b, 0)),
      weight: w.errors,
    });
  if (s.human !== null)
    present.push({ signal: 'human', score: s.human === 'accept' ? 1 : 0, weight: w.human });
  if (s.kept != null && s.human === null && (w.kept ?? 0) > 0)
    present.push({ signal: 'kept', score: Math.min(1, Math.max(0, s.kept)), weight: w.kept! });
  let sum = 0;
  let weight = 0;
  for (const t of present) {
    sum += t.score * t.weight;
    weight += t.weight;
  }
  // A run with no signal at all scores 0: nothing says it was good.
  const terms = present.map((t) => ({
    signal: t.signal,
    score: t.score,
    weight: t.weight,
    share: weight === 0 ? 0 : t.weight / weight,
    contribution: weight === 0 ? 0 : (t.score * t.weight) / weight,
  }));
  return { reward: weight === 0 ? 0 : Math.min(1, Math.max(0, sum / weight)), terms };
}

/** In [0, 1]. A run with no signal at all scores 0: nothing says it was good. */
export function computeReward(s: RewardSignals, w: RewardWeights): number {
  return rewardBreakdown(s, w).reward;
}
