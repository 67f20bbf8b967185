// Every statistic of src/stats against scipy on fixed numbers: the t distribution (CDF, two-sided tail,
// quantile, fractional df), summaries with Student-t intervals, the paired t-test with its interval, the exact
// sign-flip permutation test, Welch's test, and the exact bootstrap against brute-force numpy enumeration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapInterval, pairedDifference, regularizedBeta, signFlipPermutationP, summarize, tCdf, tQuantile, tTwoSided, verdictSentence, welchDifference } from '../src/stats';
import { requirePython, runPython } from './helpers';

const close = (name: string, ref: number, got: number, tol: number) => {
  const err = Math.abs(ref - got) / Math.max(1, Math.abs(ref));
  assert.ok(err <= tol, `${name}: scipy ${ref}, ours ${got} (error ${err.toExponential(2)} > ${tol})`);
};

const DFS = [1, 2, 2.5, 3, 4, 7.3, 10, 29, 100, 1000];
const TS = [-40, -6.2, -2.776, -1, -0.3, 0, 0.05, 1.5, 2.0, 3.1, 12, 250];
const PS = [1e-9, 1e-4, 0.005, 0.025, 0.1, 0.3, 0.5, 0.7, 0.9, 0.975, 0.995, 0.9999];
const SAMPLES = [
  [0.125, 0.25, 0.0625, 0.1875, 0.125],
  [1.92, 2.05, 1.87, 2.11],
  [3.5, 3.5000001, 3.4999],
  [0, 1, 0, 0, 1, 1, 0, 1],
];
const PAIRS: [number[], number[]][] = [
  [[0.21, 0.34, 0.18, 0.3, 0.25], [0.2, 0.27, 0.2, 0.22, 0.19]],
  [[1.91, 2.4, 2.02], [1.95, 2.31, 2.1]],
  [[0.5, 0.625, 0.5, 0.75, 0.5, 0.4375, 0.625], [0.4375, 0.5, 0.5, 0.5, 0.375, 0.4375, 0.5]],
];

const SCRIPT = `
import json, sys, itertools
import numpy as np
from scipy import stats
q = json.loads(sys.argv[1])
out = {}
out['cdf'] = [[float(stats.t.cdf(t, df)) for t in q['ts']] for df in q['dfs']]
out['sf2'] = [[float(2 * stats.t.sf(abs(t), df)) for t in q['ts']] for df in q['dfs']]
out['ppf'] = [[float(stats.t.ppf(p, df)) for p in q['ps']] for df in q['dfs']]
from scipy.special import betainc
out['betainc'] = [float(betainc(a, b, x)) for (x, a, b) in q['beta']]
def summ(x):
    x = np.array(x); n = len(x); m = x.mean(); sd = x.std(ddof=1); se = stats.sem(x)
    lo, hi = stats.t.interval(0.95, n - 1, loc=m, scale=se)
    # the exact bootstrap by brute force: every one of n^n resamples, inverted-CDF percentiles
    means = np.array([x[list(ix)].mean() for ix in itertools.product(range(n), repeat=n)]) if n <= 7 else None
    boot = [float(np.quantile(means, 0.025, method='inverted_cdf')), float(np.quantile(means, 0.975, method='inverted_cdf'))] if means is not None else None
    return dict(mean=float(m), sd=float(sd), lo=float(lo), hi=float(hi), boot=boot)
out['summ'] = [summ(x) for x in q['samples']]
def pair(a, b):
    a = np.array(a); b = np.array(b)
    r = stats.ttest_rel(a, b); ci = r.confidence_interval(0.95)
    perm = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type='samples', n_resamples=np.inf, alternative='two-sided', vectorized=True)
    w = stats.ttest_ind(a, b, equal_var=False); wci = w.confidence_interval(0.95)
    d = a - b
    return dict(t=float(r.statistic), p=float(r.pvalue), lo=float(ci.low), hi=float(ci.high), perm=float(perm.pvalue), dz=float(d.mean() / d.std(ddof=1)),
                wt=float(w.statistic), wp=float(w.pvalue), wdf=float(w.df), wlo=float(wci.low), whi=float(wci.high))
out['pairs'] = [pair(a, b) for a, b in q['pairs']]
print(json.dumps(out))
`;

