// The mixture-of-experts FFN of Kimi Linear (transformers' KimiLinearMoE): a sigmoid (or softmax) top-k router
// with an e_score_correction_bias that steers the choice only, optional grouped selection, renormalised and
// scaled weights, routed SwiGLU experts stored stacked, and always-on shared experts added to the result.
// The routing and the experts run as one native autograd function (ag.moe: gather by expert, one GEMM per
// expert segment, scatter back), never a JS loop over experts.
//
// Parameter names are transformers' state dict under `prefix` (e.g. "model.layers.1.mlp"):
//   gate.weight [E,d], gate.e_score_correction_bias [E] (frozen), experts.gate_up_proj [E,2I,d],
//   experts.down_proj [E,d,I], shared_experts.{gate,up,down}_proj.weight (intermediate I·num_shared_experts).
// publishedParts() maps them to the per-expert names of the published checkpoints (block_sparse_moe.*).
import { type Parameter, Var, ag } from '../tensor';
import { SwiGLUMLP } from './layers';
import { Module, type InitContext } from './module';

/** The config fields the MoE layer reads (names as in the Kimi Linear config.json). */
export interface KimiMoEConfig {
  hidden_size: number;
  /** I: the hidden size of each routed expert (and, times num_shared_experts, of the shared experts). */
  moe_intermediate_size: number;
  num_experts: number;
  num_experts_per_token: number;
  num_expert_group: number;
  topk_group: number;
  moe_renormalize: boolean;
  routed_scaling_factor: number;
  /** 0 means no shared experts. */
  num_shared_experts: number;
  /** 'sigmoid' (the default, and the only one transformers' kimi_linear implements) or 'softmax'. */
  moe_router_activation_func?: string;
  /** Only 'silu' (SwiGLU experts). */
  hidden_act?: string;
  /** Std of the normal initialisation (default 0.02). */
  initializer_range?: number;
}

/** Where one published tensor lives inside one of our parameters: a contiguous block of `shape` at `offset` elements. */
export interface PublishedPart {
  name: string;
  shape: number[];
  param: string;
  offset: number;
}

const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** Throws naming the field, its value and what is allowed when the MoE fields cannot build a layer. */
export function checkMoEConfig(c: KimiMoEConfig): void {
  const bad = (field: string, allowed: string) => {
    throw new RangeError(`MoE config: ${field} is ${JSON.stringify((c as unknown as Record<string, unknown>)[field])}, expected ${allowed}`);
  };
  for (const f of ['hidden_size', 'moe_intermediate_size', 'num_experts', 'num_experts_per_token', 'num_expert_group', 'topk_group'] as const)
    if (!posInt(c[f])) bad(f, 'a positive integer');
  if (!(Number.isInteger(c.num_shared_experts) && c.num_shared_experts >= 0)) bad('num_shared_experts', 'an integer >= 0');
  if (c.num_experts % c.num_expert_group !== 0) bad('num_expert_group', `a divisor of num_experts (${c.num_experts})`);
  if (c.topk_group > c.num_expert_group) bad('topk_group', `at most num_expert_group (${c.num_expert_group})`);
  const perGroup = c.num_experts / c.num_expert_group;
  if (c.topk_group < c.num_expert_group && perGroup < 2) bad('num_expert_group', 'groups of at least 2 experts (a group is scored by its two best)');
  const allowed = c.topk_group * perGroup;
  if (c.num_experts_per_token > allowed) bad('num_experts_per_token', `at most ${allowed} (the experts in topk_group of the groups)`);
  if (typeof c.moe_renormalize !== 'boolean') bad('moe_renormalize', 'true or false');
  if (typeof c.routed_scaling_factor !== 'number' || !Number.isFinite(c.routed_scaling_factor)) bad('routed_scaling_factor', 'a finite number');
  const act = c.moe_router_activation_func ?? 'sigmoid';
  if (act !== 'sigmoid' && act !== 'softmax') bad('moe_router_activation_func', "'sigmoid' or 'softmax'");
  if ((c.hidden_act ?? 'silu') !== 'silu') bad('hidden_act', "'silu'");
}

