// How the functional ops reach the addon: raw handles in, Tensors out. The native side validates
// shapes and dtypes and names the offending argument in its error.
import { findOp, op } from '../native/loader';
import type { NativeTensor } from '../native/binding';
import { Tensor } from '../tensor/tensor';

/** True when the first Tensor among the arguments (also inside arrays) lives on a CUDA device. */
function onCuda(args: unknown[]): boolean {
  for (const a of args) {
    const t = a instanceof Tensor ? a : Array.isArray(a) ? a.find((x) => x instanceof Tensor) : undefined;
    if (t instanceof Tensor) return !t.disposed && t.device.startsWith('cuda');
  }
  return false;
}

/** The raw op for these arguments: `${name}Cuda` (cuda/*.cu) when the first tensor is on a CUDA device. */
function resolve(name: string, args: unknown[]): (...a: unknown[]) => unknown {
  if (!onCuda(args)) return op<(...a: unknown[]) => unknown>(name);
  const fn = findOp(`${name}Cuda`);
  if (!fn) throw new Error(`reclin: op ${name} has no CUDA kernel yet (move its tensors to the cpu with .to('cpu'))`);
  return fn;
}

/** Calls a raw op; Tensor arguments (also inside arrays) become handles. */
export function callRaw(name: string, ...args: unknown[]): any {
  const conv = args.map((a) => (a instanceof Tensor ? a.handle : Array.isArray(a) ? a.map((x) => (x instanceof Tensor ? x.handle : x)) : a));
  return resolve(name, args)(...conv);
}

/** Calls a raw op that returns one tensor handle. */
export function call(name: string, ...args: unknown[]): Tensor {
  return Tensor.wrap(callRaw(name, ...args));
}

/** Calls a raw op that returns an object of tensor handles (null stays null). */
export function callMulti<K extends string>(name: string, ...args: unknown[]): Record<K, Tensor> {
  const r = callRaw(name, ...args) as Record<string, NativeTensor | null>;
  const out: Record<string, Tensor | null> = {};
  for (const [k, v] of Object.entries(r)) out[k] = v === null ? null : Tensor.wrap(v);
  return out as Record<K, Tensor>;
}
