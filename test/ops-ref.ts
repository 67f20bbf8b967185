// Shared float64 references and checks for the ops tests (test/ops-*.test.ts).
import assert from 'node:assert/strict';
import { Tensor } from '../src';
import { randn } from './helpers';

export type F64 = Float64Array;

export const f64 = (a: ArrayLike<number>): F64 => Float64Array.from(a);
export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A seeded random f32 tensor and its float64 copy. */
export function rand(shape: number[], seed: number, scale = 1): { t: Tensor; x: F64; data: Float32Array } {
  const data = randn(numel(shape), seed, scale);
  return { t: Tensor.from(data, shape), x: f64(data), data };
}

export const vals = (t: Tensor): F64 => f64(t.toFloat32Array());

/** Bit-exact equality of two f32 results (determinism checks). */
export function assertSameBits(name: string, a: Float32Array, b: Float32Array): void {
  assert.equal(a.length, b.length, `${name}: lengths differ`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) assert.fail(`${name}: element ${i} differs between runs (${a[i]} vs ${b[i]})`);
}

/**
 * Gradient of L = sum(dy * f(inputs)) with respect to inputs[which], by central differences in float64.
 * f must be a float64 reference forward.
 */
export function fdGrad(f: (xs: F64[]) => F64, inputs: F64[], dy: F64, which: number, h = 1e-5): F64 {
  const xs = inputs.map((x) => Float64Array.from(x));
  const g = new Float64Array(xs[which].length);
  const L = () => {
    const y = f(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += dy[i] * y[i];
    return s;
  };
  for (let i = 0; i < g.length; i++) {
    const x0 = xs[which][i];
    xs[which][i] = x0 + h;
    const lp = L();
    xs[which][i] = x0 - h;
    const lm = L();
    xs[which][i] = x0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

/** Float64 reference of C = alpha * op(A) op(B) for one matrix pair. */
export function matmulRef(a: F64, b: F64, M: number, N: number, K: number, transA: boolean, transB: boolean, alpha = 1): F64 {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (transA ? a[k * M + i] : a[i * K + k]) * (transB ? b[j * K + k] : b[k * N + j]);
      c[i * N + j] = alpha * s;
    }
  return c;
}
