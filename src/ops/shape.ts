import type { Tensor } from '../storage/tensor';
import { call, callRaw } from './native-call';

/** Joins tensors along dim (all other dimensions equal). */
export const concat = (tensors: Tensor[], dim: number): Tensor => call('concat', tensors, dim);
/** Elements [start, end) along dim (negative indices count from the end). */
export const slice = (x: Tensor, dim: number, start: number, end: number): Tensor => call('slice', x, dim, start, end);
/** dst[start, start + dy.shape[dim]) along dim += dy, in place (f32, CPU): sliceBackward added into a gradient held already. */
export const sliceAccumulate = (dst: Tensor, dy: Tensor, dim: number, start: number): void => {
  callRaw('sliceAccumulate', dst, dy, dim, start);
};
/** Zeros of inputShape with dy placed at [start, start + dy.shape[dim]) along dim. */
export const sliceBackward = (dy: Tensor, inputShape: readonly number[], dim: number, start: number): Tensor =>
  call('sliceBackward', dy, [...inputShape], dim, start);
/** A new contiguous tensor with dim0 and dim1 swapped. */
export const transpose = (x: Tensor, dim0: number, dim1: number): Tensor => call('transpose', x, dim0, dim1);
