// Summaries over seeds for the learning benchmark: mean with a 95% t-interval, and paired bootstrap ratios.

import { mulberry32 } from './simulator.mjs';

const Z975 = 1.959963984540054;
const T975_SMALL = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262];

/** The 97.5% quantile of Student's t with `df` degrees of freedom (Cornish-Fisher expansion beyond df 9). */
export function tCritical95(df) {
  if (df < 1) return NaN;
  if (df < T975_SMALL.length) return T975_SMALL[df];
  const z = Z975;
  return (
    z +
    (z ** 3 + z) / (4 * df) +
    (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2) +
    (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3)
  );
}

/** Mean and 95% confidence interval of the mean (t-interval); a single value has an interval of itself. */
export function summarize(xs) {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { n, mean, sd: 0, lo: mean, hi: mean };
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const half = (tCritical95(n - 1) * sd) / Math.sqrt(n);
  return { n, mean, sd, lo: mean - half, hi: mean + half };
}

/**
 * mean(a) / mean(b) for paired samples (a[i] and b[i] from the same seed), with a 95% percentile-bootstrap
 * interval resampling seeds. Deterministic: the resampling has its own fixed seed.
 */
export function pairedRatio(a, b, { resamples = 2000, seed = 7 } = {}) {
  if (a.length !== b.length || a.length === 0)
    throw new Error('pairedRatio needs two samples of equal length');
  const n = a.length;
  const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ratio = mean(a) / mean(b);
  const rng = mulberry32(seed);
  const rs = [];
  for (let r = 0; r < resamples; r++) {
    let sa = 0;
    let sb = 0;
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rng() * n);
      sa += a[j];
      sb += b[j];
    }
    rs.push(sa / sb);
  }
  rs.sort((x, y) => x - y);
  return { ratio, lo: rs[Math.floor(0.025 * resamples)], hi: rs[Math.ceil(0.975 * resamples) - 1] };
}
