// The training loop: one phase of docs/design/sidecar.md on one model. AdamW (native fused step) over the
// prototype's parameter groups, warmup + linear/cosine decay, global-norm gradient clipping, periodic
// evaluation and checkpoints through hooks (the experiment tracker plugs in there).
//
// Resume: checkpoint() captures everything a step depends on (weights, AdamW moments, step, the corruption
// RNG, the data position, best-so-far); restore() puts it back, so N steps straight and N/2 + restore + N/2
// give bit-identical weights and metrics on CPU. The lr is a pure function of the step.
import { ops } from '../ops';
import type { KimiLinearLM } from '../nn';
import { adamw } from '../optim/adamw';
import { type LrDecay, buildParamGroups, lrFactor, type ParamGroup } from '../optim/schedule';
import { Batcher, type BatcherState } from '../data/batcher';
import { collateChunks, collateSequences } from '../data/collate';
import { corruptChunk, corruptionRateAt, type CorruptionMode, type CorruptionStrategy } from '../data/corruption';
import { Rng, type RngState } from '../data/rng';
import type { ExampleSource } from '../data/sources';
import { ChunkRefine, type SidecarConfig } from '../recursive/chunk-refine';
import { recursiveLossVar } from '../recursive/loss-node';
import { lossWeightsFromConfig } from '../recursive/losses';
import { applyL2ToPretrainedScalar, type PhaseName, type PhaseSetup, setupPhase } from '../recursive/phases';
import { backendOf, bf16Problem } from '../native/route';
import { type Device, type Parameter, Tensor, ag, backward, keep, scope, withDefaultDevice } from '../tensor';
import { evalSetHash, evaluateSteps, type EvalResult } from './evaluate';

/** The recursive-config fields the trainer reads (the experiment's RecursiveConfig satisfies it). */
export interface RecursiveSettings extends SidecarConfig {
  recursive_enabled: boolean;
  corruption_rate: number;
  corruption_rate_final: number;
  corruption_schedule: 'none' | 'linear' | 'cosine';
  lambda_final: number;
  lambda_masked: number;
  lambda_halt: number;
  lambda_len: number;
  lambda_ponder: number;
  lambda_stability: number;
}

/** The run-config fields the trainer reads (the experiment's RunConfig satisfies it). */
export interface TrainerConfig {
  phase: PhaseName;
  seed: number;
  num_steps: number;
  batch_size: number;
  optimizer: { lr: number; boundary_lr_scale: number; beta1: number; beta2: number; eps: number; weight_decay: number; grad_clip: number | null };
  schedule: { warmup_steps: number; decay: LrDecay; min_lr_ratio: number };
  intervals: { log: number; eval: number; save: number };
  checkpoint: { best_metric: string; best_mode: 'min' | 'max' };
  lora: { rank: number; alpha: number; lr: number; top_fraction: number };
  unfreeze: { every: number; lr: number; l2_weight: number };
  data: { eval_examples: number; eval_seed: number };
}

export interface TrainerState {
  version: 1;
  phase: PhaseName;
  /** Optimizer steps completed. */
  step: number;
  num_steps: number;
  rng: RngState;
  data: BatcherState;
  best: { metric: string; value: number; step: number } | null;
}

export interface TrainerCheckpoint {
  /** Base model weights (HF names; a loadable model with the model's config). */
  model: Map<string, Tensor>;
  /** Sidecar and LoRA weights (names refine.*, boundary.*, latent.*, ...lora_A/B.weight). */
  sidecar: Map<string, Tensor>;
  /** AdamW moments: `<param>.exp_avg`, `<param>.exp_avg_sq`. */
  optimizer: Map<string, Tensor>;
  state: TrainerState;
}

/** Each hook may return a Promise; run() awaits it before the next step (checkpoint tensors are live). */
export interface TrainerHooks {
  metrics?(step: number, metrics: Record<string, number>): unknown;
  note?(step: number, text: string): unknown;
  sample?(step: number, sample: { prompt: string; output: string; answer?: string; exact?: boolean }): unknown;
  checkpoint?(step: number, ckpt: TrainerCheckpoint, info: { isBest: boolean; metrics: Record<string, number> }): unknown;
}

