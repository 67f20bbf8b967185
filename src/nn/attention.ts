// Full causal softmax attention with no positional encoding (NoPE) for the layers in full_attn_layers —
// the role MLA plays in Kimi Linear (mla_use_nope). Plain multi-head attention with q/k/v/o projections.
import { ops } from '../ops';
import { type Tensor, Var, ag, zerosOn } from '../tensor';
import { Linear } from './layers';
import { Module, type InitContext } from './module';

export interface AttentionState {
  kind: 'attention';
  /** Keys and values of every earlier position, [B, P, H, D] (P may be 0). */
  k: Tensor;
  v: Tensor;
}

export class CausalSelfAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;

  constructor(
    prefix: string,
    hidden: number,
    readonly numHeads: number,
    readonly headDim: number,
    ctx: InitContext & { std: number },
  ) {
    super(prefix, ctx);
    const HD = numHeads * headDim;
    this.q_proj = this.child(new Linear(`${prefix}.q_proj`, hidden, HD, ctx));
    this.k_proj = this.child(new Linear(`${prefix}.k_proj`, hidden, HD, ctx));
    this.v_proj = this.child(new Linear(`${prefix}.v_proj`, hidden, HD, ctx));
    this.o_proj = this.child(new Linear(`${prefix}.o_proj`, HD, hidden, ctx));
  }

  private project(x: Var): [Var, Var, Var] {
    const [B, T] = x.shape;
    const heads = (t: Var) => ag.reshape(t, [B, T, this.numHeads, this.headDim]);
    return [heads(this.q_proj.forward(x)), heads(this.k_proj.forward(x)), heads(this.v_proj.forward(x))];
  }

  forward(x: Var): Var {
    const [B, T] = x.shape;
    const [q, k, v] = this.project(x);
    const o = ag.causalAttention(q, k, v, { scale: 1 / Math.sqrt(this.headDim) });
    return this.o_proj.forward(ag.reshape(o, [B, T, this.numHeads * this.headDim]));
  }

  /**
   * Attends to the cached keys/values of earlier positions plus this input's own (causally). Gradients flow
   * to this input's q, k, v only; the cache is constant. Returns the cache extended by this input.
   */
  forwardWithState(x: Var, state: AttentionState | null): { out: Var; state: AttentionState } {
    const [B, T] = x.shape;
    const [q, k, v] = this.project(x);
    const P = state ? state.k.shape[1] : 0;
    const scale = 1 / Math.sqrt(this.headDim);
    let o: Var;
    if (P === 0) o = ag.causalAttention(q, k, v, { scale });
    else {
      // Run causal attention over [cache; input] with zero queries for the cached rows, keep the last T rows:
      // row P+t sees cached positions 0..P−1 and input positions 0..t, exactly the causal set.
      const zq = new Var(zerosOn([B, P, this.numHeads, this.headDim], x.data));
      const kk = ag.concat([new Var(state!.k), k], 1);
      const vv = ag.concat([new Var(state!.v), v], 1);
      o = ag.slice(ag.causalAttention(ag.concat([zq, q], 1), kk, vv, { scale }), 1, P, P + T);
    }
    const out = this.o_proj.forward(ag.reshape(o, [B, T, this.numHeads * this.headDim]));
    const next: AttentionState = P === 0 ? { kind: 'attention', k: ops.copy(k.data), v: ops.copy(v.data) } : { kind: 'attention', k: ops.concat([state!.k, k.data], 1), v: ops.concat([state!.v, v.data], 1) };
    return { out, state: next };
  }
}
