import type { NativeTensor } from '../native/binding';
import { backendOf } from '../native/route';
import { Tensor } from '../storage/tensor';
import { call, callRaw, deviceOfArgs } from './native-call';

export interface ReduceOptions {
  /** Dimension(s) to reduce (negative counts from the end); omitted: all, giving shape []. */
  dim?: number | number[];
  keepDim?: boolean;
}

function dims(opts: ReduceOptions): number[] {
  if (opts.dim === undefined) return [];
  return Array.isArray(opts.dim) ? opts.dim : [opts.dim];
}

/** Sum over dimensions (accumulated in double, fixed order). */
export const sum = (x: Tensor, opts: ReduceOptions = {}): Tensor => call('sumDims', x, dims(opts), !!opts.keepDim, false);
/** Mean over dimensions. */
export const mean = (x: Tensor, opts: ReduceOptions = {}): Tensor => call('sumDims', x, dims(opts), !!opts.keepDim, true);
/** Sums away the dimensions along which `shape` was broadcast to x's shape (the backward of broadcasting). */
export const sumToShape = (x: Tensor, shape: readonly number[]): Tensor => call('sumToShape', x, [...shape]);
/**
 * Sum of squares of every element of every tensor, deterministic (CPU: float64; CUDA: compensated fp32). On CUDA this
 * reads a device scalar back, so it waits for the device: use sumSquaresScalar or clipGradNorm inside a step.
 */
export function sumSquares(tensors: Tensor[]): number {
  const r = callRaw('sumSquares', tensors) as number | NativeTensor;
  if (typeof r === 'number') return r;
  const t = Tensor.wrap(r);
  try {
    return t.toFloat32Array()[0];
  } finally {
    t.dispose();
  }
}

/** sumSquares as an f32 [1] tensor on the tensors' device (no wait for the device on CUDA). */
export function sumSquaresScalar(tensors: Tensor[]): Tensor {
  if (backendOf(deviceOfArgs([tensors])) === 'cpu') return Tensor.from([callRaw('sumSquares', tensors) as number], [1]);
  return call('sumSquares', tensors);
}

/**
 * Global-norm gradient clipping: returns the norm of all grads before clipping as an f32 [1] tensor on their device,
 * and when maxNorm is given and the norm exceeds it, scales every grad in place by maxNorm / (norm + 1e-6). On CUDA
 * the decision is taken on the device (no wait); read the norm when the step's other values are read.
 */
export function clipGradNorm(grads: Tensor[], maxNorm: number | null): Tensor {
  if (maxNorm !== null && !(typeof maxNorm === 'number' && maxNorm > 0 && Number.isFinite(maxNorm)))
    throw new RangeError(`maxNorm: expected a finite number > 0 or null, got ${maxNorm}`);
  if (grads.length === 0) return Tensor.from([0], [1]);
  const device = deviceOfArgs([grads]);
  if (backendOf(device) !== 'cpu') return call('clipGradNorm', grads, maxNorm);
  const norm = Math.sqrt(callRaw('sumSquares', grads) as number);
  if (maxNorm !== null && norm > maxNorm) for (const g of grads) callRaw('scaleInPlace', g, maxNorm / (norm + 1e-6));
  return Tensor.from([norm], [1]);
}
/** Softmax over the last dimension. */
export const softmax = (x: Tensor): Tensor => call('softmax', x);
/** Index of the maximum over the last dimension -> i32 [...]. */
export const argmax = (x: Tensor): Tensor => call('argmax', x);
