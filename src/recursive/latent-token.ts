// LatentToken: a learned vector inserted as one extra position between prefix and chunk. From the second
// inner step on its input is the vector plus the previous step's top hidden state at the chunk's last
// position (final-normed, then scaled to the embeddings' RMS so neither part swamps the other), which gives
// every chunk position a summary of the last step. Initialised at the token embeddings' scale.
import { Module, type InitContext } from '../nn';
import { type Parameter, Tensor, Var, ag } from '../tensor';

export class LatentToken extends Module {
  readonly vector: Parameter; // [D]

  /** embedScale: the RMS of the base model's token embeddings at surgery time. */
  constructor(prefix: string, readonly hidden: number, readonly embedScale: number, ctx: InitContext) {
    super(prefix, ctx);
    if (!(embedScale > 0)) throw new RangeError(`latent token: embedding scale must be > 0, got ${embedScale}`);
    this.vector = this.param('vector', [hidden], { kind: 'normal', std: embedScale });
  }

  /** The latent position's input [B, 1, D]; prevTop [B, D] is the previous step's normed top state or null. */
  input(B: number, prevTop: Var | null): Var {
    const v = ag.reshape(this.vector, [1, 1, this.hidden]);
    const base = prevTop ? ag.reshape(ag.scale(prevTop, this.embedScale), [B, 1, this.hidden]) : new Var(Tensor.zeros([B, 1, this.hidden]));
    return ag.add(base, v);
  }
}
