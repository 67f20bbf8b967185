// Histograms in TensorFlow's HistogramProto form, with TensorFlow's default exponential buckets
// (tensorflow/core/lib/histogram/histogram.cc: limits ±1e-12·1.1^k up to 1e20, then ±DBL_MAX, and 0).
import type { TBHistogram } from './event';

let defaultLimits: Float64Array | undefined;

/** The right edges of TensorFlow's default buckets: -DBL_MAX, ..., -1e-12, 0, 1e-12, ..., DBL_MAX. */
export function defaultBucketLimits(): Float64Array {
  if (defaultLimits) return defaultLimits;
  const pos: number[] = [];
  for (let v = 1e-12; v < 1e20; v *= 1.1) pos.push(v);
  pos.push(Number.MAX_VALUE);
  const limits = new Float64Array(2 * pos.length + 1);
  for (let i = 0; i < pos.length; i++) {
    limits[pos.length - 1 - i] = -pos[i];
    limits[pos.length + 1 + i] = pos[i];
  }
  limits[pos.length] = 0;
  defaultLimits = limits;
  return limits;
}

/** Index of the first limit strictly greater than x (C++ std::upper_bound), clamped to the last bucket. */
function bucketIndex(limits: Float64Array, x: number): number {
  let lo = 0;
  let hi = limits.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (limits[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return Math.min(lo, limits.length - 1);
}

/**
 * Summarises `values` (all finite, at least one) into a histogram. Statistics are accumulated in float64.
 * Like TensorFlow's EncodeToProto, each run of empty buckets between occupied ones is merged into one
 * empty bucket; unlike it, empty runs before the first and after the last occupied bucket are dropped,
 * so the first bucket spans [min, limit] and the last ends at max when TensorBoard draws it.
 */
export function makeHistogram(tag: string, values: ArrayLike<number>): TBHistogram {
  const n = values.length;
  if (n === 0) throw new RangeError(`addHistogram('${tag}'): values is empty; a histogram needs at least one value`);
  const limits = defaultBucketLimits();
  const counts = new Float64Array(limits.length);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const x = +values[i];
    if (!Number.isFinite(x)) {
      throw new RangeError(`addHistogram('${tag}'): values[${i}] is ${values[i]}; histograms take finite numbers only`);
    }
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    sumSquares += x * x;
    counts[bucketIndex(limits, x)] += 1;
  }
  const first = bucketIndex(limits, min);
  const last = bucketIndex(limits, max);
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  for (let i = first; i <= last; i++) {
    if (counts[i] === 0) {
      while (i + 1 <= last && counts[i + 1] === 0) i++;
    }
    bucketLimit.push(limits[i]);
    bucket.push(counts[i]);
  }
  return { tag, min, max, num: n, sum, sumSquares, bucketLimit, bucket };
}
