// ChunkRefine: the sidecar around a KimiLinearLM (built only when recursive_enabled). One inner step runs
// the chunk draft (after the prefix; with the latent token added to its embeddings through a zero gate) through every block, applying
// each RefineCell to the chunk positions right after its block, then the LM head and the boundary head.
//
// Cache policy (cache_reset_policy):
//   keep_kda_recurrent_reset_mla (default): the prefix is encoded once; every inner step restarts the chunk
//     from that snapshot (KDA recurrent state and conv tails restored, attention K/V of the prefix kept and
//     the chunk's recomputed). When a base weight is trainable (phases b, c) the prefix must carry gradient,
//     so the step recomputes prefix + chunk in one pass instead: the same values, full gradients.
//   reset_all: every inner step re-encodes prefix + chunk from scratch (one pass, no cache).
//   keep_all: the cache is threaded through the inner steps: step k continues from the state after step
//     k-1's chunk, so the context holds every earlier draft (the prototype's actual behaviour, made explicit).
//     The cached states carry no gradient, so under keep_all trainable base weights (LoRA, phase c) learn
//     only through the current chunk's positions.
import { ops } from '../ops';
import type { KimiLinearLM, LayerState } from '../nn';
import { Module } from '../nn';
import { Tensor, Var, ag, noGrad } from '../tensor';
import { BoundaryHead } from './boundary-head';
import { LatentToken } from './latent-token';
import { refinedLayers } from './layers';
import { RefineCell } from './refine-cell';
import type { Rng } from '../data/rng';

/** Gumbel-softmax temperature of soft tokens (the recursive config has no field for it). */
export const SOFT_TOKEN_TEMPERATURE = 1;

/** The recursive-config fields the sidecar reads (a subset of the experiment's RecursiveConfig). */
export interface SidecarConfig {
  chunk_width: number;
  max_inner_steps: number;
  commit_threshold: number;
  min_commit_threshold: number;
  layers_to_refine: 'all' | number[];
  use_latent_token: boolean;
  d_state: number;
  gate_hidden: number;
  max_chunk_len: number;
  enable_length_head: boolean;
  cache_reset_policy: 'keep_kda_recurrent_reset_mla' | 'keep_all' | 'reset_all';
  use_soft_tokens: boolean;
}

export type ParamRoleOf = 'refine' | 'boundary' | 'latent';

/** The encoded prefix an inner step starts from. */
export interface PrefixContext {
  B: number;
  P: number;
  prefix: Tensor;
  /** Recompute prefix + chunk in one pass each step (no cache). */
  full: boolean;
  /** Snapshot mode: the per-layer states after the prefix. */
  states: LayerState[] | null;
  /** Snapshot mode: logits [B, 1, V] of the last prefix position (it predicts chunk token 1). */
  lastLogits: Var | null;
}

export interface ChunkStep {
  /** [B, W, V]: row j predicts chunk token j. */
  logits: Var;
  /** [B] */
  commitLogit: Var;
  /** [B, L+1] or null. */
  lengthLogits: Var | null;
  /** [B, D] final-normed top hidden state at the chunk's last position. */
  top: Var;
  /** Next RefineCell states, one per refined layer. */
  cellStates: Var[];
  /** Snapshot mode: the layer states after this step's chunk (keep_all continues from them). */
  states: LayerState[] | null;
  /** Logits [B, 1, V] of the chunk's last position (under keep_all they predict the next copy's first token). */
  lastRow: Var;
}

export class ChunkRefine extends Module {
  readonly refined: number[];
  readonly cells: RefineCell[];
  readonly boundary: BoundaryHead;
  readonly latent: LatentToken | null;
  private readonly cellOfLayer = new Map<number, number>();