test('statistics equal scipy on fixed numbers', (t) => {
  const py = requirePython(['scipy', 'numpy']);
  if ('skip' in py) return t.skip(py.skip);
  const beta: [number, number, number][] = [[0.3, 2, 0.5], [0.999, 0.5, 50], [1e-6, 3, 0.5], [0.5, 500, 500], [0.02, 0.5, 0.5]];
  const ref = JSON.parse(runPython(py.python, SCRIPT, [JSON.stringify({ dfs: DFS, ts: TS, ps: PS, beta, samples: SAMPLES, pairs: PAIRS })]));
  DFS.forEach((df, i) => {
    TS.forEach((x, j) => {
      close(`t.cdf(${x}, ${df})`, ref.cdf[i][j], tCdf(x, df), 1e-12);
      close(`2 t.sf(|${x}|, ${df})`, ref.sf2[i][j], tTwoSided(x, df), 1e-12);
      // Deep tails: relative accuracy of the small probability itself.
      if (ref.sf2[i][j] > 0 && ref.sf2[i][j] < 1e-3) close(`relative tail at ${x}, ${df}`, 1, tTwoSided(x, df) / ref.sf2[i][j], 1e-10);
    });
    PS.forEach((p, j) => close(`t.ppf(${p}, ${df})`, ref.ppf[i][j], tQuantile(p, df), 1e-10));
  });
  beta.forEach(([x, a, b], i) => close(`betainc(${a}, ${b}, ${x})`, ref.betainc[i], regularizedBeta(x, a, b), 1e-12));
  SAMPLES.forEach((xs, i) => {
    const s = summarize(xs);
    const r = ref.summ[i];
    close(`mean ${i}`, r.mean, s.mean, 1e-13);
    close(`sd ${i}`, r.sd, s.sd, 1e-10);
    close(`t interval low ${i}`, r.lo, s.ci!.low, 1e-10);
    close(`t interval high ${i}`, r.hi, s.ci!.high, 1e-10);
    if (r.boot) {
      const b = bootstrapInterval(xs);
      assert.ok(b.exact);
      close(`bootstrap low ${i}`, r.boot[0], b.low, 1e-12);
      close(`bootstrap high ${i}`, r.boot[1], b.high, 1e-12);
    }
  });
  PAIRS.forEach(([a, b], i) => {
    const d = pairedDifference(a, b);
    const r = ref.pairs[i];
    close(`paired t ${i}`, r.t, d.t!, 1e-10);
    close(`paired p ${i}`, r.p, d.p!, 1e-10);
    close(`paired ci low ${i}`, r.lo, d.ci!.low, 1e-10);
    close(`paired ci high ${i}`, r.hi, d.ci!.high, 1e-10);
    close(`permutation p ${i}`, r.perm, d.permutationP!, 1e-12);
    close(`d_z ${i}`, r.dz, d.effectSize!, 1e-10);
    const w = welchDifference(a, b);
    close(`welch t ${i}`, r.wt, w.t!, 1e-10);
    close(`welch df ${i}`, r.wdf, w.df!, 1e-10);
    close(`welch p ${i}`, r.wp, w.p!, 1e-10);
    close(`welch ci low ${i}`, r.wlo, w.ci!.low, 1e-10);
    close(`welch ci high ${i}`, r.whi, w.ci!.high, 1e-10);
  });
});

test('the verdict sentence', () => {
  const d = pairedDifference([0.21, 0.34, 0.18, 0.3, 0.25], [0.2, 0.27, 0.2, 0.22, 0.19]);
  assert.match(verdictSentence('phase a', 'control', 'eval/exact_match', d, { better: 'max' }), /^phase a − control on eval\/exact_match: \+0\.040 \(95% CI −0\.0\d\d to \+0\.0\d\d\), p = 0\.\d\d, n = 5 seeds: no evidence of a difference$/);
  const strong = pairedDifference([1.1, 1.2, 1.15, 1.22, 1.18], [1.0, 1.01, 1.02, 1.0, 1.03]);
  assert.match(verdictSentence('a', 'b', 'eval/loss', strong, { better: 'min' }), /: evidence that a is worse than b$/);
  assert.match(verdictSentence('a', 'b', 'x', pairedDifference([1], [2])), /too few seeds for a confidence interval/);
  // Three seeds can never give an exact permutation p below 0.25.
  assert.equal(pairedDifference([3, 2, 5], [1, 1, 1]).permutationMinP, 0.25);
  assert.equal(signFlipPermutationP([1, 1, 1]), 0.25);
});

test('bad input is refused with the reason', () => {
  assert.throws(() => tQuantile(1.5, 3), /p must be in \[0, 1\], got 1.5/);
  assert.throws(() => tCdf(1, 0), /degrees of freedom must be a finite number > 0, got 0/);
  assert.throws(() => summarize([1, NaN]), /values must be finite, got NaN/);
  assert.throws(() => pairedDifference([1, 2], [1]), /one value per seed/);
});