export interface TrainerOptions {
  model: KimiLinearLM;
  /** The recursive config; the sidecar is built when recursive_enabled. */
  recursive: RecursiveSettings;
  config: TrainerConfig;
  train: ExampleSource;
  eval?: ExampleSource | null;
  hooks?: TrainerHooks;
  /** At most this many evaluation examples are generated for exact match (default: all of them). */
  evalGenerate?: number;
  corruption?: { strategy?: CorruptionStrategy; mode?: CorruptionMode };
  /**
   * Awaited by run() between evaluation batches and generated examples: lets signals and timers through during a
   * long evaluation, and may throw to stop it.
   */
  onEvalProgress?: (done: number, total: number) => unknown;
  /**
   * Where to train ('cpu' default, 'cuda', 'cuda:N'): the model is moved there, the sidecar, LoRA and AdamW state
   * are made there, and every batch and tensor built during a step or an evaluation lands there.
   */
  device?: Device;
  /**
   * 'fp32' (default) or 'bf16' (CUDA only): steps and evaluations run inside ag.withPrecision, the one place the
   * choice is read: every autograd matmul multiplies bf16 copies with fp32 accumulation, KDA stores its inputs in
   * bf16. Weights (the fp32 master copy), gradients and the AdamW state stay fp32 (docs/precision.md).
   */
  precision?: 'fp32' | 'bf16';
}

/** 'cuda' -> 'cuda:0' (the name tensors report), so device comparisons are exact. */
function canonicalDevice(d: Device): Device {
  backendOf(d);  // refuses unknown names
  return d === 'cuda' ? 'cuda:0' : d;
}

export class Trainer {
  readonly model: KimiLinearLM;
  readonly sidecar: ChunkRefine | null;
  readonly setup: PhaseSetup;
  readonly config: TrainerConfig;
  readonly recursive: RecursiveSettings;
  private readonly groups: ParamGroup<Parameter>[];
  private readonly moments = new Map<Parameter, { m: Tensor; v: Tensor }>();
  private readonly batcher: Batcher;
  private rng: Rng;
  private stepCount = 0;
  private best: TrainerState['best'] = null;
  private readonly opts: TrainerOptions;
  private evalHash: string | undefined;
  /** Where the model, its gradients, the optimizer state and every batch live. */
  readonly device: Device;
  readonly precision: 'fp32' | 'bf16';

  constructor(opts: TrainerOptions) {
    this.opts = opts;
    this.model = opts.model;
    this.config = opts.config;
    this.recursive = opts.recursive;
    const c = opts.config;
    this.device = canonicalDevice(opts.device ?? 'cpu');
    const dev = this.device;
    this.precision = opts.precision ?? 'fp32';
    const bf16Why = this.precision === 'bf16' ? bf16Problem(dev) : null;
    if (bf16Why) throw new RangeError(`precision: bf16 cannot run on device ${dev} (${bf16Why})`);
    if (dev !== 'cpu') opts.model.to(dev);
    // The sidecar, LoRA adapters and phase-c anchors are built on the device directly.
    this.sidecar = withDefaultDevice(dev, () => (opts.recursive.recursive_enabled ? new ChunkRefine(opts.model, opts.recursive, { seed: c.seed }) : null));
    this.setup = withDefaultDevice(dev, () => setupPhase(c.phase, opts.model, this.sidecar, { lora: c.lora, unfreeze: c.unfreeze, seed: c.seed }));
    for (const t of this.setup.trainable) {
      if (t.param.data.device !== dev) throw new Error(`trainer: parameter ${t.name} is on ${t.param.data.device}, not on ${dev}`);
      // A bf16 (frozen-base) weight is widened when unfrozen; one that is still bf16 was unfrozen another way.
      if (t.param.data.dtype !== 'f32') throw new Error(`trainer: trainable parameter ${t.name} is ${t.param.data.dtype}; trained weights must be f32 (unfreeze with setRequiresGrad(true), which widens)`);
    }
    this.groups = buildParamGroups(this.setup.trainable, {
      lr: c.optimizer.lr,
      boundaryLrMult: c.optimizer.boundary_lr_scale,
      loraLr: c.lora.lr,
      baseLr: c.phase === 'c' ? c.unfreeze.lr : c.optimizer.lr,
      weightDecay: c.optimizer.weight_decay,
    });
    for (const t of this.setup.trainable) this.moments.set(t.param, { m: keep(Tensor.zeros(t.param.shape, { device: dev })), v: keep(Tensor.zeros(t.param.shape, { device: dev })) });
    this.batcher = new Batcher(opts.train, { batchSize: c.batch_size, seed: c.seed });
    this.rng = Rng.seeded(c.seed, 0xc0447);
  }

