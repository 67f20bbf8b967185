// Checks a run must pass before its directory is created: the configs against the model and the data, the
// metric that picks the best checkpoint, and an estimate of the memory the run will need. Each failure names
// the field, the value and what is allowed, so a bad combination writes nothing.
import * as os from 'node:os';
import { BYTE_VOCAB_SIZE } from '../data/tokenizer';
import { TaskSource, type ExampleSource } from '../data';
import type { RecursiveConfig, RunConfig } from '../experiment';
import { countParameters, SPECIAL_ID_FIELDS, type ModelConfig } from '../nn';
import type { SpecialIdField } from '../nn/config';
import type { Tokenizer } from '../tokenizer';
import { formatBytes } from './options';
import { CliError } from './errors';

/** The eval metrics a run can produce (the Trainer judges the best checkpoint on these only). */
export function evalMetricNames(sidecar: boolean, withAnswers: boolean): string[] {
  const out = ['eval/loss', 'eval/perplexity', 'eval/token_accuracy'];
  if (sidecar) for (const t of ['final_ce', 'masked_ce', 'halt', 'length', 'ponder', 'stability', 'total', 'token_accuracy']) out.push(`eval/denoise_${t}`);
  if (withAnswers) out.push('eval/exact_match');
  if (withAnswers && sidecar) out.push('eval/gen_avg_refine_steps', 'eval/gen_commit_rate', 'eval/gen_low_forced_rate', 'eval/gen_avg_chunk_len');
  return out;
}

/** The best metric must be one the run's evaluation reports, else no checkpoint would ever be marked best. */
export function checkBestMetric(rc: RunConfig, rec: RecursiveConfig, evalSource: ExampleSource): void {
  const withAnswers = evalSource.size > 0 && evalSource.get(0).answer !== undefined;
  const allowed = evalMetricNames(rec.recursive_enabled, withAnswers);
  const name = rc.checkpoint.best_metric;
  if (!allowed.includes(name)) {
    const why = name === 'eval/exact_match' || name.startsWith('eval/gen_') ? ` (${name} needs evaluation examples with answers${name.startsWith('eval/gen_') ? ' and the recursive sidecar' : ''}; this data has ${withAnswers ? 'answers' : 'none'})` : '';
    throw new CliError(`--best-metric (checkpoint.best_metric): got ${JSON.stringify(name)}${why}, allowed for this run: ${allowed.join(', ')}`);
  }
}

/** The model's config against the run: token ids, layers to refine, initialisation. */
export function checkModelAgainstRun(cfg: ModelConfig, rec: RecursiveConfig, where: string): void {
  if (cfg.vocab_size < BYTE_VOCAB_SIZE) {
    throw new CliError(`${where}: vocab_size is ${cfg.vocab_size}, allowed: >= ${BYTE_VOCAB_SIZE} (the byte tokenizer emits ids 0..${BYTE_VOCAB_SIZE - 1}, specials included)`);
  }
  const init = cfg.initializer_range;
  if (!(Number.isFinite(init) && init > 0 && init <= 1)) throw new CliError(`${where}: initializer_range is ${init}, allowed: a number in (0, 1] (the std of the initial weights)`);
  const eps = cfg.rms_norm_eps;
  if (!(Number.isFinite(eps) && eps > 0 && eps <= 1)) throw new CliError(`${where}: rms_norm_eps is ${eps}, allowed: a number in (0, 1]`);
  if (rec.recursive_enabled && rec.layers_to_refine !== 'all') {
    const n = cfg.num_hidden_layers;
    const bad = rec.layers_to_refine.filter((l) => l >= n);
    if (bad.length) throw new CliError(`--recursive-config: layers_to_refine has ${JSON.stringify(bad)}, allowed: 0-based layer indices 0..${n - 1} (the model has ${n} layers)`);
  }
}

/**
 * Every evaluation example (and, with the sidecar, every training example of a file) needs a prefix of at
 * least one id before its chunk: plain text of seq_len ids needs seq_len > chunk_width.
 */
export function checkExamplesFit(data: { train: ExampleSource; eval: ExampleSource }, rc: RunConfig, rec: RecursiveConfig): void {
  const W = rec.chunk_width;
  const sets: [string, ExampleSource][] = [['evaluation', data.eval]];
  if (rec.recursive_enabled && Number.isFinite(data.train.size)) sets.push(['training', data.train]);
  for (const [what, src] of sets) {
    // Files are checked whole (they are in memory); a generated task only needs a sample (all are prompted).
    const n = src instanceof TaskSource || !Number.isFinite(src.size) ? Math.min(64, src.size) : src.size;
    let bad = 0;
    let shortest = Infinity;
    for (let i = 0; i < n; i++) {
      const e = src.get(i);
      if (e.promptLength === undefined && e.ids.length <= W) {
        bad++;
        shortest = Math.min(shortest, e.ids.length);
      }
    }
    if (bad > 0) {
      throw new CliError(
        `data.seq_len / chunk_width: ${bad} of ${n} ${what} examples of ${src.name} have no room for a prefix before the chunk (shortest: ${shortest} ids; chunk_width ${W}, data.seq_len ${rc.data.seq_len}); ` +
          `allowed: plain-text examples longer than chunk_width, so raise data.seq_len above ${W} or lower chunk_width in --recursive-config`,
      );
    }
  }
}

