// The draft corruption of docs/design/sidecar.md, "One training step", step 1: a fraction rho of the chunk's real (non-pad)
// positions is replaced by the tokenizer's mask id or a random ordinary (non-special) token, and rho follows
// corruption_schedule over training.
import type { Rng } from './rng';
import type { ChunkBatch } from './collate';
import { ByteTokenizer } from '../tokenizer/byte';
import type { Tokenizer } from '../tokenizer/tokenizer';

const BYTES = new ByteTokenizer();

/** As the recursive config's corruption_schedule: 'none' keeps corruption_rate throughout. */
export type CorruptionSchedule = 'none' | 'linear' | 'cosine';
export type CorruptionStrategy = 'random' | 'span';
export type CorruptionMode = 'mask' | 'random' | 'mixed';

/**
 * rho at training step `step` (0-based) of `totalSteps`: from `rate` to `rateFinal`; linear or cosine in
 * progress = step / totalSteps (clamped to [0, 1]).
 */
export function corruptionRateAt(step: number, totalSteps: number, cfg: { rate: number; rateFinal: number; schedule: CorruptionSchedule }): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step: expected a non-negative integer, got ${step}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new RangeError(`total_steps: expected a positive integer, got ${totalSteps}`);
  const p = Math.min(1, step / totalSteps);
  switch (cfg.schedule) {
    case 'none':
      return cfg.rate;
    case 'linear':
      return cfg.rate + (cfg.rateFinal - cfg.rate) * p;
    case 'cosine':
      return cfg.rate + (cfg.rateFinal - cfg.rate) * 0.5 * (1 - Math.cos(Math.PI * p));
    default:
      throw new RangeError(`corruption_schedule: expected 'none', 'linear' or 'cosine', got ${JSON.stringify(cfg.schedule)}`);
  }
}

/**
 * Which of `length` positions to corrupt: n = clamp(floor(length * rate), minCorrupt, maxCorrupt ?? length),
 * never more than length; 'random' picks n distinct positions, 'span' one contiguous run of n.
 */
export function corruptionMask(rng: Rng, length: number, rate: number, opts: { strategy?: CorruptionStrategy; minCorrupt?: number; maxCorrupt?: number } = {}): Uint8Array {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`corruption rate: expected a number in [0, 1], got ${rate}`);
  const mask = new Uint8Array(length);
  if (length === 0) return mask;
  const minC = opts.minCorrupt ?? 1;
  const maxC = opts.maxCorrupt ?? length;
  const n = Math.min(length, Math.max(minC, Math.min(Math.floor(length * rate), maxC)));
  const strategy = opts.strategy ?? 'random';
  if (strategy === 'random') {
    const perm = rng.permutation(length);
    for (let i = 0; i < n; i++) mask[perm[i]] = 1;
  } else if (strategy === 'span') {
    const start = rng.int(length - n + 1);
    mask.fill(1, start, start + n);
  } else {
    throw new RangeError(`corruption strategy: expected 'random' or 'span', got ${JSON.stringify(strategy)}`);
  }
  return mask;
}

export interface CorruptedDraft {
  /** [B, W] the chunk with corrupted positions replaced. */
  draft: Int32Array;
  /** [B, W] 1 where the draft differs by construction from the clean chunk. */
  corrupted: Uint8Array;
}

/**
 * Corrupts each row's first lengths[b] chunk positions (pads are left alone). 'mask' writes the tokenizer's
 * mask id, 'random' a uniformly drawn ordinary token different from the clean one (any ordinary token when the
 * clean one is special), 'mixed' either with probability 1/2. The tokenizer defaults to the byte tokenizer.
 */
export function corruptChunk(
  batch: ChunkBatch,
  rate: number,
  rng: Rng,
  opts: { strategy?: CorruptionStrategy; mode?: CorruptionMode; tokenizer?: Tokenizer; minCorrupt?: number; maxCorrupt?: number } = {},
): CorruptedDraft {
  const { batchSize: B, chunkWidth: W } = batch;
  const mode = opts.mode ?? 'mask';
  if (mode !== 'mask' && mode !== 'random' && mode !== 'mixed') throw new RangeError(`corruption mode: expected 'mask', 'random' or 'mixed', got ${JSON.stringify(mode)}`);
  const tok = opts.tokenizer ?? BYTES;
  const maskId = tok.maskId;
  if (mode !== 'random' && maskId === null) throw new RangeError(`corruption mode ${JSON.stringify(mode)}: ${tok.describe().path ?? 'the tokenizer'} has no mask token (allowed: mode 'random', or a tokenizer with one)`);
  const N = tok.ordinaryCount;
  const draft = Int32Array.from(batch.chunk);
  const corrupted = new Uint8Array(B * W);
  for (let b = 0; b < B; b++) {
    const m = corruptionMask(rng, batch.lengths[b], rate, opts);
    for (let j = 0; j < m.length; j++) {
      if (!m[j]) continue;
      const i = b * W + j;
      corrupted[i] = 1;
      const useMask = mode === 'mask' || (mode === 'mixed' && rng.int(2) === 0);
      if (useMask) draft[i] = maskId!;
      else {
        const clean = tok.ordinalOf(batch.chunk[i]);
        let r = rng.int(clean >= 0 ? N - 1 : N); // an ordinary token different from the clean one
        if (clean >= 0 && r >= clean) r++;
        draft[i] = tok.ordinaryId(r);
      }
    }
  }
  return { draft, corrupted };
}