  get step(): number {
    return this.stepCount;
  }

  /** Parameters that train in this phase (the only ones with gradients and optimizer state). */
  trainableNames(): string[] {
    return this.setup.trainable.map((t) => t.name);
  }

  /** One optimizer step; returns the train metrics of this step. */
  trainStep(): Record<string, number> {
    return withDefaultDevice(this.device, () => ag.withPrecision(this.precision, () => this.trainStepHere()));
  }

  private trainStepHere(): Record<string, number> {
    const c = this.config;
    if (this.setup.trainable.length === 0) throw new Error(`phase ${c.phase} trains nothing (evaluation only)`);
    const step = this.stepCount + 1;
    const examples = this.batcher.next();
    const metrics: Record<string, number> = {};
    let lossTensor: Tensor | null = null;
    let normTensor: Tensor | null = null;
    let l2Tensor: Tensor | null = null;
    scope(() => {
      for (const t of this.setup.trainable) t.param.zeroGrad();
      if (this.sidecar) {
        const W = this.recursive.chunk_width;
        const tok = this.opts.train.tokenizer;
        const batch = collateChunks(examples, { chunkWidth: W, padId: tok.padId });
        const rate = corruptionRateAt(step - 1, c.num_steps, { rate: this.recursive.corruption_rate, rateFinal: this.recursive.corruption_rate_final, schedule: this.recursive.corruption_schedule });
        const { draft, corrupted } = corruptChunk(batch, rate, this.rng, { ...this.opts.corruption, tokenizer: tok });
        const steps = this.sidecar.refine(Tensor.from(batch.prefix, [batch.batchSize, batch.prefixLength]), draft, corrupted, W, this.rng);
        const { loss, result } = recursiveLossVar(steps, batch, corrupted, this.recursive.max_chunk_len, lossWeightsFromConfig(this.recursive));
        backward(loss);
        metrics['train/loss'] = result.total;
        for (const [k, v] of Object.entries(result.terms)) metrics[`train/loss/${k}`] = v;
        metrics['train/token_accuracy'] = result.tokenAccuracy;
        metrics['train/corruption_rate'] = rate;
        // Over the steps before K, where committing is a decision (y_K is 1 by definition).
        const decided = result.haltTargets.length > 1 ? result.haltTargets.slice(0, -1) : result.haltTargets;
        metrics['train/halt_target_rate'] = decided.reduce((s, y) => s + y.reduce((a, x) => a + x, 0), 0) / (decided.length * batch.batchSize);
      } else {
        const seq = collateSequences(examples, { padId: this.opts.train.tokenizer.padId });
        const V = this.model.config.vocab_size;
        const logits = this.model.forward(Tensor.from(seq.ids, [seq.batchSize, seq.seqLen]));
        const loss = ag.crossEntropy(ag.reshape(logits, [seq.batchSize * seq.seqLen, V]), Tensor.from(seq.targets, [seq.batchSize * seq.seqLen]), { ignoreIndex: -100 });
        backward(loss);
        lossTensor = loss.data;
        metrics['train/loss'] = NaN;  // read at the end of the step (keeps the metrics' order)
      }
      if (this.setup.l2) {
        l2Tensor = applyL2ToPretrainedScalar(this.setup.l2);
        metrics['train/l2_pretrained'] = NaN;  // read with the loss at the end of the step
      }
      const grads = this.setup.trainable.filter((t) => t.param.grad).map((t) => t.param.grad!);
      const clip = c.optimizer.grad_clip;
      if (backendOf(this.device) === 'cpu') {
        const norm = Math.sqrt(ops.sumSquares(grads));
        metrics['train/grad_norm'] = norm;
        if (clip !== null && norm > clip) for (const g of grads) ops.scaleInPlace(g, clip / (norm + 1e-6));
      } else {
        // On the GPU the clip is decided on the device; the norm is read with the loss after the update is queued,
        // so the step waits for the device once.
        normTensor = ops.clipGradNorm(grads, clip);
        metrics['train/grad_norm'] = NaN;
      }
      const f = lrFactor(step, { warmupSteps: c.schedule.warmup_steps, totalSteps: c.num_steps, decay: c.schedule.decay, minLrRatio: c.schedule.min_lr_ratio });
      metrics['train/lr'] = c.optimizer.lr * f;
      for (const g of this.groups) {
        // Like torch, a parameter that got no gradient this step is skipped.
        const ps = g.params.filter((p) => p.grad);
        if (ps.length === 0) continue;
        adamw.step(
          ps.map((p) => p.data),
          ps.map((p) => p.grad!),
          ps.map((p) => this.moments.get(p)!.m),
          ps.map((p) => this.moments.get(p)!.v),
          { lr: g.lr * f, beta1: c.optimizer.beta1, beta2: c.optimizer.beta2, eps: c.optimizer.eps, weightDecay: g.weightDecay, step },
        );
      }
      // The step's one wait for the device (a failed device-side check of this step is thrown here).
      if (lossTensor) metrics['train/loss'] = lossTensor.toFloat32Array()[0];
      if (normTensor) metrics['train/grad_norm'] = normTensor.toFloat32Array()[0];
      if (l2Tensor) metrics['train/l2_pretrained'] = l2Tensor.toFloat32Array()[0];
    });
    this.stepCount = step;
    return metrics;
  }

