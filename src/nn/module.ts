// The module base: a named node of the model tree that owns Parameters and child modules.
// Parameter names are full Hugging Face–style paths (e.g. "model.layers.0.self_attn.q_proj.weight"),
// fixed when the module is constructed from its prefix.
import { ops } from '../ops';
import { type Device, Parameter, Tensor, keep } from '../tensor';
import { type Init, initTensor } from './init';

export interface InitContext {
  seed: number;
  /**
   * Parameters start as frozen zero placeholders that a checkpoint is about to overwrite: no random values are
   * drawn, and bf16Ok ones are allocated in bf16, so loading a frozen bf16 base never holds an f32 copy of the model.
   */
  placeholders?: boolean;
}

export abstract class Module {
  /** The dotted path of this module (its parameters are `${prefix}.${local}`). */
  readonly prefix: string;
  protected readonly ctx: InitContext;
  private readonly ownParams: Parameter[] = [];
  private readonly children: Module[] = [];

  constructor(prefix: string, ctx: InitContext) {
    this.prefix = prefix;
    this.ctx = ctx;
  }

  /** bf16Ok: every op that reads it takes bf16 (see Parameter.bf16Ok), so a frozen copy may stay bf16. */
  protected param(local: string, shape: number[], init: Init, opts: { noDecay?: boolean; bf16Ok?: boolean } = {}): Parameter {
    const name = this.prefix ? `${this.prefix}.${local}` : local;
    const p = this.ctx.placeholders
      ? new Parameter(name, Tensor.zeros(shape, { dtype: opts.bf16Ok ? 'bf16' : 'f32' }), { noDecay: opts.noDecay, bf16Ok: opts.bf16Ok, requiresGrad: false })
      : new Parameter(name, initTensor(shape, init, this.ctx.seed, name), { noDecay: opts.noDecay, bf16Ok: opts.bf16Ok });
    this.ownParams.push(p);
    return p;
  }

  protected child<M extends Module>(m: M): M {
    this.children.push(m);
    return m;
  }

  /** Every parameter of this module and its children, in construction order. */
  parameters(): Parameter[] {
    const out = [...this.ownParams];
    for (const c of this.children) out.push(...c.parameters());
    return out;
  }

  namedParameters(): Map<string, Parameter> {
    return new Map(this.parameters().map((p) => [p.name, p]));
  }

  /** Freezes or unfreezes every parameter below this module. */
  setRequiresGrad(on: boolean): void {
    for (const p of this.parameters()) p.setRequiresGrad(on);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.data.size, 0);
  }

  /**
   * Moves every parameter to `device` ('cpu', 'cuda', 'cuda:N'): data is copied there and the old copy freed;
   * gradients are dropped (the next backward allocates them on the new device). bf16 weights become f32 on a GPU.
   */
  to(device: Device): this {
    for (const p of this.parameters()) {
      if (p.data.device === device) continue;
      p.zeroGrad();
      const old = p.data;
      p.data = keep(old.to(device));
      old.dispose();
      // bf16 weights (a frozen base) are read by the CPU kernels only; on a GPU they are widened to f32.
      if (device !== 'cpu' && p.data.dtype === 'bf16') p.replaceData(ops.cast(p.data, 'f32'));
    }
    return this;
  }

  /** Frees every parameter's data and gradient. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}
