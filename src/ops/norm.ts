import type { Tensor } from '../storage/tensor';
import { call, callMulti } from './native-call';

/** RMSNorm over the last dimension: y = x / sqrt(mean(x^2) + eps) * weight; rstd [...] is kept for backward. */
export function rmsnorm(x: Tensor, weight: Tensor | null, eps: number): { y: Tensor; rstd: Tensor } {
  return callMulti<'y' | 'rstd'>('rmsnorm', x, weight ?? null, eps);
}

export function rmsnormBackward(dy: Tensor, x: Tensor, weight: Tensor | null, rstd: Tensor): { dx: Tensor; dWeight: Tensor | null } {
  return callMulti<'dx' | 'dWeight'>('rmsnormBackward', dy, x, weight ?? null, rstd);
}

/** y = x / sqrt(sum x^2 + eps) over the last dimension; rnorm [...] is kept for backward. */
export function l2norm(x: Tensor, eps = 1e-6): { y: Tensor; rnorm: Tensor } {
  return callMulti<'y' | 'rnorm'>('l2norm', x, eps);
}

export function l2normBackward(dy: Tensor, y: Tensor, rnorm: Tensor): Tensor {
  return call('l2normBackward', dy, y, rnorm);
}
