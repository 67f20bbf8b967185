// BoundaryHead: an MLP on the top hidden state at the chunk's last position -> a commit logit
// (p_commit = sigmoid) and, with the length head, logits over effective lengths 0..max_chunk_len.
// The commit bias starts at 0 (p = 0.5): no built-in bias for or against committing.
import { Module, type InitContext } from '../nn';
import { type Parameter, type Var, ag } from '../tensor';

export class BoundaryHead extends Module {
  readonly trunk0: Parameter; // [G, D]
  readonly trunk1: Parameter; // [G, G]
  readonly commitWeight: Parameter; // [1, G]
  readonly commitBias: Parameter; // [1]
  readonly lengthWeight: Parameter | null; // [L+1, G]
  readonly lengthBias: Parameter | null;

  constructor(prefix: string, hidden: number, gateHidden: number, readonly maxChunkLen: number | null, ctx: InitContext) {
    super(prefix, ctx);
    const u = (n: number) => ({ kind: 'uniform' as const, lo: -1 / Math.sqrt(n), hi: 1 / Math.sqrt(n) });
    this.trunk0 = this.param('trunk.0.weight', [gateHidden, hidden], u(hidden));
    this.trunk1 = this.param('trunk.1.weight', [gateHidden, gateHidden], u(gateHidden));
    this.commitWeight = this.param('commit.weight', [1, gateHidden], u(gateHidden));
    this.commitBias = this.param('commit.bias', [1], { kind: 'constant', value: 0 }, { noDecay: true });
    if (maxChunkLen !== null) {
      this.lengthWeight = this.param('length.weight', [maxChunkLen + 1, gateHidden], u(gateHidden));
      this.lengthBias = this.param('length.bias', [maxChunkLen + 1], { kind: 'constant', value: 0 }, { noDecay: true });
    } else {
      this.lengthWeight = null;
      this.lengthBias = null;
    }
  }

  /** top [B, D] -> commit logits [B] and length logits [B, L+1] (null without a length head). */
  forward(top: Var): { commitLogit: Var; lengthLogits: Var | null } {
    const t = ag.silu(ag.linear(ag.silu(ag.linear(top, this.trunk0)), this.trunk1));
    const c = ag.linear(t, this.commitWeight, this.commitBias); // [B, 1]
    const commitLogit = ag.reshape(c, [top.shape[0]]);
    const lengthLogits = this.lengthWeight ? ag.linear(t, this.lengthWeight, this.lengthBias) : null;
    return { commitLogit, lengthLogits };
  }
}
