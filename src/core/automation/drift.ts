// Drift detection after a deploy: is the tuned model's reward worse than that of the model it replaced?

export const DRIFT_METHODS = ['threshold', 'sprt'] as const;
export type DriftMethod = (typeof DRIFT_METHODS)[number];

export interface DriftOptions {
  /**
   * `threshold`: the seed's rule, one comparison after `evaluationRuns` runs. `sprt`: a sequential test that
   * starts looking after `evaluationRuns` runs and keeps watching until the evidence is clear either way.
   */
  method: DriftMethod;
  /** Reward points (rewards are in [0, 1]) the tuned model's mean may trail the baseline's by and be kept. */
  minPerformanceDrop: number;
  /** Tuned runs before the first comparison. */
  evaluationRuns: number;
  /**
   * sprt: the most tuned runs it watches (at least evaluationRuns); with no verdict by then, the tuned model is kept.
   * Default 200.
   */
  maxEvaluationRuns?: number;
  /** sprt: the chance of rolling back a model that is no worse, that the test is designed for. Default 0.01. */
  falseRollbackRate?: number;
}

export interface DriftVerdict {
  /** `wait`: not enough evidence yet; call again after the next tuned run. */
  decision: 'rollback' | 'keep' | 'wait';
  baselineMean: number | null;
  tunedMean: number | null;
  /** baselineMean − tunedMean: positive when the tuned model does worse. */
  drop: number | null;
  /** Tuned runs the verdict rests on (for a decision, the runs at the look that decided). */
  runs: number;
  /** sprt: the log-likelihood ratio of "drop = 2 × minPerformanceDrop" against "no drop" at that look. */
  statistic?: number;
  /** One sentence for the log. */
  reason: string;
}

const DEFAULT_MAX_EVALUATION_RUNS = 200;
const DEFAULT_FALSE_ROLLBACK_RATE = 0.01;
/**
 * β: the sprt's chance of keeping, before the cap, a model whose drop is 2 × minPerformanceDrop. It sets how soon a
 * model that is no worse is kept. Fixed, not configured: the false-rollback rate and the cap are the choices users
 * make; 5% makes an early keep of a real drop rare, and a sound model is kept after about 30 runs on the drift
 * benchmark.
 */
const MISS_RATE = 0.05;
/**
 * Rewards often cluster (every run passes, every run scores 1.0), and a sample variance of 0 would make any
 * difference look certain. No reward's spread is taken as less than 0.05 points, a quarter of the 0.2 the drift
 * benchmark simulates, so the floor binds only on streams that are nearly constant.
 */
const VARIANCE_FLOOR = 0.05 * 0.05;
/** Differences of means within this much of the threshold are rounding, not a drop. */
const EPSILON = 1e-9;
/**
 * The sprt's alternative is a drop of 2 × minPerformanceDrop, which must be above 0 to be told from "no drop"; a
 * smaller minPerformanceDrop is raised to this.
 */
const SMALLEST_DROP = 0.01;

/**
 * The verdict on a deployed tuned model, given the rewards of the model it replaced (`baseline`, its recent runs
 * before the deploy) and the tuned model's rewards in the order they came. Pure and deterministic, and stable:
 * once a call decides, calls with more tuned runs give the same decision, because a verdict is the one at the
 * first look that decided.
 */
export function assessDrift(
  baseline: readonly number[],
  tuned: readonly number[],
  options: DriftOptions,
): DriftVerdict {
  const base = meanAndVariance(baseline, baseline.length);
  if (!base) {
    const t = meanAndVariance(tuned, tuned.length);
    return {
      decision: 'keep',
      baselineMean: null,
      tunedMean: t?.mean ?? null,
      drop: null,
      runs: tuned.length,
      reason: 'No runs of the replaced model to compare with: keeping the tuned model.',
    };
  }
  return options.method === 'sprt' ? sprt(base, tuned, options) : threshold(base, tuned, options);
}

interface Moments {
  n: number;
  mean: number;
  /** Sample variance (n − 1 in the denominator); NaN for a single value. */
  variance: number;
}

/** The seed's rule: after evaluationRuns tuned runs, roll back iff the mean fell by more than minPerformanceDrop. */
function threshold(base: Moments, tuned: readonly number[], o: DriftOptions): DriftVerdict {
  const runs = Math.max(1, Math.floor(o.evaluationRuns));
  if (tuned.length < runs) return waiting(base, tuned, runs);
  const t = meanAndVariance(tuned, runs)!;
  const drop = base.mean - t.mean;
  const rollback = drop > o.minPerformanceDrop + EPSILON;
  return {
    decision: rollback ? 'rollback' : 'keep',
    baselineMean: base.mean,
    tunedMean: t.mean,
    drop,
    runs,
    reason:
      `${compared(base, t)}: ${change(drop)} ${rollback ? '>' : '≤'} ${fixed(o.minPerformanceDrop)}` +
      (rollback ? ', rolling back.' : ', keeping.'),
  };
}

