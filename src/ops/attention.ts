import type { Tensor } from '../tensor/tensor';
import { callMulti } from './native-call';

export interface AttentionOptions {
  /** Defaults to D^-1/2. */
  scale?: number;
}

/** Causal softmax attention, no positional encoding: q,k [B,T,H,D], v [B,T,H,Dv] -> o [B,T,H,Dv], lse [B,H,T]. */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): { o: Tensor; lse: Tensor } {
  return callMulti<'o' | 'lse'>('causalAttention', q, k, v, opts);
}

export function causalAttentionBackward(
  dO: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor, opts: AttentionOptions = {},
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  return callMulti<'dq' | 'dk' | 'dv'>('causalAttentionBackward', dO, q, k, v, o, lse, opts);
}
