// KimiLinearLM: token embedding → N pre-norm decoder layers (KDA or MLA token mixer, then a SwiGLU MLP or
// an MoE) → final RMSNorm → LM head (untied unless tie_word_embeddings), as transformers' kimi_linear.
//
// Parameter names follow the published Kimi-Linear checkpoint (io.ts maps transformers' runtime names):
//   model.embed_tokens.weight, model.norm.weight, lm_head.weight
//   model.layers.{i}.input_layernorm.weight, model.layers.{i}.post_attention_layernorm.weight
//   model.layers.{i}.self_attn.*  (KDA: see kda-attention.ts; MLA: see attention.ts)
//   model.layers.{i}.mlp.{gate_proj,up_proj,down_proj}.weight  (dense layers; MoE layers: see moe.ts)
// Hooks for a sidecar: embed(ids) → h, layers[i].forward(h) → h, head(h) → logits (and the *WithState
// variants to continue from cached prefix state).
import { type Device, type Parameter, Tensor, type Var, ag } from '../tensor';
import { MLAttention, type AttentionState } from './attention';
import { type ModelConfig, layerKind, parseModelConfig } from './config';
import { KDAttention, type KdaState } from './kda-attention';
import { type Linear, RMSNorm, SwiGLUMLP } from './layers';
import { KimiMoE } from './moe';
import { Module, type InitContext } from './module';

export type LayerState = KdaState | AttentionState;

export class DecoderLayer extends Module {
  readonly kind: 'kda' | 'full_attention';
  readonly input_layernorm: RMSNorm;
  readonly self_attn: KDAttention | MLAttention;
  readonly post_attention_layernorm: RMSNorm;
  /** The FFN: a SwiGLU MLP on 'dense' layers, the mixture of experts on 'sparse' ones (mlp_layer_types). */
  readonly mlp: SwiGLUMLP | KimiMoE;

  constructor(
    readonly index: number,
    config: ModelConfig,
    ctx: InitContext & { std: number },
  ) {
    const prefix = `model.layers.${index}`;
    super(prefix, ctx);
    const d = config.hidden_size;
    const la = config.linear_attn_config;
    this.kind = layerKind(config, index);
    this.input_layernorm = this.child(new RMSNorm(`${prefix}.input_layernorm`, d, config.rms_norm_eps, ctx));
    this.self_attn = this.child(
      this.kind === 'kda'
        ? new KDAttention(`${prefix}.self_attn`, { hidden: d, numHeads: la.num_heads, headDim: la.head_dim, convKernel: la.short_conv_kernel_size, eps: config.rms_norm_eps }, ctx)
        : new MLAttention(`${prefix}.self_attn`, config, ctx),
    );
    this.post_attention_layernorm = this.child(new RMSNorm(`${prefix}.post_attention_layernorm`, d, config.rms_norm_eps, ctx));
    this.mlp = this.child(
      config.mlp_layer_types[index] === 'sparse' ? new KimiMoE(`${prefix}.mlp`, config, ctx) : new SwiGLUMLP(`${prefix}.mlp`, d, config.intermediate_size, ctx),
    );
  }

  /** The projections a LoRA adapts in this block: the mixer's, then the MLP's. */
  loraTargets(): Linear[] {
    const ffn = this.mlp instanceof KimiMoE ? this.mlp.shared_experts : this.mlp; // MoE: its shared experts
    return [...this.self_attn.loraTargets(), ...(ffn ? [ffn.gate_proj, ffn.up_proj, ffn.down_proj] : [])];
  }

  /** h + mixer(norm(h)), then + mlp(norm(·)). h: [B, T, hidden]. */
  forward(h: Var): Var {
    const a = ag.add(h, this.self_attn.forward(this.input_layernorm.forward(h)));
    return ag.add(a, this.mlp.forward(this.post_attention_layernorm.forward(a)));
  }

  /**
   * As forward, continuing a sequence from `state` (null: its start); returns the state after the input.
   * States are plain tensors (no gradient flows through them) and are never modified, so one prefix state
   * can be reused for several continuations.
   */
  forwardWithState(h: Var, state: LayerState | null): { h: Var; state: LayerState } {
    if (state && state.kind !== (this.kind === 'kda' ? 'kda' : 'attention'))
      throw new TypeError(`model.layers.${this.index}: got a ${state.kind} state for a ${this.kind} layer`);
    const x = this.input_layernorm.forward(h);
    const r =
      this.self_attn instanceof KDAttention
        ? this.self_attn.forwardWithState(x, state as KdaState | null)
        : this.self_attn.forwardWithState(x, state as AttentionState | null);
    const a = ag.add(h, r.out);
    return { h: ag.add(a, this.mlp.forward(this.post_attention_layernorm.forward(a))), state: r.state };
  }
}

