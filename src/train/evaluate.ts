// Evaluation on fixed data: the same examples every time (the eval source read in index order from 0), so
// numbers are comparable across steps, phases and runs.
//   eval/loss, eval/perplexity, eval/token_accuracy  teacher-forced next-token metrics over the chunk
//     targets. Base model: logits of [prefix; chunk]. With the sidecar: the last of K inner steps on the
//     clean chunk as draft; after surgery (zero-init, no latent token) this equals the base bit for bit, but a
//     trained sidecar sees the whole clean chunk (mean pooling, latent summary), so these are not a fair
//     comparison for a trained recursive model: exact match is.
//   eval/denoise_* (sidecar): the training objective's terms with drafts corrupted at corruption_rate_final
//     (fixed seed).
//   eval/exact_match: greedy/chunked generation from the prompt, compared with the answer.
//   eval/gen_avg_refine_steps, eval/gen_commit_rate, eval/gen_avg_chunk_len, eval/gen_low_forced_rate.
//   perplexity = exp(mean CE over all eval tokens) (pooled, not averaged per batch).
import type { KimiLinearLM } from '../nn';
import { Batcher } from '../data/batcher';
import { type ChunkBatch, collateChunks } from '../data/collate';
import { corruptChunk, type CorruptionMode, type CorruptionStrategy } from '../data/corruption';
import { Rng } from '../data/rng';
import type { ExampleSource } from '../data/sources';
import { decodeModelOutput } from '../tokenizer/tokenizer';
import type { ChunkRefine } from '../recursive/chunk-refine';
import { generate } from '../recursive/generate';
import { type LossWeights, recursiveLoss } from '../recursive/losses';
import { Tensor, type Var, ag, noGrad, scope } from '../tensor';

/** Sum of CE, count and correct argmax over valid targets of logits [B*W, V]. */
export function tokenStats(logits: Float32Array, targets: Int32Array, V: number): { ce: number; n: number; correct: number } {
  let ce = 0;
  let n = 0;
  let correct = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t < 0) continue;
    const off = i * V;
    let m = -Infinity;
    let best = 0;
    for (let v = 0; v < V; v++) {
      if (logits[off + v] > m) {
        m = logits[off + v];
        best = v;
      }
    }
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[off + v] - m);
    ce += m + Math.log(s) - logits[off + t];
    n++;
    if (best === t) correct++;
  }
  return { ce, n, correct };
}

/** Teacher-forced chunk logits [B, W, V] of the base model: rows P-1 .. P+W-2 of the forward on [prefix; chunk]. */
export function baseChunkLogits(model: KimiLinearLM, batch: ChunkBatch): Var {
  const { batchSize: B, prefixLength: P, chunkWidth: W } = batch;
  const ids = new Int32Array(B * (P + W));
  for (let b = 0; b < B; b++) {
    ids.set(batch.prefix.subarray(b * P, (b + 1) * P), b * (P + W));
    ids.set(batch.chunk.subarray(b * W, (b + 1) * W), b * (P + W) + P);
  }
  const logits = model.forward(Tensor.from(ids, [B, P + W]));
  return ag.slice(logits, 1, P - 1, P + W - 1);
}

export interface EvalOptions {
  batches: number;
  batchSize: number;
  chunkWidth: number;
  /** Examples to generate for exact match (those with an answer). */
  generate: number;
  seed: number;
  /** Sidecar only. */
  corruptionRate?: number;
  corruptionStrategy?: CorruptionStrategy;
  corruptionMode?: CorruptionMode;
  weights?: LossWeights;
  maxChunkLen?: number;
}

export type EvalResult = { metrics: Record<string, number>; samples: { prompt: string; output: string; answer?: string; exact?: boolean }[] };

