import type { Tensor } from '../storage/tensor';
import { call, callRaw } from './native-call';

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

/**
 * c += matmul(a, b) in place (c f32 of the product's shape, sharing no storage with a or b); the CPU engine only.
 * The sum rounds as the GEMM's own accumulation does, so it may differ from add(c, matmul(a, b)) in the last bits.
 */
export function matmulAccumulate(c: Tensor, a: Tensor, b: Tensor, opts: MatmulOptions = {}): void {
  callRaw('matmulAccumulate', c, a, b, opts);
}
