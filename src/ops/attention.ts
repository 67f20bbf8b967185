import type { Tensor } from '../storage/tensor';
import { callMulti } from './native-call';

export interface AttentionOptions {
  /** Defaults to D^-1/2. */
  scale?: number;
}

export interface AttentionForwardOptions extends AttentionOptions {
  /**
   * CPU: keep the probabilities P for the backward when they take at most this many bytes (about
   * B·H·Tq·Tk·2 for causal self-attention); default 0, never. The backward then skips recomputing them
   * (~25% of its time); its results are bit-identical either way.
   */
  probsBudget?: number;
}

export interface AttentionBackwardOptions extends AttentionOptions {
  /** The forward's `probs` (same q, k, v and scale), or null/undefined to recompute them. */
  probs?: Tensor | null;
}

/**
 * Causal softmax attention, no positional encoding: q [B,Tq,H,D], k [B,Tk,H,D], v [B,Tk,H,Dv] ->
 * o [B,Tq,H,Dv], lse [B,H,Tq]. Usually Tq == Tk; with Tq < Tk the queries are the last Tq positions (query i
 * sits at position Tk - Tq + i and sees keys 0 .. Tk - Tq + i), e.g. a chunk attending to cached keys.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionForwardOptions = {}): { o: Tensor; lse: Tensor; probs: Tensor | null } {
  return callMulti<'o' | 'lse' | 'probs'>('causalAttention', q, k, v, opts);
}

/** Gradients of causalAttention from its saved o and lse: dq [B,Tq,H,D], dk [B,Tk,H,D], dv [B,Tk,H,Dv]. */
export function causalAttentionBackward(
  dO: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor, opts: AttentionBackwardOptions = {},
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const { probs, ...rest } = opts;
  if (probs && probs.disposed) throw new TypeError('probs: tensor was disposed');
  return callMulti<'dq' | 'dk' | 'dv'>('causalAttentionBackward', dO, q, k, v, o, lse, probs ? { ...rest, probs: probs.handle } : rest);
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

/**
 * MLA's latent norm (CPU): rmsnorm of src[..., :rank] (kv_a_proj's whole output) with weight [rank], read in place.
 * y [...,rank] and rstd [...] are the same bits as ops.rmsnorm on the slice.
 */
export function mlaLatentNorm(src: Tensor, weight: Tensor, opts: { rank: number; eps: number }): { y: Tensor; rstd: Tensor } {
  return callMulti<'y' | 'rstd'>('mlaLatentNorm', src, weight, { rank: opts.rank, eps: opts.eps });
}

/**
 * Gradients of mlaLatentNorm: dsrc [...,C] (rmsnorm's dx in the first rank columns, zeros after) and dWeight [rank].
 * With `into` (a gradient of src's shape) dx is added into its first rank columns in place and dsrc is null.
 */
export function mlaLatentNormBackward(dy: Tensor, src: Tensor, weight: Tensor, rstd: Tensor, opts: { rank: number; into?: Tensor }): { dsrc: Tensor | null; dWeight: Tensor } {
  const o: { rank: number; into?: Tensor['handle'] } = { rank: opts.rank };
  if (opts.into) {
    if (opts.into.disposed) throw new TypeError('into: tensor was disposed');
    o.into = opts.into.handle;
  }
  return callMulti<'dsrc' | 'dWeight'>('mlaLatentNormBackward', dy, src, weight, rstd, o);
}
