// The KDA token mixer (docs/design/kda.md §1), parameter names as in the Hugging Face Kimi-Linear modeling code
// (KimiDeltaAttention): q_proj/k_proj/v_proj, q_conv1d/k_conv1d/v_conv1d, f_a_proj/f_b_proj (low-rank
// forget gate), A_log, dt_bias, b_proj (beta), g_a_proj/g_b_proj (low-rank output gate), o_norm, o_proj.
// Shapes differ from the HF checkpoint only where our ops want it: conv weights are [C, kernel]
// (HF [C,1,kernel]) and A_log is [H] (HF [1,1,H,1]).
import { type Device, type Parameter, Tensor, type Var, ag } from '../tensor';
import { Linear, ShortConv } from './layers';
import { Module, type InitContext } from './module';

export interface KdaState {
  kind: 'kda';
  /** Pre-conv input tails [B, kernel−1, H·K] for q, k, v. */
  conv: [Tensor, Tensor, Tensor];
  /** Recurrent state S [B, H, K, V]. */
  recurrent: Tensor;
}

export interface KdaAttentionOptions {
  hidden: number;
  numHeads: number;
  headDim: number;
  convKernel: number;
  eps: number;
}

export class KDAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly q_conv1d: ShortConv;
  readonly k_conv1d: ShortConv;
  readonly v_conv1d: ShortConv;
  readonly f_a_proj: Linear;
  readonly f_b_proj: Linear;
  readonly A_log: Parameter; // [H]
  readonly dt_bias: Parameter; // [H·K]
  readonly b_proj: Linear;
  readonly g_a_proj: Linear;
  readonly g_b_proj: Linear;
  readonly o_norm: Parameter; // [V], shared by heads
  readonly o_proj: Linear;
  readonly H: number;
  readonly K: number;
  readonly eps: number;

  constructor(prefix: string, o: KdaAttentionOptions, ctx: InitContext & { std: number }) {
    super(prefix, ctx);
    const { hidden: d, numHeads: H, headDim: K } = o;
    this.H = H;
    this.K = K;
    this.eps = o.eps;
    const HK = H * K;
    this.q_proj = this.child(new Linear(`${prefix}.q_proj`, d, HK, ctx));
    this.k_proj = this.child(new Linear(`${prefix}.k_proj`, d, HK, ctx));
    this.v_proj = this.child(new Linear(`${prefix}.v_proj`, d, HK, ctx));
    this.q_conv1d = this.child(new ShortConv(`${prefix}.q_conv1d`, HK, o.convKernel, ctx));
    this.k_conv1d = this.child(new ShortConv(`${prefix}.k_conv1d`, HK, o.convKernel, ctx));
    this.v_conv1d = this.child(new ShortConv(`${prefix}.v_conv1d`, HK, o.convKernel, ctx));
    this.A_log = this.param('A_log', [H], { kind: 'a_log' }, { noDecay: true });
    this.f_a_proj = this.child(new Linear(`${prefix}.f_a_proj`, d, K, ctx));
    this.f_b_proj = this.child(new Linear(`${prefix}.f_b_proj`, K, HK, ctx));
    this.dt_bias = this.param('dt_bias', [HK], { kind: 'dt_bias' }, { noDecay: true });
    this.b_proj = this.child(new Linear(`${prefix}.b_proj`, d, H, ctx));
    this.g_a_proj = this.child(new Linear(`${prefix}.g_a_proj`, d, K, ctx));
    this.g_b_proj = this.child(new Linear(`${prefix}.g_b_proj`, K, HK, ctx));
    this.o_norm = this.param('o_norm.weight', [K], { kind: 'constant', value: 1 }, { noDecay: true });
    this.o_proj = this.child(new Linear(`${prefix}.o_proj`, HK, d, ctx));
  }

  /** The projections a LoRA adapts: q, k, v and o. */
  loraTargets(): Linear[] {
    return [this.q_proj, this.k_proj, this.v_proj, this.o_proj];
  }

  forward(x: Var): Var {
    return this.run(x, null).out;
  }

  /** Continues from `state` (null: start of sequence) and returns the state after the last position. */
  forwardWithState(x: Var, state: KdaState | null): { out: Var; state: KdaState } {
    const r = this.run(x, state ?? this.initialState(x.shape[0], x.data.device as Device));
    return { out: r.out, state: r.state! };
  }

  private run(x: Var, state: KdaState | null): { out: Var; state: KdaState | null } {
    const [B, T] = x.shape;
    const { H, K } = this;
    const heads = (t: Var) => ag.reshape(t, [B, T, H, K]);
    let q: Var, k: Var, v: Var;
    let tails: [Tensor, Tensor, Tensor] | null = null;
    if (state) {
      const cq = this.q_conv1d.forwardWithTail(this.q_proj.forward(x), state.conv[0]);
      const ck = this.k_conv1d.forwardWithTail(this.k_proj.forward(x), state.conv[1]);
      const cv = this.v_conv1d.forwardWithTail(this.v_proj.forward(x), state.conv[2]);
      [q, k, v] = [cq.y, ck.y, cv.y];
      tails = [cq.tail, ck.tail, cv.tail];
    } else {
      q = this.q_conv1d.forward(this.q_proj.forward(x));
      k = this.k_conv1d.forward(this.k_proj.forward(x));
      v = this.v_conv1d.forward(this.v_proj.forward(x));
    }
    q = ag.l2norm(heads(q), 1e-6);
    k = ag.l2norm(heads(k), 1e-6);
    v = heads(v);

    // g = −exp(A_log) · softplus(f + dt_bias), f low-rank from x (no conv)
    const f = this.f_b_proj.forward(this.f_a_proj.forward(x));
    const sp = heads(ag.softplus(ag.add(f, this.dt_bias)));
    const negA = ag.neg(ag.exp(ag.reshape(this.A_log, [H, 1])));
    const g = ag.mul(sp, negA);
    const beta = ag.sigmoid(this.b_proj.forward(x));

    const initialState = state ? state.recurrent : null;
    const { o, finalState } = ag.kda(q, k, v, g, beta, { scale: 1 / Math.sqrt(K), initialState });

    // head-wise gated RMSNorm: rmsnorm(o[h]) ⊙ w ⊙ σ(G[h]), G low-rank from x
    const G = heads(this.g_b_proj.forward(this.g_a_proj.forward(x)));
    const y = ag.mul(ag.rmsnorm(o, this.o_norm, this.eps), ag.sigmoid(G));
    const out = this.o_proj.forward(ag.reshape(y, [B, T, H * K]));
    if (!state) {
      finalState.dispose();
      return { out, state: null };
    }
    return { out, state: { kind: 'kda', conv: tails!, recurrent: finalState } };
  }

  /** The state at the start of a sequence (zero conv tails and recurrent state) for a batch of B. */
  initialState(B: number, device: Device = 'cpu'): KdaState {
    const C = this.H * this.K;
    const w = this.q_conv1d.kernel - 1;
    const z = (shape: number[]) => Tensor.zeros(shape, { device });
    return { kind: 'kda', conv: [z([B, w, C]), z([B, w, C]), z([B, w, C])], recurrent: z([B, this.H, this.K, this.K]) };
  }
}