  /** Evaluation on the eval source (fixed examples); empty when there is none. */
  evaluate(): EvalResult {
    const steps = this.evaluation();
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /** evaluate() that awaits opts.onEvalProgress between batches (what run() uses). */
  private async evaluateYielding(): Promise<EvalResult> {
    const steps = this.evaluation();
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      await this.opts.onEvalProgress?.(r.value.done, r.value.total);
    }
  }

  // Each resumption of the evaluation generator runs on the trainer's device.
  private *evaluation(): Generator<{ done: number; total: number }, EvalResult> {
    const inner = this.evaluationHere();
    for (;;) {
      const r = withDefaultDevice(this.device, () => ag.withPrecision(this.precision, () => inner.next()));
      if (r.done) return r.value;
      yield r.value;
    }
  }

  private *evaluationHere(): Generator<{ done: number; total: number }, EvalResult> {
    const src = this.opts.eval;
    if (!src) return { metrics: {}, samples: [] };
    const r = this.recursive;
    const d = this.config.data;
    this.evalHash ??= evalSetHash(src, d.eval_examples);
    const out: EvalResult = yield* evaluateSteps(this.model, this.sidecar, src, {
      examples: d.eval_examples,
      chunkWidth: r.chunk_width,
      generate: this.opts.evalGenerate,
      surgeryCheck: this.config.phase === 'after_surgery',
      seed: d.eval_seed,
      corruptionRate: r.corruption_rate_final,
      corruptionStrategy: this.opts.corruption?.strategy,
      corruptionMode: this.opts.corruption?.mode,
      weights: lossWeightsFromConfig(r),
      maxChunkLen: r.max_chunk_len,
    });
    out.metrics['eval/set_hash'] = parseInt(this.evalHash.slice(0, 12), 16);
    return out;
  }

  /** sha256 of the evaluation set (see evalSetHash); null without an eval source. */
  evalSetHash(): string | null {
    const src = this.opts.eval;
    if (!src) return null;
    this.evalHash ??= evalSetHash(src, this.config.data.eval_examples);
    return this.evalHash;
  }

  private improves(value: number): boolean {
    if (!Number.isFinite(value)) return false;
    if (!this.best) return true;
    return this.config.checkpoint.best_mode === 'min' ? value < this.best.value : value > this.best.value;
  }

  /**
   * Trains until `untilStep` (default num_steps): logs every intervals.log steps, evaluates every
   * intervals.eval steps and at the end, checkpoints every intervals.save steps, at the end, and whenever an
   * evaluation improves the best metric (so the best weights are always saved, decided before any rotation).
   * Hooks are awaited in order.
   */
  async run(untilStep = this.config.num_steps): Promise<void> {
    const c = this.config;
    const hooks = this.opts.hooks ?? {};
    if (this.setup.trainable.length === 0 || c.num_steps === 0) {
      // Evaluation-only runs (after_surgery, or a loaded base with num_steps 0): one evaluation at step 0.
      const e = await this.evaluateYielding();
      await hooks.metrics?.(this.stepCount, e.metrics);
      for (const smp of e.samples) await hooks.sample?.(this.stepCount, smp);
      return;
    }
    if (this.stepCount === 0 && this.sidecar)
      await hooks.note?.(0, `phase ${c.phase}: ${this.setup.trainable.length} trainable tensors; eval/loss with the sidecar is teacher-forced on the clean chunk (the sidecar sees the whole chunk), eval/exact_match is the fair comparison`);
    while (this.stepCount < untilStep) {
      const m = this.trainStep();
      const s = this.stepCount;
      if (s % c.intervals.log === 0 || s === c.num_steps) await hooks.metrics?.(s, m);
      let isBest = false;
      let evalMetrics: Record<string, number> = {};
      if (this.opts.eval && (s % c.intervals.eval === 0 || s === c.num_steps)) {
        const e = await this.evaluateYielding();
        evalMetrics = e.metrics;
        await hooks.metrics?.(s, e.metrics);
        for (const smp of e.samples) await hooks.sample?.(s, smp);
        const v = e.metrics[c.checkpoint.best_metric];
        if (v !== undefined && this.improves(v)) {
          this.best = { metric: c.checkpoint.best_metric, value: v, step: s };
          isBest = true;
        }
      }
      if (hooks.checkpoint && (s % c.intervals.save === 0 || s === c.num_steps || isBest)) await hooks.checkpoint(s, this.checkpoint(), { isBest, metrics: { ...m, ...evalMetrics } });
    }
  }

