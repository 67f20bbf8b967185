// The difference between two arms: paired by seed when both ran the same seeds (the paired t-test and the
// exact sign-flip permutation test on the per-seed differences, with Cohen's d_z), else Welch's t-test on two
// independent samples. Each function mirrors a scipy.stats routine and is checked against it in test/stats.test.ts.
import { mean, sampleSd, tInterval, type Interval } from './summary';
import { tTwoSided } from './t';

export interface Difference {
  kind: 'paired' | 'welch';
  /** Seeds (paired) or runs per arm (Welch). */
  n: number;
  nB?: number;
  /** mean(a) - mean(b): for paired data, the mean of the per-seed differences. */
  estimate: number;
  ci?: Interval;
  t?: number;
  df?: number;
  /** Two-sided p-value of the t-test. */
  p?: number;
  /** Two-sided p-value of the exact permutation test (paired only; sign flips of the differences). */
  permutationP?: number;
  /** The smallest p the permutation test can reach with n pairs (2 / 2^n): below 0.05 only from n = 6. */
  permutationMinP?: number;
  /** Cohen's d_z = mean(d) / sd(d) for paired data; Cohen's d with the pooled sd for Welch. */
  effectSize?: number;
}

/** Exact two-sided sign-flip permutation p-value of mean(d) (as scipy.stats.permutation_test, n_resamples=inf). */
export function signFlipPermutationP(d: readonly number[]): number {
  const n = d.length;
  if (n === 0) return NaN;
  if (n > 24) throw new RangeError(`signFlipPermutationP: exact enumeration needs at most 24 differences, got ${n}`);
  const obs = mean(d);
  // The null distribution is symmetric, so two-sided = P(|mean| >= |obs|), with a relative tolerance for ties.
  const tol = Math.abs(obs) * 1e-12 + 1e-300;
  let extreme = 0;
  const total = 2 ** n;
  for (let mask = 0; mask < total; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += mask & (1 << i) ? -d[i] : d[i];
    if (Math.abs(s / n) >= Math.abs(obs) - tol) extreme++;
  }
  return Math.min(1, extreme / total);
}

/** a[i] and b[i] are the same seed. As scipy.stats.ttest_rel(a, b) plus its confidence_interval(). */
export function pairedDifference(a: readonly number[], b: readonly number[], level = 0.95): Difference {
  if (a.length !== b.length) throw new RangeError(`pairedDifference: ${a.length} vs ${b.length} values; paired data needs one value per seed in each arm`);
  const d = a.map((x, i) => x - b[i]);
  const n = d.length;
  const est = mean(d);
  const out: Difference = { kind: 'paired', n, estimate: est };
  if (n < 2) return out;
  const sd = sampleSd(d);
  const se = sd / Math.sqrt(n);
  out.df = n - 1;
  out.ci = tInterval(est, se, n - 1, level);
  if (sd > 0) {
    out.t = est / se;
    out.p = tTwoSided(out.t, n - 1);
    out.effectSize = est / sd;
  } else {
    // Every seed moved by exactly the same amount: the t statistic is undefined (scipy gives nan for 0/0).
    out.p = est === 0 ? 1 : 0;
  }
  if (n <= 24) {
    out.permutationP = signFlipPermutationP(d);
    out.permutationMinP = Math.min(1, 2 / 2 ** n);
  }
  return out;
}

/** Independent arms: as scipy.stats.ttest_ind(a, b, equal_var=False) plus its confidence_interval(). */
export function welchDifference(a: readonly number[], b: readonly number[], level = 0.95): Difference {
  const est = mean(a) - mean(b);
  const out: Difference = { kind: 'welch', n: a.length, nB: b.length, estimate: est };
  if (a.length < 2 || b.length < 2) return out;
  const va = sampleSd(a) ** 2 / a.length;
  const vb = sampleSd(b) ** 2 / b.length;
  const se = Math.sqrt(va + vb);
  if (!(se > 0)) return out;
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  out.t = est / se;
  out.df = df;
  out.p = tTwoSided(out.t, df);
  out.ci = tInterval(est, se, df, level);
  const pooled = Math.sqrt(((a.length - 1) * sampleSd(a) ** 2 + (b.length - 1) * sampleSd(b) ** 2) / (a.length + b.length - 2));
  if (pooled > 0) out.effectSize = est / pooled;
  return out;
}

function signed(v: number, digits: number): string {
  const s = Math.abs(v).toFixed(digits);
  if (Number(s) === 0) return s;
  return `${v < 0 ? '−' : '+'}${s}`;
}

/** Digits that show a difference of this size (and its interval) without false precision. */
function digitsFor(d: Difference): number {
  const scale = Math.max(Math.abs(d.estimate), d.ci ? (d.ci.high - d.ci.low) / 2 : 0);
  if (!(scale > 0)) return 3;
  return Math.min(6, Math.max(2, 1 - Math.floor(Math.log10(scale))));
}

export function formatP(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  if (p < 0.001) return '< 0.001';
  return p < 0.01 ? p.toFixed(3) : p.toFixed(2);
}

/** "p = 0.21", or "p < 0.001" where formatP gives a bound. */
export function pClause(p: number): string {
  const t = formatP(p);
  return t.startsWith('<') ? `p ${t}` : `p = ${t}`;
}

/**
 * The one-sentence verdict, e.g. "phase a − control on eval/exact_match: +0.031 (95% CI −0.02 to +0.08),
 * p = 0.21, n = 5 seeds: no evidence of a difference". `better` says which direction is better, if known.
 */
export function verdictSentence(labelA: string, labelB: string, metric: string, d: Difference, opts: { better?: 'min' | 'max'; alpha?: number } = {}): string {
  const alpha = opts.alpha ?? 0.05;
  const k = digitsFor(d);
  const head = `${labelA} − ${labelB} on ${metric}: ${signed(d.estimate, k)}`;
  const nText = d.kind === 'paired' ? `n = ${d.n} seed${d.n === 1 ? '' : 's'}` : `n = ${d.n} vs ${d.nB} runs (unpaired, Welch)`;
  if (d.p === undefined || !d.ci) return `${head}, ${nText}: too few ${d.kind === 'paired' ? 'seeds' : 'runs'} for a confidence interval (need at least 2 per arm)`;
  const ciText = `(95% CI ${signed(d.ci.low, k)} to ${signed(d.ci.high, k)})`;
  let verdict: string;
  if (d.p >= alpha) verdict = 'no evidence of a difference';
  else {
    const higher = d.estimate > 0;
    const dir = opts.better === undefined ? (higher ? 'higher' : 'lower') : (higher === (opts.better === 'max') ? 'better' : 'worse');
    verdict = `evidence that ${labelA} is ${dir} than ${labelB}`;
  }
  return `${head} ${ciText}, ${pClause(d.p)}, ${nText}: ${verdict}`;
}
