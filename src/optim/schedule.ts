// Learning-rate schedule (a pure function of the step, so nothing to save for resume) and the optimizer
// parameter groups of the prototype: refine cells at lr, boundary head at lr x 1.67, weight decay 0.05, no
// decay on norms, biases, A_log and dt_bias.

export type LrDecay = 'constant' | 'linear' | 'cosine';

export interface LrSchedule {
  /** Steps of linear warmup from 0 (step 1 gets lr/warmup). */
  warmupSteps: number;
  /** Total optimizer steps; decay ends here. */
  totalSteps: number;
  decay: LrDecay;
  /** The lr at the end of decay as a fraction of the peak (default 0). */
  minLrRatio?: number;
}

function checkSchedule(s: LrSchedule): void {
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1) throw new RangeError(`total_steps: expected a positive integer, got ${s.totalSteps}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw new RangeError(`warmup_steps: expected a non-negative integer, got ${s.warmupSteps}`);
  const m = s.minLrRatio ?? 0;
  if (!(m >= 0 && m <= 1)) throw new RangeError(`min_lr_ratio: expected a number in [0, 1], got ${m}`);
  if (!['constant', 'linear', 'cosine'].includes(s.decay)) throw new RangeError(`lr decay: expected 'constant', 'linear' or 'cosine', got ${JSON.stringify(s.decay)}`);
}

/**
 * The multiplier of the peak lr for optimizer step `step` (1-based, the value passed to adamw.step):
 * step/warmup during warmup, then 1 -> minLrRatio over the remaining steps (linear or cosine), then
 * minLrRatio after totalSteps.
 */
export function lrFactor(step: number, s: LrSchedule): number {
  checkSchedule(s);
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`step: expected an integer >= 1, got ${step}`);
  if (step <= s.warmupSteps) return step / s.warmupSteps;
  const m = s.minLrRatio ?? 0;
  if (s.decay === 'constant') return 1;
  const span = s.totalSteps - s.warmupSteps;
  const p = span <= 0 ? 1 : Math.min(1, (step - s.warmupSteps) / span);
  if (s.decay === 'linear') return 1 - (1 - m) * p;
  return m + (1 - m) * 0.5 * (1 + Math.cos(Math.PI * p));
}

/** What a parameter is, for choosing its group. */
export type ParamRole = 'base' | 'refine' | 'boundary' | 'latent' | 'lora';

export interface GroupConfig {
  /** Base lr of refine cells and the latent token (prototype 3e-4). */
  lr: number;
  /** Boundary head lr = lr x boundaryLrMult (prototype 5e-4 / 3e-4 = 1.67). */
  boundaryLrMult?: number;
  /** LoRA adapters (phase b; prototype intent 1e-5). */
  loraLr?: number;
  /** Unfrozen base weights (baseline pretraining, phase c blocks); default lr. */
  baseLr?: number;
  weightDecay?: number;
}

export interface ParamGroup<P> {
  name: string;
  lr: number;
  weightDecay: number;
  params: P[];
  names: string[];
}

/** Norm weights, biases, A_log and dt_bias are never decayed; nor is the latent vector (an embedding). */
export function isNoDecay(name: string, role: ParamRole): boolean {
  if (role === 'latent') return true;
  const leaf = name.split('.').pop() ?? name;
  return leaf === 'bias' || leaf.startsWith('bias_') || leaf === 'A_log' || leaf === 'dt_bias' || /(^|[._])norm([._]|$)|layernorm|_norm/.test(name);
}

/** Groups trainable parameters as `<role>` / `<role>_no_decay` with their lr and weight decay. */
export function buildParamGroups<P>(params: { name: string; role: ParamRole; param: P }[], cfg: GroupConfig): ParamGroup<P>[] {
  if (!(cfg.lr > 0)) throw new RangeError(`lr: expected a positive number, got ${cfg.lr}`);
  const wd = cfg.weightDecay ?? 0.05;
  if (!(wd >= 0)) throw new RangeError(`weight_decay: expected a non-negative number, got ${wd}`);
  const lrOf: Record<ParamRole, number> = {
    refine: cfg.lr,
    latent: cfg.lr,
    boundary: cfg.lr * (cfg.boundaryLrMult ?? 1.67),
    lora: cfg.loraLr ?? 1e-5,
    base: cfg.baseLr ?? cfg.lr,
  };
  const groups = new Map<string, ParamGroup<P>>();
  const seen = new Set<string>();
  for (const { name, role, param } of params) {
    if (!(role in lrOf)) throw new RangeError(`param ${name}: role must be one of ${Object.keys(lrOf).join(', ')}, got ${JSON.stringify(role)}`);
    if (seen.has(name)) throw new RangeError(`param ${name}: listed twice`);
    seen.add(name);
    const noDecay = isNoDecay(name, role);
    const key = noDecay ? `${role}_no_decay` : role;
    let g = groups.get(key);
    if (!g) {
      g = { name: key, lr: lrOf[role], weightDecay: noDecay ? 0 : wd, params: [], names: [] };
      groups.set(key, g);
    }
    g.params.push(param);
    g.names.push(name);
  }
  return [...groups.values()];
}
