// Multi-head latent attention (MLA), the full-attention layers of Kimi Linear, computed as transformers'
// KimiLinearAttention does:
//   q        = q_proj(x)                                  or q_b_proj(q_a_layernorm(q_a_proj(x))) with q_lora_rank
//   [c, kr]  = kv_a_proj_with_mqa(x)                      c: [B,T,kv_lora_rank], kr: [B,T,qk_rope_head_dim]
//   [kn, v]  = kv_b_proj(kv_a_layernorm(c)) per head      kn: qk_nope_head_dim, v: v_head_dim
//   k        = [kn, kr]                                   kr shared by every head, NOT rotated (NoPE)
//   out      = o_proj(causal softmax(q k^T · qk_head_dim^-1/2) v)
// The "rope" part of q and k keeps its name and size but no rotary embedding is applied: the reference
// applies none (position comes from the KDA layers). q_a_layernorm and kv_a_layernorm use eps 1e-6 (their
// default in the reference, not rms_norm_eps). The decoding state is the compressed latent (normed c and kr),
// as the reference caches it.
import { ops } from '../ops';
import { type Tensor, Var, ag, zerosOn } from '../tensor';
import type { ModelConfig } from './config';
import { Linear, RMSNorm } from './layers';
import { Module, type InitContext } from './module';

/** eps of q_a_layernorm / kv_a_layernorm (the reference's RMSNorm default). */
export const MLA_NORM_EPS = 1e-6;

export interface AttentionState {
  kind: 'attention';
  /** kv_a_layernorm(c) of every earlier position, [B, P, kv_lora_rank] (P may be 0). */
  latent: Tensor;
  /** The shared key part kr of every earlier position, [B, P, qk_rope_head_dim]. */
  kRot: Tensor;
}

export class MLAttention extends Module {
  readonly q_proj: Linear | null;
  readonly q_a_proj: Linear | null;
  readonly q_a_layernorm: RMSNorm | null;
  readonly q_b_proj: Linear | null;
  readonly kv_a_proj_with_mqa: Linear;
  readonly kv_a_layernorm: RMSNorm;
  readonly kv_b_proj: Linear;
  readonly o_proj: Linear;
  readonly H: number;
  readonly nope: number;
  readonly rope: number;
  readonly dv: number;
  readonly rank: number;

  constructor(prefix: string, c: ModelConfig, ctx: InitContext & { std: number }) {
    super(prefix, ctx);
    const d = c.hidden_size;
    this.H = c.num_attention_heads;
    this.nope = c.qk_nope_head_dim;
    this.rope = c.qk_rope_head_dim;
    this.dv = c.v_head_dim;
    this.rank = c.kv_lora_rank;
    const bias = { bias: c.attention_bias };
    const qkOut = this.H * (this.nope + this.rope);
    if (c.q_lora_rank === null) {
      this.q_proj = this.child(new Linear(`${prefix}.q_proj`, d, qkOut, ctx));
      this.q_a_proj = this.q_a_layernorm = this.q_b_proj = null;
    } else {
      this.q_proj = null;
      this.q_a_proj = this.child(new Linear(`${prefix}.q_a_proj`, d, c.q_lora_rank, ctx, bias));
      this.q_a_layernorm = this.child(new RMSNorm(`${prefix}.q_a_layernorm`, c.q_lora_rank, MLA_NORM_EPS, ctx));
      this.q_b_proj = this.child(new Linear(`${prefix}.q_b_proj`, c.q_lora_rank, qkOut, ctx));
    }
    this.kv_a_proj_with_mqa = this.child(new Linear(`${prefix}.kv_a_proj_with_mqa`, d, this.rank + this.rope, ctx, bias));
    this.kv_a_layernorm = this.child(new RMSNorm(`${prefix}.kv_a_layernorm`, this.rank, MLA_NORM_EPS, ctx));
    this.kv_b_proj = this.child(new Linear(`${prefix}.kv_b_proj`, this.rank, this.H * (this.nope + this.dv), ctx));
    this.o_proj = this.child(new Linear(`${prefix}.o_proj`, this.H * this.dv, d, ctx, bias));
  }

