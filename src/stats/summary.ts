// Per-group statistics over seeds: n, mean, sample standard deviation, the Student-t 95% interval of the mean,
// and for bounded metrics (values in [0, 1] such as exact match) the exact bootstrap percentile interval.
import { mulberry32 as rng } from '../data/rng';
import { logGamma } from './special';
import { tQuantile } from './t';

export interface Interval {
  low: number;
  high: number;
}

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); NaN for n < 2. */
  sd: number;
  /** Standard error of the mean, sd / sqrt(n). */
  se: number;
  /** Student-t interval of the mean at `level`; undefined for n < 2. */
  ci?: Interval;
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (two-pass, n - 1 denominator). */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

/** Mean ± t_{(1+level)/2, n-1} · se. */
export function tInterval(m: number, se: number, df: number, level = 0.95): Interval {
  const h = tQuantile((1 + level) / 2, df) * se;
  return { low: m - h, high: m + h };
}

export function summarize(xs: readonly number[], level = 0.95): Summary {
  if (xs.length === 0) throw new RangeError('summarize: no values');
  for (const x of xs) if (!Number.isFinite(x)) throw new RangeError(`summarize: values must be finite, got ${x}`);
  const n = xs.length;
  const m = mean(xs);
  const sd = sampleSd(xs);
  const se = sd / Math.sqrt(n);
  return { n, mean: m, sd, se, ci: n >= 2 ? tInterval(m, se, n - 1, level) : undefined };
}


/** Above this many values the bootstrap is Monte Carlo (EXACT_BOOTSTRAP_MAX = 10 is 92,378 distinct resamples). */
export const EXACT_BOOTSTRAP_MAX = 10;

/**
 * Percentile bootstrap interval of the mean. Up to EXACT_BOOTSTRAP_MAX values it is exact: every distinct
 * resample (a multiset of the values) with its multinomial probability, so the interval equals the limit of
 * infinitely many resamples; the quantile is the inverted CDF (smallest mean whose probability mass up to it
 * reaches p), which stays within the range of the data, hence within [0, 1] for a bounded metric.
 */
export function bootstrapInterval(xs: readonly number[], level = 0.95, opts: { resamples?: number; seed?: number } = {}): Interval & { exact: boolean } {
  const n = xs.length;
  if (n === 0) throw new RangeError('bootstrapInterval: no values');
  const dist: [number, number][] = []; // [mean of a resample, probability]
  if (n <= EXACT_BOOTSTRAP_MAX) {
    const counts = new Array<number>(n).fill(0);
    const logNorm = logGamma(n + 1) - n * Math.log(n);
    const visit = (i: number, left: number, sum: number, logW: number) => {
      if (i === n - 1) {
        counts[i] = left;
        dist.push([(sum + left * xs[i]) / n, Math.exp(logNorm + logW - logGamma(left + 1))]);
        return;
      }
      for (let k = 0; k <= left; k++) {
        counts[i] = k;
        visit(i + 1, left - k, sum + k * xs[i], logW - logGamma(k + 1));
      }
    };
    visit(0, n, 0, 0);
  } else {
    const draws = opts.resamples ?? 20_000;
    const next = rng(opts.seed ?? 12345);
    for (let r = 0; r < draws; r++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += xs[Math.floor(next() * n)];
      dist.push([s / n, 1 / draws]);
    }
  }
  dist.sort((a, b) => a[0] - b[0]);
  const quantile = (p: number) => {
    let acc = 0;
    for (const [v, w] of dist) {
      acc += w;
      if (acc >= p - 1e-12) return v;
    }
    return dist[dist.length - 1][0];
  };
  const alpha = (1 - level) / 2;
  return { low: quantile(alpha), high: quantile(1 - alpha), exact: n <= EXACT_BOOTSTRAP_MAX };
}
