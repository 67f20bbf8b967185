// Evaluation on fixed data: the first `examples` examples of the eval source, read in index order in batches
// of EVAL_BATCH_SIZE (never the training batch size, which would change the padding), so numbers are
// comparable across steps, phases and runs; evalSetHash() names that set.
//   eval/loss, eval/perplexity, eval/token_accuracy  teacher-forced next-token metrics over the chunk
//     targets. Base model: logits of [prefix; chunk]. With the sidecar: the last of K inner steps on the
//     clean chunk as draft, computed in one pass over prefix + chunk like the base forward; after surgery
//     (zero-init W_out, zero latent gate) this equals the base bit for bit (eval/surgery_* check it), but a
//     trained sidecar sees the whole clean chunk (mean pooling, latent summary), so these are not a fair
//     comparison for a trained recursive model: exact match is.
//   eval/denoise_* (sidecar): the training objective's terms with drafts corrupted at corruption_rate_final
//     (fixed seed).
//   eval/exact_match: greedy/chunked generation from the prompt, compared with the answer, on every
//     example of the set that has one (eval/exact_match_n of them).
//   eval/examples: the set's size; eval/set_hash: the first 48 bits of evalSetHash() as a number.
//   eval/gen_avg_refine_steps, eval/gen_commit_rate, eval/gen_avg_chunk_len, eval/gen_low_forced_rate.
//   perplexity = exp(mean CE over all eval tokens) (pooled, not averaged per batch).
import { createHash } from 'node:crypto';
import type { KimiLinearLM } from '../nn';
import { type ChunkBatch, collateChunks } from '../data/collate';
import { corruptChunk, type CorruptionMode, type CorruptionStrategy } from '../data/corruption';
import { Rng } from '../data/rng';
import type { ExampleSource } from '../data/sources';
import { decodeModelOutput } from '../tokenizer/tokenizer';
import type { ChunkRefine } from '../recursive/chunk-refine';
import { generate } from '../recursive/generate';
import { type LossWeights, recursiveLoss } from '../recursive/losses';
import { Tensor, type Var, ag, noGrad, scope } from '../tensor';

/** Metrics that describe the evaluation set rather than the model: statistics over seeds skip them. */
export const EVAL_SET_METRICS: readonly string[] = ['eval/examples', 'eval/set_hash', 'eval/exact_match_n'];

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

/** Examples per evaluation forward pass: fixed, so the evaluation does not depend on the training batch size. */
export const EVAL_BATCH_SIZE = 16;

/**
 * sha256 of the first `examples` examples of `source` (ids, prompt length and answer of each, in order): two
 * runs evaluated on the same set have the same hash, whatever their seeds, batch sizes or sources' names.
 */
export function evalSetHash(source: ExampleSource, examples: number): string {
  const n = Math.min(examples, source.size);
  const h = createHash('sha256');
  for (let i = 0; i < n; i++) {
    const e = source.get(i);
    h.update(`${JSON.stringify([e.ids, e.promptLength ?? null, e.answer ?? null])}\n`);
  }
  return h.digest('hex');
}

export interface EvalOptions {
  /** Size of the evaluation set: the source's first `examples` examples (all of a smaller source). */
  examples: number;
  chunkWidth: number;
  /** At most this many of them are generated for exact match (default: all). */
  generate?: number;
  /** Also run the base model and compare its chunk logits with the sidecar's bit for bit (after_surgery). */
  surgeryCheck?: boolean;
  /** The evaluation seed: it draws the corruption of the denoise drafts (never the training seed). */
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
  if (!Number.isInteger(o.examples) || o.examples < 1) throw new RangeError(`eval_examples: expected a positive integer, got ${o.examples}`);
  const total = Math.min(o.examples, source.size);
  const nBatches = Math.ceil(total / EVAL_BATCH_SIZE);
  let read = 0;
  let surgeryDiff = 0;
  let surgeryMismatches = 0;
  let ce = 0;
  let n = 0;
  let correct = 0;
  const den: Record<string, number> = {};
  const limit = Math.min(o.generate ?? total, total);
  for (let i = 0; i < nBatches; i++) {
    const rows: ReturnType<ExampleSource['get']>[] = [];
    for (; rows.length < EVAL_BATCH_SIZE && read < total; read++) rows.push(source.get(read));
    const batch = collateChunks(rows, { chunkWidth: o.chunkWidth, padId: tok.padId });
    noGrad(() =>
      scope(() => {
        const V = model.config.vocab_size;
        const prefix = Tensor.from(batch.prefix, [batch.batchSize, batch.prefixLength]);
        // With the sidecar: the clean chunk as draft and nothing marked corrupted (no position is replaced).
        const full = sidecar ? sidecar.cfg.cache_reset_policy !== 'keep_all' : false;
        const logits = sidecar ? sidecar.refine(prefix, batch.chunk, new Uint8Array(batch.chunk.length), batch.chunkWidth, null, { full }).at(-1)!.logits : baseChunkLogits(model, batch);
        if (sidecar && o.surgeryCheck) {
          const a = logits.data.toFloat32Array();
          const b = baseChunkLogits(model, batch).data.toFloat32Array();
          for (let j = 0; j < a.length; j++) {
            if (Object.is(a[j], b[j])) continue;
            surgeryMismatches++;
            const d = Math.abs(a[j] - b[j]);
            surgeryDiff = Math.max(surgeryDiff, Number.isNaN(d) ? Infinity : d);
          }
        }
        const s = tokenStats(logits.data.toFloat32Array(), batch.targets, V);
        ce += s.ce;
        n += s.n;
        correct += s.correct;
        if (sidecar) {
          const { draft, corrupted } = corruptChunk(batch, o.corruptionRate ?? 0.1, Rng.seeded(o.seed, 0x5eed, i), { strategy: o.corruptionStrategy, mode: o.corruptionMode });
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
  metrics['eval/examples'] = total;
  if (o.surgeryCheck && sidecar) {
    metrics['eval/surgery_identical'] = surgeryMismatches === 0 ? 1 : 0;
    metrics['eval/surgery_mismatches'] = surgeryMismatches;
    metrics['eval/surgery_max_abs_diff'] = surgeryDiff;
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
  if (tried > 0) {
    metrics['eval/exact_match'] = exact / tried;
    metrics['eval/exact_match_n'] = tried;
  }
  if (sidecar && g.chunks > 0) {
    metrics['eval/gen_avg_refine_steps'] = g.refineSteps / g.chunks;
    metrics['eval/gen_commit_rate'] = g.thresholdCommits / g.chunks;
    metrics['eval/gen_low_forced_rate'] = g.lowForcedCommits / g.chunks;
    metrics['eval/gen_avg_chunk_len'] = g.committedTokens / g.chunks;
  }
  return { metrics, samples };
}