  /** The projections a LoRA adapts: the query path, both kv projections and o_proj. */
  loraTargets(): Linear[] {
    const q = this.q_proj ? [this.q_proj] : [this.q_a_proj!, this.q_b_proj!];
    return [...q, this.kv_a_proj_with_mqa, this.kv_b_proj, this.o_proj];
  }

  /** Queries [B,T,H,nope+rope]. */
  private queries(x: Var): Var {
    const [B, T] = x.shape;
    const q = this.q_proj ? this.q_proj.forward(x) : this.q_b_proj!.forward(this.q_a_layernorm!.forward(this.q_a_proj!.forward(x)));
    return ag.reshape(q, [B, T, this.H, this.nope + this.rope]);
  }

  /** The compressed latent of x: normed c [B,T,rank], and kv_a_proj's whole output ckv = [c, kr] [B,T,rank+rope]. */
  private latents(x: Var): { latent: Var; ckv: Var } {
    const ckv = this.kv_a_proj_with_mqa.forward(x);
    // the norm reads c = ckv[..., :rank] (on the CPU in place: no slice copy, its gradient lands in ckv's directly)
    return { latent: ag.mlaLatentNorm(ckv, this.kv_a_layernorm.weight, this.rank, this.kv_a_layernorm.eps), ckv };
  }

  /**
   * Attention of queries q over S positions given by their latents [B,S,rank] and src [B,S,C], whose last
   * rope columns (from ropeStart) are the shared key part kr (ag.mlaCausalAttention assembles keys and values).
   */
  private attend(q: Var, latent: Var, src: Var, ropeStart: number): Var {
    const [B, T] = q.shape;
    const S = latent.shape[1];
    const kv = ag.reshape(this.kv_b_proj.forward(latent), [B, S, this.H, this.nope + this.dv]);
    const o = ag.mlaCausalAttention(q, kv, src, { nope: this.nope, ropeStart, scale: 1 / Math.sqrt(this.nope + this.rope) });
    return this.o_proj.forward(ag.reshape(o, [B, T, this.H * this.dv]));
  }

  forward(x: Var): Var {
    const { latent, ckv } = this.latents(x);
    return this.attend(this.queries(x), latent, ckv, this.rank);
  }

  /**
   * Attends to the cached latents of earlier positions plus this input's own (causally). No gradient flows
   * into the cache (its latents are constants; kv_b_proj still gets the gradient of their keys/values, as in
   * a full pass). Returns the cache extended by this input.
   */
  forwardWithState(x: Var, state: AttentionState | null): { out: Var; state: AttentionState } {
    const [B] = x.shape;
    if (state && (state.latent.shape[0] !== B || state.latent.shape[2] !== this.rank || state.kRot.shape[2] !== this.rope))
      throw new RangeError(`${this.prefix}: state latent [${state.latent.shape.join(',')}] / kRot [${state.kRot.shape.join(',')}] do not fit batch ${B}, kv_lora_rank ${this.rank}, qk_rope_head_dim ${this.rope}`);
    const cur = this.latents(x);
    const kRotNew = this.rope ? ag.slice(cur.ckv, 2, this.rank, this.rank + this.rope) : new Var(zerosOn([B, x.shape[1], 0], x.data));
    const P = state ? state.latent.shape[1] : 0;
    const latent = P ? ag.concat([new Var(state!.latent), cur.latent], 1) : cur.latent;
    const kRot = !P ? kRotNew : this.rope ? ag.concat([new Var(state!.kRot), kRotNew], 1) : new Var(zerosOn([B, P + x.shape[1], 0], x.data));
    const out = this.attend(this.queries(x), latent, kRot, 0);
    const next: AttentionState = state
      ? { kind: 'attention', latent: ops.concat([state.latent, cur.latent.data], 1), kRot: ops.concat([state.kRot, kRotNew.data], 1) }
      : { kind: 'attention', latent: ops.copy(cur.latent.data), kRot: ops.copy(kRotNew.data) };
    return { out, state: next };
  }
}
