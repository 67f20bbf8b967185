// Collators: examples -> the flat id arrays a training step feeds to the model.
import { SPECIAL_TOKENS } from '../tokenizer/byte';
import type { Example } from './sources';

export const IGNORE_INDEX = -100;

/** A batch split into a prefix (encoded once) and a chunk of chunkWidth positions (refined K times). */
export interface ChunkBatch {
  batchSize: number;
  /** P: every row's prefix is left-padded with pad ids to the longest prefix in the batch. */
  prefixLength: number;
  /** W */
  chunkWidth: number;
  /** [B, P] */
  prefix: Int32Array;
  /** [B, W] the clean chunk, right-padded with pad ids. */
  chunk: Int32Array;
  /**
   * [B, W] next-token targets for the W chunk predictions: row j is predicted by the position just before
   * chunk position j (the last prefix position, or the latent token, for j = 0). Pads are IGNORE_INDEX.
   */
  targets: Int32Array;
  /** [B] effective chunk length: the number of non-pad chunk tokens (EOS counts). */
  lengths: Int32Array;
  examples: Example[];
}

export interface ChunkCollateOptions {
  chunkWidth: number;
  /** The source tokenizer's padId (default: the byte tokenizer's). */
  padId?: number;
}

/**
 * Prompted examples: the prefix is the prompt, the chunk the first chunkWidth ids after it. Plain text: the
 * chunk is the last chunkWidth ids and the prefix everything before. Every prefix needs at least one id
 * (BOS), because the last prefix position predicts the chunk's first token.
 */
export function collateChunks(examples: Example[], opts: ChunkCollateOptions): ChunkBatch {
  const W = opts.chunkWidth;
  const pad = opts.padId ?? SPECIAL_TOKENS.pad;
  if (!Number.isInteger(W) || W < 1) throw new RangeError(`chunk_width: expected a positive integer, got ${W}`);
  if (!Array.isArray(examples) || examples.length === 0) throw new RangeError('examples: expected a non-empty array');
  const split = examples.map((e, b) => {
    const cut = e.promptLength ?? e.ids.length - W;
    if (cut < 1) throw new RangeError(`examples[${b}]: prefix would have ${cut} ids (${e.ids.length} ids, chunk_width ${W}); a prefix needs at least 1 id`);
    return { pre: e.ids.slice(0, cut), ch: e.ids.slice(cut, cut + W) };
  });
  const B = examples.length;
  const P = Math.max(...split.map((s) => s.pre.length));
  const prefix = new Int32Array(B * P).fill(pad);
  const chunk = new Int32Array(B * W).fill(pad);
  const targets = new Int32Array(B * W).fill(IGNORE_INDEX);
  const lengths = new Int32Array(B);
  split.forEach(({ pre, ch }, b) => {
    prefix.set(pre, b * P + (P - pre.length));
    chunk.set(ch, b * W);
    targets.set(ch, b * W);
    lengths[b] = ch.length;
  });
  return { batchSize: B, prefixLength: P, chunkWidth: W, prefix, chunk, targets, lengths, examples };
}

/** A plain language-model batch: ids [B, T] right-padded, targets[b, t] = ids[b, t+1] (pads ignored). */
export interface SequenceBatch {
  batchSize: number;
  seqLen: number;
  ids: Int32Array;
  targets: Int32Array;
}

export function collateSequences(examples: Example[], opts: { padId?: number; seqLen?: number } = {}): SequenceBatch {
  const pad = opts.padId ?? SPECIAL_TOKENS.pad;
  if (!Array.isArray(examples) || examples.length === 0) throw new RangeError('examples: expected a non-empty array');
  const T = opts.seqLen ?? Math.max(...examples.map((e) => e.ids.length));
  if (!Number.isInteger(T) || T < 2) throw new RangeError(`seq_len: expected an integer >= 2, got ${T}`);
  const B = examples.length;
  const ids = new Int32Array(B * T).fill(pad);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  examples.forEach((e, b) => {
    const row = e.ids.slice(0, T);
    ids.set(row, b * T);
    for (let t = 0; t + 1 < row.length; t++) targets[b * T + t] = row[t + 1];
  });
  return { batchSize: B, seqLen: T, ids, targets };
}