  /**
   * Surgery: builds the sidecar for `base`. Every RefineCell's W_out is zero, so until training moves it
   * the refined hidden states equal the base model's bit for bit.
   */
  constructor(
    readonly base: KimiLinearLM,
    readonly cfg: SidecarConfig,
    opts: { seed?: number } = {},
  ) {
    super('', { seed: opts.seed ?? 0 });
    const D = base.config.hidden_size;
    this.refined = refinedLayers(cfg.layers_to_refine, base.layers.length);
    this.cells = this.refined.map((l, i) => {
      this.cellOfLayer.set(l, i);
      return this.child(new RefineCell(`refine.${l}`, D, cfg.d_state, this.ctx));
    });
    this.boundary = this.child(new BoundaryHead('boundary', D, cfg.gate_hidden, cfg.enable_length_head ? cfg.max_chunk_len : null, this.ctx));
    if (cfg.use_latent_token) {
      const e = base.embed_tokens.data.toFloat32Array();
      let ss = 0;
      for (let i = 0; i < e.length; i++) ss += e[i] * e[i];
      this.latent = this.child(new LatentToken('latent', D, Math.sqrt(ss / e.length), this.ctx));
    } else this.latent = null;
  }

  /** Each sidecar parameter with its optimizer role. */
  namedRoles(): { name: string; role: ParamRoleOf; param: ReturnType<Module['parameters']>[number] }[] {
    return this.parameters().map((p) => ({ name: p.name, role: p.name.startsWith('boundary.') ? 'boundary' : p.name.startsWith('latent.') ? 'latent' : 'refine', param: p }));
  }

  private baseTrainable(): boolean {
    return this.base.parameters().some((p) => p.requiresGrad);
  }

  /**
   * Encodes the prefix [B, P] per the cache policy. `full` forces one pass over prefix + chunk per step (the
   * default policy's values computed in the base forward's order: evaluation uses it, so that surgery
   * reproduces the base model's logits bit for bit rather than to float32 rounding).
   */
  encodePrefix(prefix: Tensor, opts: { full?: boolean } = {}): PrefixContext {
    const [B, P] = prefix.shape;
    if (P < 1) throw new RangeError('prefix: needs at least one position (BOS)');
    if (opts.full && this.cfg.cache_reset_policy === 'keep_all') throw new RangeError('encodePrefix: full recomputation is not the keep_all policy (its context holds earlier drafts)');
    const full = opts.full === true || this.cfg.cache_reset_policy === 'reset_all' || (this.cfg.cache_reset_policy === 'keep_kda_recurrent_reset_mla' && this.baseTrainable());
    if (full) return { B, P, prefix, full, states: null, lastLogits: null };
    // Nothing trainable reaches the prefix (base frozen): encode it once, without a graph.
    const { logits, states } = noGrad(() => this.base.forwardWithState(prefix, null));
    const lastLogits = noGrad(() => ag.slice(logits, 1, P - 1, P));
    return { B, P, prefix, full, states, lastLogits };
  }

  /** The initial RefineCell states (zeros) for a chunk. */
  initialCellStates(B: number): Var[] {
    return this.cells.map((c) => c.initialState(B));
  }

  /**
   * One inner step on `draft` [B, W] (i32). prevTop: the previous step's top state (null at step 1).
   * startStates: snapshot mode only, the layer states to continue from (ctx.states, or the previous
   * step's under keep_all).
   */
  step(ctx: PrefixContext, draft: Tensor, prevTop: Var | null, cellStates: Var[], startStates: LayerState[] | null = ctx.states, rowZero: Var | null = ctx.lastLogits, draftEmb: Var | null = null): ChunkStep {
    const { B, P } = ctx;
    const W = draft.shape[1];
    if (draft.shape[0] !== B) throw new RangeError(`draft: expected batch ${B}, got ${draft.shape[0]}`);
    if (cellStates.length !== this.cells.length) throw new RangeError(`cellStates: expected ${this.cells.length}, got ${cellStates.length}`);
    const parts: Var[] = [];
    if (ctx.full) parts.push(this.base.embed(ctx.prefix));
    const chunkEmb = draftEmb ?? this.base.embed(draft);
    parts.push(this.latent ? this.latent.apply(chunkEmb, prevTop) : chunkEmb);
    let h = parts.length === 1 ? parts[0] : ag.concat(parts, 1);
    const c0 = ctx.full ? P : 0;
    const c1 = c0 + W;
    const nextCells: Var[] = [...cellStates];
    const nextStates: LayerState[] = [];
    this.base.layers.forEach((layer, i) => {
      if (ctx.full) h = layer.forward(h);
      else {
        const r = layer.forwardWithState(h, startStates![i]);
        h = r.h;
        nextStates.push(r.state);
      }
      const ci = this.cellOfLayer.get(i);
      if (ci !== undefined) {
        const r = this.cells[ci].apply(h, c0, c1, cellStates[ci]);
        h = r.h;
        nextCells[ci] = r.state;
      }
    });
    const all = this.base.head(h); // every position, as the base forward computes it
    let logits: Var;
    if (c0 >= 1) logits = ag.slice(all, 1, c0 - 1, c1 - 1);
    else logits = W > 1 ? ag.concat([rowZero!, ag.slice(all, 1, 0, W - 1)], 1) : rowZero!;
    const D = this.base.config.hidden_size;
    const top = ag.reshape(this.base.norm.forward(ag.slice(h, 1, c1 - 1, c1)), [B, D]);
    const { commitLogit, lengthLogits } = this.boundary.forward(top);
    return { logits, commitLogit, lengthLogits, top, cellStates: nextCells, states: ctx.full ? null : nextStates, lastRow: ag.slice(all, 1, c1 - 1, c1) };
  }

