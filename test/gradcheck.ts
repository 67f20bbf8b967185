// Central finite-difference gradient checks for the autograd functions (float32 engine).
// The scalar probed is L = Σ out ⊙ R with a fixed random R, evaluated in float64 on the host, so the
// check covers every output element. Error metric: rmsRel over the probed coordinates.
import { Tensor, Var, ag, backward, noGrad, scope } from '../src';
import { randn, rmsRel, rng } from './helpers';

export interface GradInput {
  shape: number[];
  data: Float32Array;
  /** false: a constant input (no gradient checked). */
  grad?: boolean;
}

export interface GradCheckOptions {
  h?: number;
  /** How many coordinates per input to probe (all when the input is smaller). */
  coords?: number;
  seed?: number;
}

function dot64(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Returns the worst rmsRel(numeric, analytic) over inputs, and per-input errors for messages. */
export function gradError(inputs: GradInput[], f: (xs: Var[]) => Var, opts: GradCheckOptions = {}): { worst: number; errors: number[] } {
  const h = opts.h ?? 1e-2;
  const coords = opts.coords ?? 24;
  return scope(() => {
    const vars = inputs.map((x) => new Var(Tensor.from(x.data, x.shape), x.grad !== false));
    const out = f(vars);
    const R = randn(out.data.size, (opts.seed ?? 1) + 99);
    const loss = ag.sum(ag.mul(out, new Var(Tensor.from(R, out.shape))));
    backward(loss);
    const evalAt = (k: number, data: Float32Array) =>
      noGrad(() =>
        scope(() => {
          const xs = inputs.map((x, j) => new Var(Tensor.from(j === k ? data : x.data, x.shape)));
          return dot64(f(xs).data.toFloat32Array(), R);
        }),
      );
    const errors: number[] = [];
    inputs.forEach((x, k) => {
      if (x.grad === false) return;
      const analytic = vars[k].grad ? vars[k].grad!.toFloat32Array() : new Float32Array(x.data.length);
      const r = rng((opts.seed ?? 1) * 31 + k);
      const n = x.data.length;
      const idx = n <= coords ? [...Array(n).keys()] : Array.from({ length: coords }, () => Math.floor(r() * n));
      const num: number[] = [];
      const ana: number[] = [];
      for (const i of idx) {
        const d = Float32Array.from(x.data);
        d[i] = x.data[i] + h;
        const fp = evalAt(k, d);
        d[i] = x.data[i] - h;
        const fm = evalAt(k, d);
        num.push((fp - fm) / (2 * h));
        ana.push(analytic[i]);
      }
      errors.push(rmsRel(num, ana));
    });
    for (const v of vars) v.zeroGrad(); // leaf gradients are kept out of scopes
    return { worst: Math.max(0, ...errors), errors };
  });
}

export function assertGrad(name: string, inputs: GradInput[], f: (xs: Var[]) => Var, tol: number, opts: GradCheckOptions = {}): void {
  const { worst, errors } = gradError(inputs, f, opts);
  if (process.env.RECLIN_GRAD_VERBOSE) console.log(`${name}: ${errors.map((e) => e.toExponential(2)).join(', ')}`);
  if (!(worst <= tol)) throw new Error(`${name}: finite-difference gradient error ${errors.map((e) => e.toExponential(2)).join(', ')} > ${tol}`);
}

/** A random input of the given shape (seeded). */
export function input(shape: number[], seed: number, scale = 1, grad = true): GradInput {
  return { shape, data: randn(shape.reduce((a, b) => a * b, 1), seed, scale), grad };
}
