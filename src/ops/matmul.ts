import type { Tensor } from '../storage/tensor';
import { call } from './native-call';

export interface MatmulOptions {
  /** a is stored [...,K,M]; use its transpose (read in place, never materialised). */
  transA?: boolean;
  /** b is stored [...,N,K] (or [N,K] when shared); use its transpose. */
  transB?: boolean;
  /** Scales the product. */
  alpha?: number;
}

/**
 * Batched matrix product: a [...,M,K] x b [...,K,N] -> [...,M,N]. b may be 2-D [K,N] and shared across
 * a's batch. A blocked SIMD GEMM; bit-identical run to run.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return call('matmul', a, b, opts);
}
