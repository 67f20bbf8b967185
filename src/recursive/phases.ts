// Training phases (docs/design/sidecar.md): which parameters train, in which optimizer role.
//   baseline       the base LM (recursion off)            sidecar must be absent
//   after_surgery  nothing (evaluation only)              everything frozen
//   a              sidecar (refine cells, boundary head, latent token); every base weight frozen
//   b              as a, plus LoRA on the attention and MLP projections of the top layers
//   c              as b, plus every `every`-th block fully unfrozen with an L2-to-pretrained penalty
// Frozen parameters have requiresGrad = false: no gradient buffer, and the trainer makes no optimizer state
// for them.
import { ops } from '../ops';
import type { KimiLinearLM, Linear } from '../nn';
import type { ParamRole } from '../optim/schedule';
import { type Parameter, type Tensor, keep } from '../tensor';
import type { ChunkRefine } from './chunk-refine';
import { LoraAdapters } from './lora';

export const PHASE_NAMES = ['baseline', 'after_surgery', 'a', 'b', 'c'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface PhaseOptions {
  lora?: { rank: number; alpha: number; top_fraction: number };
  unfreeze?: { every: number; l2_weight: number };
  seed?: number;
}

export interface TrainableParam {
  name: string;
  role: ParamRole;
  param: Parameter;
}

export interface PhaseSetup {
  phase: PhaseName;
  trainable: TrainableParam[];
  lora: LoraAdapters | null;
  /** Phase c: the unfrozen base weights, their pretrained values and the penalty weight. */
  l2: { params: Parameter[]; pretrained: Tensor[]; weight: number } | null;
  /** Undoes the phase: detaches LoRA, frees its parameters and the pretrained copies. */
  dispose(): void;
}

/** The block indices LoRA adapts: the top round(N * fraction) layers (at least one). */
export function loraLayers(numLayers: number, topFraction: number): number[] {
  if (!(topFraction > 0 && topFraction <= 1)) throw new RangeError(`lora.top_fraction: expected a number in (0, 1], got ${topFraction}`);
  const n = Math.max(1, Math.round(numLayers * topFraction));
  return Array.from({ length: n }, (_, i) => numLayers - n + i);
}

/** The block indices phase c unfreezes: every `every`-th block (1-based: blocks every, 2*every, ...). */
export function unfrozenLayers(numLayers: number, every: number): number[] {
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`unfreeze.every: expected a positive integer, got ${every}`);
  const out: number[] = [];
  for (let i = every - 1; i < numLayers; i += every) out.push(i);
  if (out.length === 0) throw new RangeError(`unfreeze.every: ${every} unfreezes no block of a ${numLayers}-layer model`);
  return out;
}

function projections(model: KimiLinearLM, layer: number): Linear[] {
  return model.layers[layer].loraTargets();
}

export function setupPhase(phase: PhaseName, model: KimiLinearLM, sidecar: ChunkRefine | null, opts: PhaseOptions = {}): PhaseSetup {
  if (!PHASE_NAMES.includes(phase)) throw new RangeError(`phase: expected one of ${PHASE_NAMES.join(', ')}, got ${JSON.stringify(phase)}`);
  if (phase === 'baseline' && sidecar) throw new RangeError('phase baseline trains the base LM with recursion off: set recursive_enabled to false');
  if (phase !== 'baseline' && !sidecar) throw new RangeError(`phase ${phase} needs the sidecar: set recursive_enabled to true`);
  const baseParams = model.parameters();
  const trainable: TrainableParam[] = [];
  let lora: LoraAdapters | null = null;
  let l2: PhaseSetup['l2'] = null;

  model.setRequiresGrad(phase === 'baseline');
  sidecar?.setRequiresGrad(phase === 'a' || phase === 'b' || phase === 'c');
  if (phase === 'baseline') for (const p of baseParams) trainable.push({ name: p.name, role: 'base', param: p });
  if (sidecar && phase !== 'after_surgery') for (const r of sidecar.namedRoles()) trainable.push(r);
  if (phase === 'b' || phase === 'c') {
    const o = opts.lora ?? { rank: 8, alpha: 16, top_fraction: 1 / 3 };
    const targets = loraLayers(model.layers.length, o.top_fraction).flatMap((l) => projections(model, l));
    lora = new LoraAdapters(targets, o.rank, o.alpha, opts.seed ?? 0);
    lora.attach();
    for (const p of lora.parameters()) trainable.push({ name: p.name, role: 'lora', param: p });
  }
  if (phase === 'c') {
    const o = opts.unfreeze ?? { every: 4, l2_weight: 0.01 };
    const params: Parameter[] = [];
    for (const l of unfrozenLayers(model.layers.length, o.every)) {
      for (const p of model.layers[l].parameters()) {
        p.setRequiresGrad(true);
        params.push(p);
        trainable.push({ name: p.name, role: 'base', param: p });
      }
    }
    l2 = { params, pretrained: params.map((p) => keep(ops.copy(p.data))), weight: o.l2_weight };
  }
  return {
    phase,
    trainable,
    lora,
    l2,
    dispose() {
      lora?.detach();
      lora?.dispose();
      l2?.pretrained.forEach((t) => t.dispose());
    },
  };
}

/**
 * Phase c's penalty weight * sum ||w - w_pretrained||^2: adds its gradient 2 * weight * (w - w0) to each
 * parameter's .grad and returns its value.
 */
export function applyL2ToPretrained(l2: NonNullable<PhaseSetup['l2']>): number {
  const value = applyL2ToPretrainedScalar(l2);
  const x = value.toFloat32Array()[0];
  value.dispose();
  return x;
}

/**
 * applyL2ToPretrained with its value as an f32 [1] tensor on the parameters' device: one reduction over every
 * difference, so on a GPU the step does not wait for the device once per parameter (read it with the loss).
 */
export function applyL2ToPretrainedScalar(l2: NonNullable<PhaseSetup['l2']>): Tensor {
  const diffs = l2.params.map((p, i) => ops.sub(p.data, l2.pretrained[i]));
  const total = ops.sumSquaresScalar(diffs);
  diffs.forEach((d, i) => {
    const p = l2.params[i];
    if (p.grad) ops.addInPlace(p.grad, d, 2 * l2.weight);
    else p.grad = keep(ops.scale(d, 2 * l2.weight));
    d.dispose();
  });
  const value = ops.scale(total, l2.weight);
  total.dispose();
  return value;
}