/**
 * Wald's sequential probability ratio test of "no drop" against "a drop of 2d", d = minPerformanceDrop, on the
 * difference of the means D = baseline mean − tuned mean. D is normal enough by the central limit theorem, with
 * variance V = s²·(1/m + 1/n) for m baseline and n tuned runs, so the log-likelihood ratio is (2d/V)(D − d): above
 * 0 exactly when D > d, as in the seed's rule, and growing with the evidence. Rolls back when it reaches
 * log((1 − β)/α), keeps when it falls to log(β/(1 − α)), and otherwise waits, at most maxEvaluationRuns runs; looks
 * start at evaluationRuns and come after every run, and the first look that crosses a bound decides.
 *
 * The baseline mean is an estimate too, and V counts its error: D/V is a Brownian motion in the information 1/V
 * however the baseline fell, which is what the test needs, and a short or noisy baseline caps the evidence that
 * any number of tuned runs can bring. s² is the larger of the two samples' variances (floored): with no drop the two
 * spreads are alike, and the larger estimate guards against an underestimate; for skewed rewards a sample's variance
 * moves with its mean (a baseline that is high by luck tends to look tight): in simulation, each sample's own
 * variance (Welch) let short baselines of skewed rewards roll back several percent of no-drop streams.
 */
function sprt(base: Moments, tuned: readonly number[], o: DriftOptions): DriftVerdict {
  const alpha = clamp(o.falseRollbackRate ?? DEFAULT_FALSE_ROLLBACK_RATE, 1e-6, 0.5);
  const first = Math.max(1, Math.floor(o.evaluationRuns));
  const cap = Math.max(first, Math.floor(o.maxEvaluationRuns ?? DEFAULT_MAX_EVALUATION_RUNS));
  const d = Math.max(o.minPerformanceDrop, SMALLEST_DROP);
  const upper = Math.log((1 - MISS_RATE) / alpha);
  const lower = Math.log(MISS_RATE / (1 - alpha));
  if (tuned.length < first) return waiting(base, tuned, first);

  let verdict: DriftVerdict | undefined;
  // Welford's running mean and sum of squares: one pass over the looks, stable for long constant streams.
  let mean = 0;
  let squares = 0;
  const last = Math.min(tuned.length, cap);
  for (let n = 1; n <= last; n++) {
    const x = tuned[n - 1]!;
    const delta = x - mean;
    mean += delta / n;
    squares += delta * (x - mean);
    if (n < first) continue;
    const t: Moments = { n, mean, variance: n > 1 ? squares / (n - 1) : NaN };
    const v = spread(base, t) * (1 / base.n + 1 / n);
    const drop = base.mean - mean;
    const llr = ((2 * d) / v) * (drop - d);
    const look = { baselineMean: base.mean, tunedMean: mean, drop, runs: n, statistic: llr };
    const evidence = `log-likelihood ratio ${fixed(llr, 1)}`;
    if (llr >= upper) {
      return {
        decision: 'rollback',
        ...look,
        reason:
          `${compared(base, t)}: ${change(drop)} beyond ${fixed(o.minPerformanceDrop)} ` +
          `(${evidence} ≥ ${fixed(upper, 1)}, false-rollback rate ${percent(alpha)}), rolling back.`,
      };
    }
    if (llr <= lower) {
      return {
        decision: 'keep',
        ...look,
        reason:
          `${compared(base, t)}: ${change(drop)}, no drop beyond ${fixed(o.minPerformanceDrop)} ` +
          `(${evidence} ≤ ${fixed(lower, 1)}), keeping.`,
      };
    }
    verdict =
      n === cap
        ? {
            decision: 'keep',
            ...look,
            reason:
              `${compared(base, t)}: ${change(drop)}, no clear drop beyond ${fixed(o.minPerformanceDrop)} ` +
              `by the limit of ${cap} runs (${evidence} < ${fixed(upper, 1)}), keeping.`,
          }
        : {
            decision: 'wait',
            ...look,
            reason:
              `${compared(base, t)}: ${change(drop)}, not yet clear (${evidence}, ` +
              `rollback at ${fixed(upper, 1)}, keep at ${fixed(lower, 1)}), watching up to ${cap} runs.`,
          };
  }
  return verdict!;
}

function waiting(base: Moments, tuned: readonly number[], needed: number): DriftVerdict {
  const t = meanAndVariance(tuned, tuned.length);
  return {
    decision: 'wait',
    baselineMean: base.mean,
    tunedMean: t?.mean ?? null,
    drop: t ? base.mean - t.mean : null,
    runs: tuned.length,
    reason: `${tuned.length} of ${needed} tuned runs before the first comparison with the replaced model.`,
  };
}

function meanAndVariance(xs: readonly number[], n: number): Moments | undefined {
  if (n === 0) return undefined;
  let mean = 0;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const delta = x - mean;
    mean += delta / (i + 1);
    squares += delta * (x - mean);
  }
  return { n, mean, variance: n > 1 ? squares / (n - 1) : NaN };
}

/** The spread both samples are taken to have: the larger sample variance, floored (a single value has none). */
function spread(a: Moments, b: Moments): number {
  const known = [a.variance, b.variance].filter((v) => !Number.isNaN(v));
  return Math.max(VARIANCE_FLOOR, ...known);
}

function compared(base: Moments, tuned: Moments): string {
  return `Mean reward ${fixed(tuned.mean)} vs ${fixed(base.mean)} over ${tuned.n} tuned and ${base.n} earlier runs`;
}

function change(drop: number): string {
  return drop >= 0 ? `down ${fixed(drop)}` : `up ${fixed(-drop)}`;
}

function fixed(x: number, digits = 2): string {
  return (Object.is(Math.round(x * 10 ** digits), -0) ? 0 : x).toFixed(digits);
}

function percent(p: number): string {
  return `${+(p * 100).toPrecision(2)}%`;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