/** Runs an evaluation to the end (see evaluateSteps). */
export function evaluate(model: KimiLinearLM, sidecar: ChunkRefine | null, source: ExampleSource, o: EvalOptions): EvalResult {
  const steps = evaluateSteps(model, sidecar, source, o);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The evaluation as a generator that pauses after every batch and every generated example ({done, total}),
 * so an async caller can let signals and timers through (or stop) during a long evaluation.
 */
export function* evaluateSteps(model: KimiLinearLM, sidecar: ChunkRefine | null, source: ExampleSource, o: EvalOptions): Generator<{ done: number; total: number }, EvalResult> {
  const tok = source.tokenizer;
  const metrics: Record<string, number> = {};
  const batcher = new Batcher(source, { batchSize: o.batchSize, seed: o.seed, shuffle: false });
  const nBatches = source.size === Infinity ? o.batches : Math.min(o.batches, Math.ceil(source.size / o.batchSize));
  let ce = 0;
  let n = 0;
  let correct = 0;
  const den: Record<string, number> = {};
  const limit = source.size === Infinity ? o.generate : Math.min(o.generate, source.size);
  for (let i = 0; i < nBatches; i++) {
    const batch = collateChunks(batcher.next(), { chunkWidth: o.chunkWidth, padId: tok.padId });
    noGrad(() =>
      scope(() => {
        const V = model.config.vocab_size;
        const prefix = Tensor.from(batch.prefix, [batch.batchSize, batch.prefixLength]);
        // With the sidecar: the clean chunk as draft and nothing marked corrupted (no position is replaced).
        const logits = sidecar ? sidecar.refine(prefix, batch.chunk, new Uint8Array(batch.chunk.length), batch.chunkWidth).at(-1)!.logits : baseChunkLogits(model, batch);
        const s = tokenStats(logits.data.toFloat32Array(), batch.targets, V);
        ce += s.ce;
        n += s.n;
        correct += s.correct;
        if (sidecar) {
          const { draft, corrupted } = corruptChunk(batch, o.corruptionRate ?? 0.1, Rng.seeded(o.seed, 0x5eed, i), { strategy: o.corruptionStrategy, mode: o.corruptionMode, tokenizer: tok });
          const steps = sidecar.refine(prefix, draft, corrupted, batch.chunkWidth);
          const r = recursiveLoss(
            {
              B: batch.batchSize,
              W: batch.chunkWidth,
              V,
              logits: steps.map((st) => st.logits.data.toFloat32Array()),
              haltLogits: steps.map((st) => st.commitLogit.data.toFloat32Array()),
              lengthLogits: steps.at(-1)!.lengthLogits?.data.toFloat32Array() ?? null,
              maxLen: o.maxChunkLen ?? batch.chunkWidth,
              targets: batch.targets,
              corrupted,
              lengths: batch.lengths,
            },
            o.weights,
          );
          for (const [k, v] of Object.entries({ ...r.terms, total: r.total, token_accuracy: r.tokenAccuracy })) den[k] = (den[k] ?? 0) + v / nBatches;
        }
      }),
    );
    yield { done: i + 1, total: nBatches + limit };
  }
  metrics['eval/loss'] = n > 0 ? ce / n : 0;
  metrics['eval/perplexity'] = Math.exp(metrics['eval/loss']);
  metrics['eval/token_accuracy'] = n > 0 ? correct / n : 0;
  for (const [k, v] of Object.entries(den)) metrics[`eval/denoise_${k}`] = v;

  // Exact match by generation on the first examples that carry an answer.
  const samples: { prompt: string; output: string; answer?: string; exact?: boolean }[] = [];
  let exact = 0;
  let tried = 0;
  const g = { chunks: 0, refineSteps: 0, thresholdCommits: 0, lowForcedCommits: 0, committedTokens: 0 };
  for (let i = 0; i < limit; i++) {
    if (i > 0) yield { done: nBatches + i, total: nBatches + limit };
    const e = source.get(i);
    if (e.answer === undefined || e.promptLength === undefined) continue;
    const prompt = e.ids.slice(0, e.promptLength);
    // Sources with answers end every example with eos (they refuse a tokenizer without one).
    const r = generate(model, sidecar, prompt, { maxNewTokens: e.ids.length - e.promptLength, eosId: tok.eosId! });
    const eos = r.ids.indexOf(tok.eosId!);
    const text = decodeModelOutput(tok, eos >= 0 ? r.ids.slice(0, eos) : r.ids, { skipSpecial: false });
    const ok = text === e.answer;
    tried++;
    if (ok) exact++;
    for (const k of Object.keys(g) as (keyof typeof g)[]) g[k] += r.stats[k];
    if (samples.length < 4) samples.push({ prompt: tok.decode(prompt, { skipSpecial: true }), output: text, answer: e.answer, exact: ok });
  }
  if (tried > 0) metrics['eval/exact_match'] = exact / tried;
  if (sidecar && g.chunks > 0) {
    metrics['eval/gen_avg_refine_steps'] = g.refineSteps / g.chunks;
    metrics['eval/gen_commit_rate'] = g.thresholdCommits / g.chunks;
    metrics['eval/gen_low_forced_rate'] = g.lowForcedCommits / g.chunks;
    metrics['eval/gen_avg_chunk_len'] = g.committedTokens / g.chunks;
  }
  return { metrics, samples };
}