export class KimiMoE extends Module {
  readonly gateWeight: Parameter; // [E,d]
  /** Added to the scores for the expert choice only; a buffer in transformers, so frozen here. */
  readonly scoreBias: Parameter; // [E]
  readonly gateUp: Parameter; // [E,2I,d]
  readonly down: Parameter; // [E,d,I]
  readonly shared_experts: SwiGLUMLP | null;

  constructor(
    prefix: string,
    readonly config: KimiMoEConfig,
    ctx: InitContext,
  ) {
    super(prefix, ctx);
    checkMoEConfig(config);
    const { hidden_size: d, moe_intermediate_size: I, num_experts: E } = config;
    const std = config.initializer_range ?? 0.02;
    // Router and experts are read only as GEMM B operands (ag.moe), which take bf16.
    this.gateWeight = this.param('gate.weight', [E, d], { kind: 'normal', std }, { bf16Ok: true });
    this.scoreBias = this.param('gate.e_score_correction_bias', [E], { kind: 'constant', value: 0 }, { noDecay: true });
    this.scoreBias.setRequiresGrad(false);
    this.gateUp = this.param('experts.gate_up_proj', [E, 2 * I, d], { kind: 'normal', std }, { bf16Ok: true });
    this.down = this.param('experts.down_proj', [E, d, I], { kind: 'normal', std }, { bf16Ok: true });
    this.shared_experts =
      config.num_shared_experts > 0 ? this.child(new SwiGLUMLP(`${prefix}.shared_experts`, d, I * config.num_shared_experts, { ...ctx, std })) : null;
  }

  /** h [..., d] -> [..., d]: routed experts plus shared experts. */
  forward(h: Var): Var {
    const c = this.config;
    const d = c.hidden_size;
    if (h.shape[h.shape.length - 1] !== d) throw new RangeError(`${this.prefix}: expected input [..., ${d}], got [${h.shape.join(',')}]`);
    const x = ag.reshape(h, [h.data.size / d, d]);
    const routed = ag.moe(x, this.gateWeight, this.gateUp, this.down, {
      bias: this.scoreBias.data,
      topK: c.num_experts_per_token,
      numGroups: c.num_expert_group,
      topkGroup: c.topk_group,
      renormalize: c.moe_renormalize,
      scale: c.routed_scaling_factor,
      activation: (c.moe_router_activation_func ?? 'sigmoid') as 'sigmoid' | 'softmax',
    });
    const y = ag.reshape(routed, h.shape);
    return this.shared_experts ? ag.add(y, this.shared_experts.forward(h)) : y;
  }

  /**
   * The published checkpoint's per-expert tensors (experts.{e}.w1 = gate, w3 = up, w2 = down, each [I,d] or
   * [d,I]) and the router and shared experts, under `publishedPrefix` (default: this prefix with its final
   * ".mlp" replaced by ".block_sparse_moe"), each with the parameter and element offset it maps to.
   */
  publishedParts(publishedPrefix = this.prefix.replace(/\.mlp$/, '.block_sparse_moe')): PublishedPart[] {
    const { hidden_size: d, moe_intermediate_size: I, num_experts: E } = this.config;
    const p = publishedPrefix;
    const parts: PublishedPart[] = [
      { name: `${p}.gate.weight`, shape: [E, d], param: this.gateWeight.name, offset: 0 },
      { name: `${p}.gate.e_score_correction_bias`, shape: [E], param: this.scoreBias.name, offset: 0 },
    ];
    for (let e = 0; e < E; e++) {
      parts.push({ name: `${p}.experts.${e}.w1.weight`, shape: [I, d], param: this.gateUp.name, offset: e * 2 * I * d });
      parts.push({ name: `${p}.experts.${e}.w2.weight`, shape: [d, I], param: this.down.name, offset: e * d * I });
      parts.push({ name: `${p}.experts.${e}.w3.weight`, shape: [I, d], param: this.gateUp.name, offset: e * 2 * I * d + I * d });
    }
    if (this.shared_experts)
      for (const lin of [this.shared_experts.gate_proj, this.shared_experts.up_proj, this.shared_experts.down_proj])
        parts.push({ name: lin.weight.name.replace(`${this.prefix}.`, `${p}.`), shape: lin.weight.shape, param: lin.weight.name, offset: 0 });
    return parts;
  }
}
