// How the functional ops reach the addon: raw handles in, Tensors out. The native side validates
// shapes and dtypes and names the offending argument in its error.
import type { NativeTensor } from '../native/binding';
import { kernelFor } from '../native/route';
import { Tensor } from '../storage/tensor';

/** The device of the first live Tensor among the arguments (also inside arrays); 'cpu' when there is none. */
export function deviceOfArgs(args: unknown[]): string {
  for (const a of args) {
    const t = a instanceof Tensor ? a : Array.isArray(a) ? a.find((x) => x instanceof Tensor) : undefined;
    if (t instanceof Tensor) return t.disposed ? 'cpu' : t.device;  // a disposed tensor: the CPU op names it
  }
  return 'cpu';
}

/**
 * The raw op for these arguments: the kernels of the first live tensor's device (native/route.ts maps a device to
 * its kernels). Every op routes through here, so one rule picks the device; the native side checks the others.
 */
export function kernelForArgs<F extends (...a: any[]) => any = (...a: unknown[]) => unknown>(name: string, args: unknown[]): F {
  return kernelFor<F>(name, deviceOfArgs(args));
}

/** Calls a raw op; Tensor arguments (also inside arrays) become handles. */
export function callRaw(name: string, ...args: unknown[]): any {
  const conv = args.map((a) => (a instanceof Tensor ? a.handle : Array.isArray(a) ? a.map((x) => (x instanceof Tensor ? x.handle : x)) : a));
  return kernelForArgs(name, args)(...conv);
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
