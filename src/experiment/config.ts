// Config schemas (zod): the recursive sidecar config (the prototype's fields, defaults and range rules,
// made strict) and the run config (everything else a run needs). Loading validates the whole file and
// reports EVERY problem, one line each: the field, the value found and what is allowed.
import * as fs from 'node:fs';
import { z } from 'zod';

export class ConfigError extends Error {
  /** One line per problem: `field: got <value>, allowed: <what>`. */
  readonly problems: string[];
  readonly source: string;
  constructor(source: string, problems: string[], what = 'config') {
    super(`${source}: invalid ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.source = source;
  }
}

// ---- field builders: the zod message of every rule is the "allowed" text of the problem line ----------------

const intAtLeast = (min: number, allowed = `an integer >= ${min}`) => {
  return z.number({ error: allowed }).int({ error: allowed }).min(min, { error: allowed });
};
/** Sizes have a ceiling far above any sensible value, so a typo (1e9) is named here instead of crashing later. */
const intIn = (min: number, max: number) => {
  const allowed = `an integer in [${min}, ${max}]`;
  return z.number({ error: allowed }).int({ error: allowed }).min(min, { error: allowed }).max(max, { error: allowed });
};
const numIn = (lo: number, hi: number, allowed: string, opts: { loOpen?: boolean; hiOpen?: boolean } = {}) => {
  let n = z.number({ error: allowed });
  n = opts.loOpen ? n.gt(lo, { error: allowed }) : n.min(lo, { error: allowed });
  return opts.hiOpen ? n.lt(hi, { error: allowed }) : n.max(hi, { error: allowed });
};
/** Learning rates: above 10 AdamW steps are larger than any weight, and the run would diverge at once. */
const learningRate = () => numIn(0, 10, 'a number in (0, 10]', { loOpen: true });
const numIn01 = () => {
  const allowed = 'a number in [0, 1]';
  return z.number({ error: allowed }).min(0, { error: allowed }).max(1, { error: allowed });
};
const nonNegative = () => {
  const allowed = 'a number >= 0';
  return z.number({ error: allowed }).min(0, { error: allowed });
};
const positive = (allowed = 'a number > 0') => {
  return z.number({ error: allowed }).positive({ error: allowed });
};
const lossWeight = () => numIn(0, 1e6, 'a number in [0, 1e6]');
const bool = () => z.boolean({ error: 'true or false' });
const oneOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });

/**
 * The fields of `raw` that are valid on their own (parsed, defaults applied). Cross-field rules run on these,
 * so a file with a type error elsewhere still gets every cross-field problem reported in the same pass.
 */
function validFields<S extends z.ZodObject>(schema: S, raw: unknown): Partial<z.output<S>> {
  const out: Record<string, unknown> = {};
  if (typeof raw !== 'object' || raw === null) return out as Partial<z.output<S>>;
  for (const [k, field] of Object.entries(schema.shape)) {
    const r = (field as z.ZodType).safeParse((raw as Record<string, unknown>)[k]);
    if (r.success) out[k] = r.data;
  }
  return out as Partial<z.output<S>>;
}

function withCrossRules<S extends z.ZodObject>(fields: S, rules: (c: Partial<z.output<S>>) => CrossIssue[]) {
  // Refinements are skipped by zod when a field fails, so the raw input is re-checked field by field.
  return z.unknown().transform((raw, ctx) => {
    const r = fields.safeParse(raw);
    if (!r.success) for (const iss of r.error.issues) ctx.issues.push({ ...iss, input: undefined } as never);
    for (const c of rules(validFields(fields, raw))) ctx.addIssue({ code: 'custom', path: c.path, message: c.message, params: { value: c.value } });
    return (r.success ? r.data : z.NEVER) as z.output<S>;
  });
}

export const CORRUPTION_SCHEDULES = ['linear', 'cosine', 'none'] as const;
export const CACHE_RESET_POLICIES = ['keep_kda_recurrent_reset_mla', 'keep_all', 'reset_all'] as const;
const LAYER_INDEX = 'a layer index (an integer >= 0)';
const LAYERS_ALLOWED = '"all" or a list of distinct layer indices (integers >= 0)';

/**
 * The recursive sidecar config. Field names, defaults and the prototype's `validate()` rules
 * (JacobFV/recursive-kimi-linear src/kimi_linear/recursive/config.py), plus what it missed: strict types,
 * unknown keys rejected, λ ≥ 0, sizes ≥ 1, and a length head that can represent a full chunk.
 */
const RecursiveConfigFields = z.strictObject({
    recursive_enabled: bool().default(false),
    chunk_width: intIn(1, 65536).default(128),
    max_inner_steps: intIn(1, 1024).default(4),
    commit_threshold: numIn01().default(0.7),
    min_commit_threshold: numIn01().default(0.3),
    layers_to_refine: z
      .union([z.literal('all'), z.array(z.number({ error: LAYER_INDEX }).int({ error: LAYER_INDEX }).min(0, { error: LAYER_INDEX }))], { error: LAYERS_ALLOWED })
      .refine((v) => v === 'all' || new Set(v).size === v.length, { error: LAYERS_ALLOWED })
      .default('all'),
    use_latent_token: bool().default(true),
    d_state: intIn(1, 65536).default(512),
    gate_hidden: intIn(1, 65536).default(1024),
    max_chunk_len: intIn(1, 65536).default(128),
    corruption_rate: numIn01().default(0.3),
    corruption_schedule: oneOf(CORRUPTION_SCHEDULES).default('linear'),
    corruption_rate_final: numIn01().default(0.1),
    lambda_final: lossWeight().default(1.0),
    lambda_masked: lossWeight().default(0.5),
    lambda_halt: lossWeight().default(0.5),
    lambda_len: lossWeight().default(0.05),
    lambda_ponder: lossWeight().default(0.01),
    lambda_stability: lossWeight().default(0.01),
    cache_reset_policy: oneOf(CACHE_RESET_POLICIES).default('keep_kda_recurrent_reset_mla'),
    enable_length_head: bool().default(true),
    use_soft_tokens: bool().default(false),
});

/** A cross-field problem: where, the value to report (after defaults), and what is allowed. */
type CrossIssue = { path: string[]; value: unknown; message: string };

/** Rules across fields; `c` holds only the fields that are valid on their own (see validFields). */
function recursiveCrossRules(c: Partial<z.output<typeof RecursiveConfigFields>>): CrossIssue[] {
  const out: CrossIssue[] = [];
  if (c.commit_threshold !== undefined && c.min_commit_threshold !== undefined && c.commit_threshold < c.min_commit_threshold) {
    out.push({ path: ['commit_threshold'], value: c.commit_threshold, message: `a number >= min_commit_threshold (${c.min_commit_threshold})` });
  }
  if (c.enable_length_head === true && c.max_chunk_len !== undefined && c.chunk_width !== undefined && c.max_chunk_len < c.chunk_width) {
    out.push({ path: ['max_chunk_len'], value: c.max_chunk_len, message: `an integer >= chunk_width (${c.chunk_width}) when enable_length_head is true (the length head predicts lengths 0..max_chunk_len)` });
  }
  return out;
}

export const RecursiveConfigSchema = withCrossRules(RecursiveConfigFields, recursiveCrossRules);

export type RecursiveConfig = z.output<typeof RecursiveConfigSchema>;
export type RecursiveConfigInput = z.input<typeof RecursiveConfigSchema>;

export const PHASES = ['baseline', 'after_surgery', 'a', 'b', 'c'] as const;
export type Phase = (typeof PHASES)[number];
const DEVICE_ALLOWED = '"cpu", "cuda" or "cuda:N"';
const nullableString = (allowed: string) => z.union([z.string().min(1), z.null()], { error: allowed });

/**
 * Everything a run needs besides the recursive config: model, data, optimizer, schedule, intervals,
 * checkpointing, the phase-specific settings, seed and device. Every field has a default, so `{}` is valid
 * for the baseline phase; the resolved object is saved as run_config.json.
 */
const RunConfigFields = z.strictObject({
    phase: oneOf(PHASES).default('baseline'),
    seed: intAtLeast(0).default(42),
    device: z.string({ error: DEVICE_ALLOWED }).regex(/^(cpu|cuda|cuda:\d+)$/, { error: DEVICE_ALLOWED }).default('cpu'),
    /** Compute precision; null: the device's default (bf16 on cuda, fp32 on cpu), resolved by `reclin run`. */
    precision: oneOf(['fp32', 'bf16'] as const).nullable().default(null),
    num_steps: intIn(0, 1e9).default(1000),
    batch_size: intIn(1, 65536).default(8),
    model: z
      .strictObject({
        /** Base model: a model directory or an experiment directory (its best checkpoint's model). */
        path: nullableString('a model or experiment directory path, or null').default(null),
        /** Architecture when training from scratch: a preset name (configs/models/) or a config.json path. */
        config: nullableString('a preset name or a config.json path, or null').default('tiny'),
      }, { error: 'an object with fields path, config' })
      .default({ path: null, config: 'tiny' }),
    data: z
      .strictObject({
        train: z.string({ error: 'a data source such as "synthetic:addition" or a file path' }).min(1, { error: 'a data source such as "synthetic:addition" or a file path' }).default('synthetic:addition'),
        eval: nullableString('a data source or file path, or null (evaluate on held-out data of the train source)').default(null),
        // 256: a plain-text example then holds a 128-id prefix before the default 128-id chunk.
        seq_len: intIn(2, 1 << 20).default(256),
        /** Evaluation set size (default 1000: a 5-point exact-match difference is outside the 95% interval). */
        eval_examples: intIn(1, 1e7).default(1000),
        /** Draws a synthetic task's evaluation set (with the task alone: never the training seed or batch size). */
        eval_seed: intIn(0, 2 ** 31 - 1).default(0),
      }, { error: 'an object with fields train, eval, seq_len, eval_examples, eval_seed' })
      .default({ train: 'synthetic:addition', eval: null, seq_len: 256, eval_examples: 1000, eval_seed: 0 }),
    optimizer: z
      .strictObject({
        lr: learningRate().default(3e-4),
        boundary_lr_scale: numIn(0, 100, 'a number in (0, 100]', { loOpen: true }).default(1.67),
        // AdamW divides by 1 - beta^t: beta = 1 makes that 0.
        beta1: numIn(0, 1, 'a number in [0, 1)', { hiOpen: true }).default(0.9),
        beta2: numIn(0, 1, 'a number in [0, 1)', { hiOpen: true }).default(0.999),
        eps: numIn(0, 1, 'a number in (0, 1]', { loOpen: true }).default(1e-8),
        weight_decay: numIn(0, 10, 'a number in [0, 10]').default(0.05),
        grad_clip: numIn(0, 1e6, 'a number in (0, 1e6], or null for no clipping', { loOpen: true }).nullable().default(1.0),
      }, { error: 'an object with fields lr, boundary_lr_scale, beta1, beta2, eps, weight_decay, grad_clip' })
      .default({ lr: 3e-4, boundary_lr_scale: 1.67, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.05, grad_clip: 1.0 }),
    schedule: z
      .strictObject({
        warmup_steps: intAtLeast(0).default(100),
        decay: oneOf(['linear', 'cosine', 'constant'] as const).default('linear'),
        min_lr_ratio: numIn01().default(0),
      }, { error: 'an object with fields warmup_steps, decay, min_lr_ratio' })
      .default({ warmup_steps: 100, decay: 'linear', min_lr_ratio: 0 }),
    intervals: z
      .strictObject({ log: intAtLeast(1).default(10), eval: intAtLeast(1).default(500), save: intAtLeast(1).default(1000) }, { error: 'an object with fields log, eval, save' })
      .default({ log: 10, eval: 500, save: 1000 }),
    checkpoint: z
      .strictObject({
        /** Keep the newest N checkpoints (null: keep all); the best is kept in addition, never deleted. */
        keep_last: intAtLeast(1, 'an integer >= 1, or null to keep every checkpoint').nullable().default(3),
        best_metric: z.string({ error: 'a metric name such as "eval/loss"' }).min(1, { error: 'a metric name such as "eval/loss"' }).default('eval/loss'),
        best_mode: oneOf(['min', 'max'] as const).default('min'),
      }, { error: 'an object with fields keep_last, best_metric, best_mode' })
      .default({ keep_last: 3, best_metric: 'eval/loss', best_mode: 'min' }),
    /** Phase b: LoRA on the attention and MLP projections of the top fraction of layers. */
    lora: z
      .strictObject({ rank: intIn(1, 65536).default(8), alpha: numIn(0, 1e6, 'a number in (0, 1e6]', { loOpen: true }).default(16), lr: learningRate().default(1e-5), top_fraction: numIn01().default(1 / 3) }, { error: 'an object with fields rank, alpha, lr, top_fraction' })
      .default({ rank: 8, alpha: 16, lr: 1e-5, top_fraction: 1 / 3 }),
    /** Phase c: every `every`-th block fully unfrozen with an L2-to-pretrained penalty. */
    unfreeze: z
      .strictObject({ every: intAtLeast(1).default(4), lr: learningRate().default(1e-5), l2_weight: numIn(0, 1e6, 'a number in [0, 1e6]').default(0.01) }, { error: 'an object with fields every, lr, l2_weight' })
      .default({ every: 4, lr: 1e-5, l2_weight: 0.01 }),
    hf_repo: nullableString('a Hub repo id "namespace/name", or null').default(null),
    /** Tokenizer (src/tokenizer): path null is the byte tokenizer; files holds each file's sha256 once read. */
    tokenizer: z
      .strictObject({
        path: nullableString('a tokenizer.json, a tiktoken.model or a directory holding one, or null for the byte tokenizer').default(null),
        files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, { error: 'a sha256 hex digest' }), { error: 'an object {file name: sha256}, or null' }).nullable().default(null),
        special: z
          .strictObject(Object.fromEntries(['bos', 'eos', 'pad', 'mask', 'latent', 'unk'].map((r) => [r, z.string({ error: 'a token text' }).min(1, { error: 'a token text' }).optional()])), { error: 'an object {role: token text} with roles bos, eos, pad, mask, latent, unk' })
          .default({}),
      }, { error: 'an object with fields path, files, special' })
      .default({ path: null, files: null, special: {} }),
});

function runCrossRules(c: Partial<z.output<typeof RunConfigFields>>): CrossIssue[] {
  if (c.phase !== undefined && c.phase !== 'baseline' && c.model !== undefined && c.model.path === null) {
    return [{ path: ['model', 'path'], value: null, message: `a model or experiment directory (phase "${c.phase}" starts from a trained base model)` }];
  }
  return [];
}

export const RunConfigSchema = withCrossRules(RunConfigFields, runCrossRules);

export type RunConfig = z.output<typeof RunConfigSchema>;
export type RunConfigInput = z.input<typeof RunConfigSchema>;

// ---- problem formatting --------------------------------------------------------------------------------------

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  // JSON.stringify throws on a BigInt: name it instead of calling it a nested object.
  if (typeof v === 'bigint') return `${v}n (a bigint, not JSON-serialisable)`;
  let s: string;
  try {
    s = JSON.stringify(v);
  } catch {
    // Too deeply nested (or cyclic) to print: say what it is instead.
    s = Array.isArray(v) ? `[...] (an array of ${v.length}, nested too deeply to show)` : `{...} (an object nested too deeply to show)`;
  }
  if (s.length > 60) s = `${s.slice(0, 57)}...`;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return s;
  return Array.isArray(v) ? s : `${s} (an object)`;
}

function typeNote(v: unknown, allowed: string): string {
  // Say the JSON type when it, rather than the range, is the problem ("128" vs 128).
  if (typeof v === 'string' && /number|integer|true or false/.test(allowed) && !allowed.startsWith('one of')) return ' (a string)';
  return '';
}

function valueAt(root: unknown, pathParts: PropertyKey[]): unknown {
  let cur = root;
  for (const p of pathParts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

function knownKeysAt(schema: z.ZodType, pathParts: PropertyKey[]): string[] {
  // Walk the schema along the path to the object that reported the unknown key.
  let s: unknown = schema;
  const unwrap = (x: unknown): unknown => {
    let cur = x as { def?: { type?: string; innerType?: unknown; in?: unknown; schema?: unknown } };
    for (let i = 0; i < 8 && cur?.def && cur.def.type !== 'object'; i++) cur = (cur.def.innerType ?? cur.def.in ?? cur.def.schema) as typeof cur;
    return cur;
  };
  s = unwrap(s);
  for (const p of pathParts) s = unwrap((s as { shape?: Record<PropertyKey, unknown> })?.shape?.[p]);
  return Object.keys((s as { shape?: Record<string, unknown> })?.shape ?? {});
}

/** Turns zod issues into one line per problem, naming the field, the value found and what is allowed. */
export function formatProblems(schema: z.ZodType, input: unknown, issues: z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const iss of issues) {
    const field = iss.path.map(String).join('.');
    if (iss.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, iss.path);
      for (const key of iss.keys) {
        const name = field ? `${field}.${key}` : key;
        const near = known.map((k) => [k, editDistance(k, key)] as const).sort((a, b) => a[1] - b[1])[0];
        const stem = key.split('_')[0];
        const sameStem = stem.length >= 4 ? known.filter((k) => k.split('_')[0] === stem) : [];
        const guess = near && near[1] <= Math.max(2, Math.floor(key.length / 4)) ? near[0] : sameStem.length === 1 ? sameStem[0] : undefined;
        const hint = guess ? ` (did you mean "${guess}"?)` : '';
        lines.push(`${name}: unknown field, got ${describeValue(valueAt(input, [...iss.path, key]))}${hint}, allowed: ${known.join(', ')}`);
      }
      continue;
    }
    const params = (iss as { params?: { value?: unknown } }).params;
    const value = params && 'value' in params ? params.value : valueAt(input, iss.path);
    lines.push(`${field || '(top level)'}: got ${describeValue(value)}${typeNote(value, iss.message)}, allowed: ${iss.message}`);
  }
  return lines;
}

function readJsonConfig(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [code === 'ENOENT' ? '(file): not found' : `(file): cannot be read (${(e as Error).message})`], what);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, [`(file): not valid JSON (${(e as Error).message})`], what);
  }
}

function parseWith<S extends z.ZodType>(schema: S, fields: z.ZodObject, input: unknown, source: string, what: string): z.output<S> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError(source, [`(top level): got ${describeValue(input)}, allowed: a JSON object of fields`], what);
  }
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new ConfigError(source, formatProblems(fields, input, r.error.issues), what);
}

/** Validates a recursive config object (defaults filled in). Throws ConfigError listing every problem. */
export function parseRecursiveConfig(input: unknown, source = 'recursive config'): RecursiveConfig {
  return parseWith(RecursiveConfigSchema, RecursiveConfigFields, input, source, 'recursive config');
}

/** Validates a run config object (defaults filled in). Throws ConfigError listing every problem. */
export function parseRunConfig(input: unknown, source = 'run config'): RunConfig {
  return parseWith(RunConfigSchema, RunConfigFields, input, source, 'run config');
}

/** Reads and validates a recursive config JSON file (e.g. configs/recursive_phase_a.json). */
export function loadRecursiveConfig(file: string): RecursiveConfig {
  return parseRecursiveConfig(readJsonConfig(file, 'recursive config'), file);
}

/** Reads and validates a run config JSON file (e.g. an experiment's run_config.json). */
export function loadRunConfig(file: string): RunConfig {
  return parseRunConfig(readJsonConfig(file, 'run config'), file);
}