/** Synthetic examples are generated, not cut: data.seq_len is honoured as their maximum length. */
export function checkSeqLen(src: ExampleSource, rc: RunConfig, what: string): void {
  if (!(src instanceof TaskSource)) return;
  for (let i = 0; i < Math.min(64, src.size); i++) {
    const len = src.get(i).ids.length;
    if (len > rc.data.seq_len) throw new CliError(`data.seq_len: got ${rc.data.seq_len}, but ${what} example ${i} of ${src.name} has ${len} ids; allowed: an integer >= the task's example length`);
  }
}

/** The largest single tensor the engine can hold (elements): typed arrays and the native layer's limit. */
const MAX_TENSOR_ELEMENTS = 2 ** 31;
const F32 = 4;

export interface MemoryEstimate {
  bytes: number;
  parts: { what: string; bytes: number }[];
}

/**
 * A rough upper estimate of what training needs: parameters, gradients and AdamW moments of what trains, and
 * the activations autograd keeps for one step (the sidecar keeps max_inner_steps copies of the chunk's).
 * Throws when one tensor would exceed the engine's limit, naming the fields that size it.
 */
export function estimateMemory(cfg: ModelConfig, rc: RunConfig, rec: RecursiveConfig): MemoryEstimate {
  const D = cfg.hidden_size;
  const V = cfg.vocab_size;
  const L = cfg.num_hidden_layers;
  const I = cfg.intermediate_size;
  const HD = Math.max(cfg.linear_attn_config.num_heads * cfg.linear_attn_config.head_dim, cfg.num_attention_heads * Math.max(cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, cfg.v_head_dim));
  const B = rc.batch_size;
  const T = rc.data.seq_len;
  const tensors: [string, number][] = [
    ['embed_tokens [vocab_size, hidden_size]', V * D],
    ['an MLP weight [intermediate_size, hidden_size]', I * D],
    ['an attention projection [heads x head_dim, hidden_size]', HD * D],
  ];
  const hasMoe = cfg.mlp_layer_types.includes('sparse');
  if (hasMoe) tensors.push([`the routed experts' experts.gate_up_proj [num_experts, 2 x moe_intermediate_size, hidden_size] (num_experts ${cfg.num_experts}, moe_intermediate_size ${cfg.moe_intermediate_size})`, cfg.num_experts * 2 * cfg.moe_intermediate_size * D]);
  const base = countParameters(cfg).total; // exact, every expert included
  // the widest MLP a token passes through: dense, or its top-k routed experts plus the shared ones
  const ffnWidth = Math.max(I, hasMoe ? (cfg.num_experts_per_token + cfg.num_shared_experts) * cfg.moe_intermediate_size : 0);
  const perTokenLayer = 24 * D + 8 * ffnWidth + 6 * HD; // activations autograd keeps per token and layer
  const parts: { what: string; bytes: number }[] = [];
  if (!rec.recursive_enabled) {
    tensors.push([`the logits [batch_size x data.seq_len, vocab_size] (batch_size ${B}, data.seq_len ${T})`, B * T * V]);
    parts.push({ what: 'model weights', bytes: base * F32 });
    if (rc.phase === 'baseline') parts.push({ what: 'gradients + AdamW moments', bytes: 3 * base * F32 });
    parts.push({ what: `activations (batch_size ${B} x data.seq_len ${T})`, bytes: B * T * (L * perTokenLayer + 3 * V) * F32 });
  } else {
    const S = rec.d_state;
    const G = rec.gate_hidden;
    const M = rec.max_chunk_len;
    const W = rec.chunk_width;
    const K = rec.max_inner_steps;
    const refined = rec.layers_to_refine === 'all' ? L : rec.layers_to_refine.length;
    tensors.push(
      [`a refine cell's gru.weight_ih [3 x d_state, hidden_size] (d_state ${S})`, 3 * S * D],
      [`a refine cell's gru.weight_hh [3 x d_state, d_state] (d_state ${S})`, 3 * S * S],
      [`boundary trunk.1.weight [gate_hidden, gate_hidden] (gate_hidden ${G})`, G * G],
      [`boundary length.weight [max_chunk_len + 1, gate_hidden] (max_chunk_len ${M}, gate_hidden ${G})`, (M + 1) * G],
      [`one inner step's chunk logits [batch_size x chunk_width, vocab_size] (batch_size ${B}, chunk_width ${W})`, B * W * V],
    );
    const sidecar = refined * (4 * S * D + 3 * S * S + 6 * S) + G * D + G * G + (rec.enable_length_head ? (M + 1) * G : 0) + 2 * D;
    const trainable = sidecar + (rc.phase === 'c' ? base / rc.unfreeze.every : rc.phase === 'b' ? (base * rc.lora.top_fraction * rc.lora.rank) / Math.max(1, D) : 0);
    parts.push({ what: 'model weights', bytes: (base + sidecar + (rc.phase === 'c' ? base : 0)) * F32 });
    parts.push({ what: `gradients + AdamW moments (sidecar: d_state ${S}, gate_hidden ${G}, ${refined} refined layers)`, bytes: 3 * trainable * F32 });
    const perChunkToken = L * perTokenLayer + refined * 12 * S + 3 * V;
    parts.push({ what: `activations (max_inner_steps ${K} x batch_size ${B} x chunk_width ${W}, prefix data.seq_len ${T})`, bytes: (K * B * W * perChunkToken + B * T * L * perTokenLayer) * F32 });
  }
  for (const [what, n] of tensors) {
    if (!Number.isFinite(n) || n > MAX_TENSOR_ELEMENTS) throw new CliError(`memory: ${what} would have ${n.toExponential(3)} elements, allowed: at most ${MAX_TENSOR_ELEMENTS} (2^31) per tensor; lower the field named`);
  }
  return { bytes: parts.reduce((s, p) => s + p.bytes, 0), parts };
}

