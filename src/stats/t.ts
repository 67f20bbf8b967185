// The Student t distribution: CDF, two-sided tail and quantile, our own implementation (no dependency),
// exact to ~1e-12 against scipy.stats.t (test/stats.test.ts). Degrees of freedom may be fractional (Welch).
import { logGamma, regularizedBeta } from './special';

function checkDf(df: number): void {
  if (!(df > 0) || !Number.isFinite(df)) throw new RangeError(`t distribution: degrees of freedom must be a finite number > 0, got ${df}`);
}

/** P(T > |t|) for T ~ t(df), computed without cancellation for large |t|. */
function upperTail(t: number, df: number): number {
  const x = df / (df + t * t);
  return 0.5 * regularizedBeta(x, df / 2, 0.5);
}

/** P(T <= t). */
export function tCdf(t: number, df: number): number {
  checkDf(df);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = upperTail(t, df);
  return t >= 0 ? 1 - tail : tail;
}

/** Two-sided p-value P(|T| >= |t|). */
export function tTwoSided(t: number, df: number): number {
  checkDf(df);
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return Math.min(1, 2 * upperTail(t, df));
}

/** The density of t(df) at t. */
export function tPdf(t: number, df: number): number {
  checkDf(df);
  const logC = logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  return Math.exp(logC - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/** The p-quantile of t(df): the t with tCdf(t, df) = p. */
export function tQuantile(p: number, df: number): number {
  checkDf(df);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`tQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Solve in the smaller tail for accuracy, then mirror (the distribution is symmetric).
  const upper = p > 0.5;
  const q = upper ? 1 - p : p; // target lower-tail probability of -|t|
  // Bracket: the lower-tail probability falls as the magnitude grows.
  let lo = 0;
  let hi = 1;
  while (upperTail(hi, df) > q) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) break;
  }
  // Newton steps on f(t) = upperTail(t) - q inside the bracket, falling back to bisection.
  let t = (lo + hi) / 2;
  for (let i = 0; i < 200; i++) {
    const f = upperTail(t, df) - q;
    if (f > 0) lo = t;
    else hi = t;
    const step = f / tPdf(t, df); // d upperTail / dt = -pdf, so Newton is t + f/pdf
    let next = t + step;
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - t) <= 1e-15 * Math.max(1, Math.abs(t))) {
      t = next;
      break;
    }
    t = next;
  }
  return upper ? t : -t;
}