export interface ModelOptions {
  /** Seed of the initialisation (default 0). Same config + seed → bit-identical weights. */
  seed?: number;
  /** Frozen zero placeholders instead of initial values, for a checkpoint to fill (InitContext.placeholders). */
  placeholders?: boolean;
}

export class KimiLinearLM extends Module {
  readonly config: ModelConfig;
  readonly embed_tokens: Parameter; // [vocab, hidden]
  readonly layers: DecoderLayer[];
  readonly norm: RMSNorm;
  readonly lm_head: Parameter; // [vocab, hidden]; the embedding itself when tied

  constructor(config: ModelConfig | unknown, opts: ModelOptions = {}) {
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed)) throw new TypeError(`seed: expected an integer, got ${seed}`);
    super('', { seed, placeholders: !!opts.placeholders });
    const c = parseModelConfig(config);
    this.config = c;
    const ctx = { seed, std: c.initializer_range, placeholders: !!opts.placeholders };
    // Embedding table and LM head take bf16 (embedding lookup; matmul's B operand).
    this.embed_tokens = this.param('model.embed_tokens.weight', [c.vocab_size, c.hidden_size], { kind: 'normal', std: c.initializer_range }, { bf16Ok: true });
    this.layers = [];
    for (let i = 0; i < c.num_hidden_layers; i++) this.layers.push(this.child(new DecoderLayer(i, c, ctx)));
    this.norm = this.child(new RMSNorm('model.norm', c.hidden_size, c.rms_norm_eps, ctx));
    this.lm_head = c.tie_word_embeddings ? this.embed_tokens : this.param('lm_head.weight', [c.vocab_size, c.hidden_size], { kind: 'normal', std: c.initializer_range }, { bf16Ok: true });
  }

  /** ids i32 [B, T] → hidden states [B, T, hidden]. */
  embed(ids: Tensor): Var {
    if (ids.dtype !== 'i32') throw new TypeError(`ids: expected dtype i32, got ${ids.dtype}`);
    if (ids.shape.length !== 2) throw new RangeError(`ids: expected shape [B, T], got [${ids.shape.join(',')}]`);
    return ag.embedding(this.embed_tokens, ids);
  }

  /** Final norm and LM head: [B, T, hidden] → logits [B, T, vocab]. */
  head(h: Var): Var {
    return ag.linear(this.norm.forward(h), this.lm_head);
  }

  /** ids i32 [B, T] → logits [B, T, vocab]. */
  forward(ids: Tensor): Var {
    let h = this.embed(ids);
    for (const layer of this.layers) h = layer.forward(h);
    return this.head(h);
  }

  /** As forward, continuing from per-layer states (null: start); returns the states after the input. */
  forwardWithState(ids: Tensor, states: (LayerState | null)[] | null): { logits: Var; states: LayerState[] } {
    let h = this.embed(ids);
    const out: LayerState[] = [];
    this.layers.forEach((layer, i) => {
      const r = layer.forwardWithState(h, states ? states[i] : null);
      h = r.h;
      out.push(r.state);
    });
    return { logits: this.head(h), states: out };
  }

  /** Mean next-token cross-entropy: logits at position t predict ids[t+1]; targets equal to ignoreIndex are skipped. */
  loss(ids: Tensor, opts: { ignoreIndex?: number } = {}): Var {
    const [B, T] = ids.shape;
    if (T < 2) throw new RangeError(`ids: need at least 2 positions for a next-token loss, got T=${T}`);
    const logits = this.forward(ids);
    const V = this.config.vocab_size;
    const pred = ag.reshape(ag.slice(logits, 1, 0, T - 1), [B * (T - 1), V]);
    const all = ids.toInt32Array();
    const tgt = new Int32Array(B * (T - 1));
    for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) tgt[b * (T - 1) + t] = all[b * T + t + 1];
    return ag.crossEntropy(pred, Tensor.from(tgt, [B * (T - 1)], { device: ids.device as Device }), { ignoreIndex: opts.ignoreIndex ?? -100 });
  }
}