/** Refuses a run whose estimate exceeds this machine's memory (RECLIN_MEMORY_LIMIT, bytes, overrides). */
export function checkMemory(cfg: ModelConfig, rc: RunConfig, rec: RecursiveConfig): MemoryEstimate {
  const est = estimateMemory(cfg, rc, rec);
  const env = process.env.RECLIN_MEMORY_LIMIT;
  const limit = env !== undefined && /^\d+$/.test(env) ? Number(env) : os.totalmem();
  if (!(est.bytes <= limit)) {
    const parts = est.parts.map((p) => `${p.what}: ${formatBytes(p.bytes)}`).join('; ');
    throw new CliError(`memory: the run needs about ${formatBytes(est.bytes)} (${parts}), allowed: at most this machine's ${formatBytes(limit)}${env !== undefined ? ' (RECLIN_MEMORY_LIMIT)' : ''}; lower the sizes named`);
  }
  return est;
}

const ROLE_OF_FIELD = { bos_token_id: 'bos', eos_token_id: 'eos', pad_token_id: 'pad', mask_token_id: 'mask' } as const;

/**
 * The model config's special-token ids against the tokenizer's. An id the config file declares must be the
 * tokenizer's (an eos list must contain it; a declared null, or a mask the tokenizer lacks, is not compared; an eos
 * made only of other special tokens of the tokenizer, such as an end-of-turn token, is kept and noted in `notes`);
 * otherwise the model would be trained on, and would stop at, tokens its config calls something else. An id
 * it does not declare takes the tokenizer's, so the run's config.json and checkpoints agree with its tokenizer.
 * Returns the problems (empty when none); fills `config` in place.
 */
export function reconcileSpecialIds(config: ModelConfig, declared: Partial<Record<SpecialIdField, number | number[] | null>>, tok: Tokenizer, notes: string[] = []): string[] {
  const problems: string[] = [];
  const tokIds = { bos_token_id: tok.bosId, eos_token_id: tok.eosId, pad_token_id: tok.padId, mask_token_id: tok.maskId };
  const where = tok.describe().path ?? 'the byte tokenizer';
  const text = (id: number) => (id < tok.vocabSize ? JSON.stringify(tok.decode([id])) : 'past its vocabulary');
  for (const field of SPECIAL_ID_FIELDS) {
    const role = ROLE_OF_FIELD[field];
    const mine = tokIds[field];
    if (!(field in declared)) {
      if (mine === null) {
        if (field === 'mask_token_id') delete config.mask_token_id;
        else config[field] = null;
      } else config[field] = mine;
      continue;
    }
    const want = declared[field];
    if (want === null || want === undefined || (field === 'mask_token_id' && mine === null)) continue;
    const ok = Array.isArray(want) ? mine !== null && want.includes(mine) : mine === want;
    if (ok) continue;
    // A chat model's config may stop at an end-of-turn token (Kimi's <|im_end|>) that is not the tokenizer's eos:
    // that is a choice, not a mistake, when every declared id is one of the tokenizer's special tokens.
    const wanted = Array.isArray(want) ? want : [want];
    if (field === 'eos_token_id' && wanted.length > 0 && wanted.every((id) => id < tok.vocabSize && tok.isSpecial(id))) {
      notes.push(`${field} ${JSON.stringify(want)} (${wanted.map(text).join(', ')}) is kept from the config; the data's ${role} is ${where}'s ${mine === null ? 'none' : `${mine} (${text(mine)})`}`);
      continue;
    }
    const first = Array.isArray(want) ? want[0] : want;
    const hint = first !== undefined && first < tok.vocabSize && tok.isSpecial(first) ? `--tokenizer-special ${role}=${tok.decode([first])} (id ${first}'s token)` : `--tokenizer-special ${role}=TOKEN`;
    problems.push(
      `${field} is ${JSON.stringify(want)}, but ${where}'s ${role} id is ${mine === null ? 'none' : `${mine} (${text(mine)})`}; make them agree: name the tokenizer's ${role} with ${hint}, or change ${field} in the config (or leave it out to take the tokenizer's)`,
    );
  }
  return problems;
}
