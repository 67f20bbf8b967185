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

export interface MlaKVOptions {
  /** qk_nope_head_dim: kv's last dim is nope + v_head_dim. */
  nope: number;
  /** Where the shared key part starts in src's last dim (its length is src's last dim minus ropeStart). */
  ropeStart?: number;
}

/**
 * MLA key/value assembly (CPU only; MLAttention uses it on the CPU): kv [B,S,H,nope+dv], src [B,S,C] ->
 * k [B,S,H,nope+rope] = [kv[..., :nope], src[..., ropeStart:]] (the shared part repeated per head),
 * v [B,S,H,dv] = kv[..., nope:].
 */
export function mlaKV(kv: Tensor, src: Tensor, opts: MlaKVOptions): { k: Tensor; v: Tensor } {
  return callMulti<'k' | 'v'>('mlaKV', kv, src, { nope: opts.nope, ropeStart: opts.ropeStart ?? 0 });
}

/** Gradients of mlaKV: dkv [B,S,H,nope+dv], dsrc [B,S,C] (dk's shared part summed over heads, zeros before ropeStart). */
export function mlaKVBackward(dk: Tensor, dv: Tensor, opts: MlaKVOptions & { C: number }): { dkv: Tensor; dsrc: Tensor } {
  return callMulti<'dkv' | 'dsrc'>('mlaKVBackward', dk, dv, { nope: opts.nope, ropeStart: opts.ropeStart ?? 0, C: opts.C });
}
