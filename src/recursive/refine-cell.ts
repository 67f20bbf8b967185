// RefineCell (docs/design/sidecar.md): over the chunk positions of block l's output,
//   p = mean(h),  s' = GRUCell(p, s),  delta = W_out . SiLU(W_in . [p; s]),  h <- h + delta on the chunk,
// applied inside the forward before block l+1 runs. W_out starts at zero, so a fresh cell changes nothing.
// The GRU follows torch.nn.GRUCell (gates r, z, n; weight_ih [3S, D], weight_hh [3S, S], two biases).
import { Module, type InitContext } from '../nn';
import { type Parameter, Tensor, Var, ag } from '../tensor';

export class RefineCell extends Module {
  readonly weight_ih: Parameter;
  readonly weight_hh: Parameter;
  readonly bias_ih: Parameter;
  readonly bias_hh: Parameter;
  readonly w_in: Parameter; // [4D, D+S]
  readonly w_out: Parameter; // [D, 4D], zero-initialised

  constructor(
    prefix: string,
    readonly hidden: number,
    readonly dState: number,
    ctx: InitContext,
  ) {
    super(prefix, ctx);
    const D = hidden;
    const S = dState;
    const g = 1 / Math.sqrt(S); // torch GRUCell default
    this.weight_ih = this.param('gru.weight_ih', [3 * S, D], { kind: 'uniform', lo: -g, hi: g });
    this.weight_hh = this.param('gru.weight_hh', [3 * S, S], { kind: 'uniform', lo: -g, hi: g });
    this.bias_ih = this.param('gru.bias_ih', [3 * S], { kind: 'uniform', lo: -g, hi: g }, { noDecay: true });
    this.bias_hh = this.param('gru.bias_hh', [3 * S], { kind: 'uniform', lo: -g, hi: g }, { noDecay: true });
    const a = 1 / Math.sqrt(D + S);
    this.w_in = this.param('w_in.weight', [4 * D, D + S], { kind: 'uniform', lo: -a, hi: a });
    this.w_out = this.param('w_out.weight', [D, 4 * D], { kind: 'constant', value: 0 });
  }

  /** The state at the start of a chunk: zeros [B, S]. */
  initialState(B: number): Var {
    return new Var(Tensor.zeros([B, this.dState]));
  }

  /** GRUCell(p, s) -> s'. */
  private gru(p: Var, s: Var): Var {
    const S = this.dState;
    const gi = ag.linear(p, this.weight_ih, this.bias_ih);
    const gh = ag.linear(s, this.weight_hh, this.bias_hh);
    const part = (x: Var, i: number) => ag.slice(x, 1, i * S, (i + 1) * S);
    const r = ag.sigmoid(ag.add(part(gi, 0), part(gh, 0)));
    const z = ag.sigmoid(ag.add(part(gi, 1), part(gh, 1)));
    const n = ag.tanh(ag.add(part(gi, 2), ag.mul(r, part(gh, 2))));
    // (1 - z) * n + z * s = n + z * (s - n)
    return ag.add(n, ag.mul(z, ag.sub(s, n)));
  }

  /**
   * Refines positions [start, end) of h [B, T, D] with state s [B, S]. Returns the new hidden states and
   * the next state; the delta uses the old state, as specified.
   */
  apply(h: Var, start: number, end: number, s: Var): { h: Var; state: Var } {
    const [B, T, D] = h.shape;
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= T))
      throw new RangeError(`${this.prefix}: chunk positions [${start}, ${end}) out of range for T=${T}`);
    if (D !== this.hidden) throw new RangeError(`${this.prefix}: expected hidden size ${this.hidden}, got ${D}`);
    const chunk = ag.slice(h, 1, start, end);
    const p = ag.mean(chunk, { dim: 1 }); // [B, D]
    const next = this.gru(p, s);
    const delta = ag.linear(ag.silu(ag.linear(ag.concat([p, s], 1), this.w_in)), this.w_out); // [B, D]
    const refined = ag.add(chunk, ag.reshape(delta, [B, 1, D]));
    const parts: Var[] = [];
    if (start > 0) parts.push(ag.slice(h, 1, 0, start));
    parts.push(refined);
    if (end < T) parts.push(ag.slice(h, 1, end, T));
    return { h: parts.length === 1 ? parts[0] : ag.concat(parts, 1), state: next };
  }
}
