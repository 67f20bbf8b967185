import type { Tensor } from '../storage/tensor';
import { callMulti } from './native-call';

export interface AttentionOptions {
  /** Defaults to D^-1/2. */
  scale?: number;
}

/**
 * Causal softmax attention, no positional encoding: q [B,Tq,H,D], k [B,Tk,H,D], v [B,Tk,H,Dv] ->
 * o [B,Tq,H,Dv], lse [B,H,Tq]. Usually Tq == Tk; with Tq < Tk the queries are the last Tq positions (query i
 * sits at position Tk - Tq + i and sees keys 0 .. Tk - Tq + i), e.g. a chunk attending to cached keys.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): { o: Tensor; lse: Tensor } {
  return callMulti<'o' | 'lse'>('causalAttention', q, k, v, opts);
}

/** Gradients of causalAttention from its saved o and lse: dq [B,Tq,H,D], dk [B,Tk,H,D], dv [B,Tk,H,Dv]. */
export function causalAttentionBackward(
  dO: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor, opts: AttentionOptions = {},
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  return callMulti<'dq' | 'dk' | 'dv'>('causalAttentionBackward', dO, q, k, v, o, lse, opts);
}
