// LatentToken: a learned vector that gives every chunk position a summary of the last inner step. From the
// second inner step on its value is the vector plus the previous step's top hidden state at the chunk's last
// position (final-normed, then scaled to the embeddings' RMS so neither part swamps the other). It enters
// by being added to the input embedding of every chunk position through a zero-initialised scalar gate.
//
// Why a gated addition and not an extra sequence position (the first design): an inserted position changes
// the context of every chunk position (attention weights, KDA state, short-conv taps) whatever its value, so
// surgery could not equal the base model (eval loss 2.82 against the base's 1.378 with the shipped config).
// With the gate at 0 the chunk inputs are the base's embeddings bit for bit; the gate's gradient is non-zero,
// so training opens it. Limitation shared with the refine cells: the chunk's first token is predicted by the
// last prefix position, which the sidecar does not change.
import { Module, type InitContext } from '../nn';
import { type Parameter, Tensor, Var, ag } from '../tensor';

export class LatentToken extends Module {
  readonly vector: Parameter; // [D]
  readonly gate: Parameter; // [1], zero-initialised

  /** embedScale: the RMS of the base model's token embeddings at surgery time. */
  constructor(prefix: string, readonly hidden: number, readonly embedScale: number, ctx: InitContext) {
    super(prefix, ctx);
    if (!(embedScale > 0)) throw new RangeError(`latent token: embedding scale must be > 0, got ${embedScale}`);
    this.vector = this.param('vector', [hidden], { kind: 'normal', std: embedScale });
    this.gate = this.param('gate', [1], { kind: 'constant', value: 0 }, { noDecay: true });
  }

  /** The latent value [B, 1, D]; prevTop [B, D] is the previous step's normed top state or null. */
  input(B: number, prevTop: Var | null): Var {
    const v = ag.reshape(this.vector, [1, 1, this.hidden]);
    const base = prevTop ? ag.reshape(ag.scale(prevTop, this.embedScale), [B, 1, this.hidden]) : new Var(Tensor.zeros([B, 1, this.hidden]));
    return ag.add(base, v);
  }

  /** The chunk's input embeddings emb [B, W, D] plus gate * the latent value, at every chunk position. */
  apply(emb: Var, prevTop: Var | null): Var {
    const [B] = emb.shape;
    return ag.add(emb, ag.mul(ag.reshape(this.gate, [1, 1, 1]), this.input(B, prevTop)));
  }
}
