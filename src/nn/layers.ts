// Basic layers: Linear (no bias by default), RMSNorm, ShortConv (causal depthwise conv + SiLU), SwiGLU MLP.
import { ops } from '../ops';
import { type Parameter, type Tensor, Var, ag, zerosOn } from '../tensor';
import { Module, type InitContext } from './module';

export class Linear extends Module {
  readonly weight: Parameter; // [out, in] (PyTorch/HF layout)
  readonly bias: Parameter | null;
  /**
   * An optional add-on applied after the projection, e.g. LoRA: `adapter(x, y)` returns the new output
   * (y + B·A·x·scale). Its parameters belong to the adapter's owner, not to this module.
   */
  adapter: ((x: Var, y: Var) => Var) | null = null;

  constructor(prefix: string, inFeatures: number, outFeatures: number, ctx: InitContext & { std: number }, opts: { bias?: boolean } = {}) {
    super(prefix, ctx);
    // Read only as matmul's B operand (forward x·Wᵀ, backward dY·W), which takes bf16.
    this.weight = this.param('weight', [outFeatures, inFeatures], { kind: 'normal', std: ctx.std }, { bf16Ok: true });
    this.bias = opts.bias ? this.param('bias', [outFeatures], { kind: 'constant', value: 0 }, { noDecay: true }) : null;
  }

  forward(x: Var): Var {
    const y = ag.linear(x, this.weight, this.bias);
    return this.adapter ? this.adapter(x, y) : y;
  }
}

export class RMSNorm extends Module {
  readonly weight: Parameter;
  constructor(
    prefix: string,
    dim: number,
    readonly eps: number,
    ctx: InitContext,
  ) {
    super(prefix, ctx);
    this.weight = this.param('weight', [dim], { kind: 'constant', value: 1 }, { noDecay: true });
  }

  forward(x: Var): Var {
    return ag.rmsnorm(x, this.weight, this.eps);
  }
}

/**
 * Causal depthwise convolution over time (one filter of `kernel` taps per channel, no bias) then SiLU, as
 * fla's ShortConvolution. `tail` [B, kernel−1, C] holds the previous pre-conv inputs when continuing a
 * sequence (zeros = start of sequence); the new tail is returned for the next call.
 */
export class ShortConv extends Module {
  readonly weight: Parameter; // [C, kernel]
  constructor(
    prefix: string,
    readonly channels: number,
    readonly kernel: number,
    ctx: InitContext,
  ) {
    super(prefix, ctx);
    // nn.Conv1d's default (kaiming-uniform, a=√5): U(±1/√fan_in), fan_in = kernel for depthwise.
    const b = 1 / Math.sqrt(kernel);
    this.weight = this.param('weight', [channels, kernel], { kind: 'uniform', lo: -b, hi: b });
  }

  forward(x: Var): Var {
    return ag.silu(ag.shortConv(x, this.weight));
  }

  /** As forward, continuing from `tail` (or from the start when null); also returns the new tail. */
  forwardWithTail(x: Var, tail: Tensor | null): { y: Var; tail: Tensor } {
    const w = this.kernel - 1;
    const [B, T, C] = x.shape;
    if (tail && (tail.shape.length !== 3 || tail.shape[0] !== B || tail.shape[1] !== w || tail.shape[2] !== C))
      throw new RangeError(`${this.prefix}: conv tail must have shape [${B},${w},${C}], got [${tail.shape.join(',')}]`);
    if (w === 0) return { y: this.forward(x), tail: zerosOn([B, 0, C], x.data) };
    const prev = new Var(tail ?? zerosOn([B, w, C], x.data));
    const ext = ag.concat([prev, x], 1);
    const y = ag.slice(this.forward(ext), 1, w, w + T);
    return { y, tail: ops.slice(ext.data, 1, T, T + w) };
  }
}

/** down(silu(gate(x)) · up(x)). */
export class SwiGLUMLP extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;
  constructor(prefix: string, hidden: number, intermediate: number, ctx: InitContext & { std: number }) {
    super(prefix, ctx);
    this.gate_proj = this.child(new Linear(`${prefix}.gate_proj`, hidden, intermediate, ctx));
    this.up_proj = this.child(new Linear(`${prefix}.up_proj`, hidden, intermediate, ctx));
    this.down_proj = this.child(new Linear(`${prefix}.down_proj`, intermediate, hidden, ctx));
  }

  forward(x: Var): Var {
    return this.down_proj.forward(ag.swiglu(this.gate_proj.forward(x), this.up_proj.forward(x)));
  }
}