  /**
   * The K inner steps on a draft: after step k < K the corrupted positions (all positions when corrupted is
   * null) take step k's argmax predictions (no gradient). With use_soft_tokens and an `rng` (training), the
   * corrupted positions instead get Gumbel-softmax soft embeddings softmax((logits_k + g) / tau) . E, so the
   * next step's loss reaches step k's logits. Returns every step's outputs.
   */
  refine(prefix: Tensor, draft: Int32Array, corrupted: Uint8Array | null, W: number, rng: Rng | null = null, opts: { full?: boolean } = {}): ChunkStep[] {
    const ctx = this.encodePrefix(prefix, opts);
    const B = ctx.B;
    if (draft.length !== B * W) throw new RangeError(`draft: expected ${B}x${W} ids, got ${draft.length}`);
    const cur = Int32Array.from(draft);
    let cells = this.initialCellStates(B);
    let prevTop: Var | null = null;
    let states = ctx.states;
    let rowZero = ctx.lastLogits;
    let softEmb: Var | null = null;
    const steps: ChunkStep[] = [];
    for (let k = 0; k < this.cfg.max_inner_steps; k++) {
      const s = this.step(ctx, Tensor.from(cur, [B, W]), prevTop, cells, states, rowZero, softEmb);
      steps.push(s);
      cells = s.cellStates;
      prevTop = s.top;
      if (this.cfg.cache_reset_policy === 'keep_all' && s.states) {
        states = s.states;
        rowZero = s.lastRow;
      }
      if (k + 1 < this.cfg.max_inner_steps) {
        const am = ops.argmax(s.logits.data);
        const pred = am.toInt32Array();
        am.dispose();
        for (let i = 0; i < cur.length; i++) if (!corrupted || corrupted[i]) cur[i] = pred[i];
        if (this.cfg.use_soft_tokens && rng && corrupted) softEmb = this.softTokens(s.logits, cur, corrupted, rng);
      }
    }
    return steps;
  }

  /** Hard embeddings of `ids` where not corrupted, Gumbel-softmax soft embeddings of `logits` where corrupted. */
  private softTokens(logits: Var, ids: Int32Array, corrupted: Uint8Array, rng: Rng): Var {
    const [B, W, V] = logits.shape;
    const g = new Float32Array(B * W * V);
    for (let i = 0; i < g.length; i++) g[i] = -Math.log(-Math.log(1 - rng.float() * (1 - 1e-12)));
    const probs = ag.softmax(ag.scale(ag.add(logits, new Var(Tensor.from(g, [B, W, V]))), 1 / SOFT_TOKEN_TEMPERATURE));
    const soft = ag.matmul(probs, this.base.embed_tokens); // [B, W, D]
    const m = new Float32Array(B * W);
    for (let i = 0; i < m.length; i++) m[i] = corrupted[i] ? 1 : 0;
    const mask = new Var(Tensor.from(m, [B, W, 1]));
    const keepMask = new Var(Tensor.from(m.map((x) => 1 - x), [B, W, 1]));
    return ag.add(ag.mul(this.base.embed(Tensor.from(ids, [B, W])), keepMask), ag.mul(soft, mask));
  }
}
