// LoRA for phase b: y = x W^T + (alpha / r) * (x A^T) B^T on chosen projections, A [r, in] small random,
// B [out, r] zero (so attaching changes nothing until trained). The base weight stays frozen.
import { Module, type Linear } from '../nn';
import { type Parameter, type Var, ag } from '../tensor';

export class LoraAdapters extends Module {
  private readonly attached: { lin: Linear; A: Parameter; B: Parameter }[] = [];

  constructor(
    targets: Linear[],
    readonly rank: number,
    readonly alpha: number,
    seed: number,
  ) {
    super('', { seed });
    if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`lora.rank: expected a positive integer, got ${rank}`);
    if (!(alpha > 0)) throw new RangeError(`lora.alpha: expected a number > 0, got ${alpha}`);
    for (const lin of targets) {
      const [out, inF] = lin.weight.shape;
      const b = 1 / Math.sqrt(inF);
      const A = this.param(`${lin.prefix}.lora_A.weight`, [rank, inF], { kind: 'uniform', lo: -b, hi: b });
      const B = this.param(`${lin.prefix}.lora_B.weight`, [out, rank], { kind: 'constant', value: 0 });
      this.attached.push({ lin, A, B });
    }
  }

  /** Hooks every adapter into its projection's forward. */
  attach(): void {
    const s = this.alpha / this.rank;
    for (const { lin, A, B } of this.attached) {
      if (lin.adapter) throw new Error(`${lin.prefix}: already has an adapter`);
      lin.adapter = (x: Var, y: Var) => ag.add(y, ag.scale(ag.linear(ag.linear(x, A), B), s));
    }
  }

  detach(): void {
    for (const { lin } of this.attached) lin.adapter = null;
  }

  /** The projections adapted, by module path. */
  targetNames(): string[] {
    return this.attached.map((a) => a.lin.prefix);
  }
}
