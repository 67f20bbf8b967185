import type { Tensor } from '../tensor/tensor';
import { call, callRaw } from './native-call';

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
/** Sum of squares of every element of every tensor, in float64, deterministic (for gradient clipping). */
export const sumSquares = (tensors: Tensor[]): number => callRaw('sumSquares', tensors) as number;
/** Softmax over the last dimension. */
export const softmax = (x: Tensor): Tensor => call('softmax', x);
/** Index of the maximum over the last dimension -> i32 [...]. */
export const argmax = (x: Tensor): Tensor => call('argmax', x);
