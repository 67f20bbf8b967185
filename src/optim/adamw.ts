// Fused AdamW over many tensors at once, in place, with PyTorch's torch.optim.AdamW semantics (native/adamw.cc
// has the exact formula). The caller owns the optimizer state: m and v start as zeros shaped like each param,
// and `step` counts updates from 1.
import type { NativeTensor } from '../native/binding';
import { kernelForArgs } from '../ops/native-call';
import { Tensor } from '../storage/tensor';

export interface AdamWOptions {
  /** learning rate, >= 0 */
  lr: number;
  /** first-moment decay, 0 <= beta1 < 1 (PyTorch default 0.9) */
  beta1: number;
  /** second-moment decay, 0 <= beta2 < 1 (PyTorch default 0.999) */
  beta2: number;
  /** added to sqrt(v_hat), >= 0 (PyTorch default 1e-8) */
  eps: number;
  /** decoupled weight decay, >= 0: p *= 1 - lr*weightDecay before the Adam update (PyTorch default 1e-2) */
  weightDecay: number;
  /** 1-based update count for the bias corrections 1 - beta^step */
  step: number;
}

type RawStep = (p: NativeTensor[], g: NativeTensor[], m: NativeTensor[], v: NativeTensor[], o: AdamWOptions) => void;

function handles(list: unknown, name: string): NativeTensor[] {
  if (!Array.isArray(list)) throw new TypeError(`${name}: expected an array of Tensors, got ${list === null ? 'null' : typeof list}`);
  return list.map((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${name}[${i}]: expected a Tensor, got ${t === null ? 'null' : typeof t}`);
    if (t.disposed) throw new TypeError(`${name}[${i}]: tensor was disposed`);
    return t.handle;
  });
}

function checkNumber(o: Record<string, unknown>, key: keyof AdamWOptions, ok: (x: number) => boolean, allowed: string): number {
  const x = o[key];
  if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) {
    throw new RangeError(`${key}: expected ${allowed}, got ${typeof x === 'number' ? x : x === undefined ? 'undefined' : typeof x}`);
  }
  return x;
}

function checkOptions(opts: unknown): AdamWOptions {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`options: expected { lr, beta1, beta2, eps, weightDecay, step }, got ${opts === null ? 'null' : typeof opts}`);
  const o = opts as Record<string, unknown>;
  return {
    lr: checkNumber(o, 'lr', (x) => x >= 0, 'a finite number >= 0'),
    beta1: checkNumber(o, 'beta1', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    beta2: checkNumber(o, 'beta2', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    eps: checkNumber(o, 'eps', (x) => x >= 0, 'a finite number >= 0'),
    weightDecay: checkNumber(o, 'weightDecay', (x) => x >= 0, 'a finite number >= 0'),
    step: checkNumber(o, 'step', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1'),
  };
}

export const adamw = {
  /**
   * One AdamW update of every params[i] (in place), with grads[i] and the state m[i], v[i] (updated in place).
   * All tensors f32 on one device (cpu, or cuda with a CUDA build); grads[i], m[i] and v[i] shaped like params[i]. Hyper-parameters may change from
   * call to call (LR schedules); `step` is the caller's 1-based update count.
   */
  step(params: Tensor[], grads: Tensor[], m: Tensor[], v: Tensor[], opts: AdamWOptions): void {
    const p = handles(params, 'params');
    const g = handles(grads, 'grads');
    const mh = handles(m, 'm');
    const vh = handles(v, 'v');
    for (const [list, name] of [[g, 'grads'], [mh, 'm'], [vh, 'v']] as const) {
      if (list.length !== p.length) throw new RangeError(`${name}: expected ${p.length} tensors (one per param), got ${list.length}`);
    }
    // One device per call, params[0]'s (the ops' rule, ops/native-call.ts); the native side checks every tensor.
    kernelForArgs<RawStep>('adamwStep', [params])(p, g, mh, vh, checkOptions(opts));
  },
};