  getState(): TrainerState {
    return { version: 1, phase: this.config.phase, step: this.stepCount, num_steps: this.config.num_steps, rng: this.rng.getState(), data: this.batcher.getState(), best: this.best ? { ...this.best } : null };
  }

  /** The tensors are the live ones (no copies): write them out before the next step. */
  checkpoint(): TrainerCheckpoint {
    const model = new Map(this.model.parameters().map((p) => [p.name, p.data] as const));
    const sidecar = new Map<string, Tensor>();
    for (const p of this.sidecar?.parameters() ?? []) sidecar.set(p.name, p.data);
    for (const p of this.setup.lora?.parameters() ?? []) sidecar.set(p.name, p.data);
    const optimizer = new Map<string, Tensor>();
    for (const t of this.setup.trainable) {
      const mv = this.moments.get(t.param)!;
      optimizer.set(`${t.name}.exp_avg`, mv.m);
      optimizer.set(`${t.name}.exp_avg_sq`, mv.v);
    }
    return { model, sidecar, optimizer, state: this.getState() };
  }

  /** Restores a checkpoint taken from a trainer built the same way (same model config, phase, data, seed). */
  restore(ck: { model?: Map<string, Tensor>; sidecar?: Map<string, Tensor>; optimizer: Map<string, Tensor>; state: TrainerState }): void {
    const s = ck.state;
    if (!s || s.version !== 1) throw new TypeError(`trainer state: expected version 1, got ${JSON.stringify(s?.version)}`);
    if (s.phase !== this.config.phase) throw new RangeError(`trainer state: phase is ${s.phase}, this run is phase ${this.config.phase}`);
    // A checkpoint from another device (a CPU run resumed on CUDA, or back) is copied over tensor by tensor.
    const onDevice = (t: Tensor, dst: Tensor, fn: (src: Tensor) => void) => {
      if (t.device === dst.device) return fn(t);
      const moved = t.to(dst.device as Device);
      try {
        fn(moved);
      } finally {
        moved.dispose();
      }
    };
    const put = (p: Parameter, src: Map<string, Tensor> | undefined, what: string) => {
      const t = src?.get(p.name);
      if (!t) throw new RangeError(`checkpoint: ${what} tensor ${p.name} is missing`);
      onDevice(t, p.data, (x) => p.assign(x));
    };
    if (ck.model) for (const p of this.model.parameters()) put(p, ck.model, 'model');
    for (const p of [...(this.sidecar?.parameters() ?? []), ...(this.setup.lora?.parameters() ?? [])]) put(p, ck.sidecar, 'sidecar');
    for (const t of this.setup.trainable) {
      const mv = this.moments.get(t.param)!;
      for (const [key, dst] of [
        [`${t.name}.exp_avg`, mv.m],
        [`${t.name}.exp_avg_sq`, mv.v],
      ] as const) {
        const src = ck.optimizer.get(key);
        if (!src) throw new RangeError(`checkpoint: optimizer tensor ${key} is missing`);
        onDevice(src, dst, (x) => ops.copyInPlace(dst, x));
      }
    }
    this.stepCount = s.step;
    this.rng = Rng.fromState(s.rng);
    this.batcher.setState(s.data);
    this.best = s.best ? { ...s.best } : null;
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
    this.setup.dispose();
    this.sidecar?.dispose();
  }
}
