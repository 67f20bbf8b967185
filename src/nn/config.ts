// The base model's configuration: the config.json of a Kimi Linear checkpoint, read with the same field
// names, aliases and defaults as transformers' KimiLinearConfig (5.18), so a config means here what it
// means there. Every field is known: an unknown field, or a value this engine does not compute (a
// non-sigmoid router, RoPE on MLA, multi-token prediction heads, dropout, ...), is an error naming the field,
// its value and what is allowed. Layer lists in linear_attn_config are 1-based, as in the published
// checkpoint. Presets live in configs/models/<name>.json. See docs/MODEL.md for the field table.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

const int = (min: number) => z.number().int().min(min);
const layerList = z.array(int(1));

export const LinearAttnConfigSchema = z.strictObject({
  num_heads: int(1),
  head_dim: int(1),
  short_conv_kernel_size: int(1).max(16),
  kda_layers: layerList,
  full_attn_layers: layerList,
});

/** The sub-dict as written: as transformers reads it, a missing entry falls back to the flat field or its default. */
const RawLinearAttnSchema = LinearAttnConfigSchema.partial();

/** A value this engine does not compute: the message says why. */
const only = <T extends z.core.util.Literal>(v: T, why: string) => z.literal(v, { error: `only ${JSON.stringify(v)} is supported: ${why}` });

/** transformers' attribute_map: the alias on the left means the field on the right. */
const ALIASES: Record<string, string> = {
  max_position_embeddings: 'model_max_length',
  norm_topk_prob: 'moe_renormalize',
  n_group: 'num_expert_group',
  num_local_experts: 'num_experts',
  num_experts_per_tok: 'num_experts_per_token',
  n_shared_experts: 'num_shared_experts',
};

const LayerType = z.enum(['linear_attention', 'full_attention']);
const MlpType = z.enum(['dense', 'sparse']);
const tokenId = z.number().int().min(0).nullable();

/** Fields as written in config.json (after aliases), with transformers' defaults. */
const RawSchema = z.strictObject({
  model_type: only('kimi_linear', 'this is the Kimi Linear model').default('kimi_linear'),
  architectures: z.array(z.literal('KimiLinearForCausalLM')).default(['KimiLinearForCausalLM']),
  vocab_size: int(1).default(163840),
  hidden_size: int(1).default(2304),
  intermediate_size: int(1).default(9216),
  num_hidden_layers: int(1).default(27),
  rms_norm_eps: z.number().positive().default(1e-5),
  hidden_act: only('silu', 'the MLPs, experts and short convolutions use SiLU').default('silu'),
  tie_word_embeddings: z.boolean().default(false),
  initializer_range: z.number().positive().default(0.02),
  pad_token_id: tokenId.default(163839),
  bos_token_id: tokenId.default(163584),
  eos_token_id: z.union([tokenId, z.array(int(0))]).default(163586),
  /** reclin's own: the id the denoising objective writes over corrupted positions (ignored by transformers). */
  mask_token_id: int(0).optional(),
  // MLA (the full-attention layers)
  num_attention_heads: int(1).default(32),
  num_key_value_heads: int(1).nullable().default(null),
  kv_lora_rank: int(1).default(512),
  q_lora_rank: int(1).nullable().default(null),
  qk_nope_head_dim: int(0).default(128),
  qk_rope_head_dim: int(0).default(64),
  v_head_dim: int(1).nullable().default(128),
  /** Derived (nope + rope); accepted when it agrees. */
  qk_head_dim: int(1).optional(),
  /** Read by neither layer kind (transformers overwrites it with qk_rope_head_dim); accepted, unused. */
  head_dim: int(1).nullable().optional(),
  attention_bias: z.boolean().default(false),
  attention_dropout: only(0, 'attention dropout is not implemented').default(0),
  mla_use_nope: only(true, "the MLA layers are NoPE (transformers' kimi_linear applies no rotary embedding)").default(true),
  /** The MLA layers are NoPE in transformers' kimi_linear: the rope fields are accepted and have no effect. */
  rope_theta: z.number().positive().optional(),
  rope_scaling: z.null({ error: 'only null is supported: the MLA layers use no rotary embedding' }).optional(),
  rope_parameters: z.looseObject({ rope_type: z.literal('default').optional() }).nullable().optional(),
  // KDA (the linear-attention layers): the published sub-dict, or transformers' flat fields
  linear_attn_config: RawLinearAttnSchema.optional(),
  linear_num_heads: int(1).optional(),
  linear_head_dim: int(1).optional(),
  linear_conv_kernel_dim: int(1).max(16).optional(),
  layer_types: z.array(LayerType).nullable().optional(),
  // MoE
  mlp_layer_types: z.array(MlpType).nullable().optional(),
  first_k_dense_replace: int(0).optional(),
  moe_layer_freq: only(1, 'the dense/sparse plan is first_k_dense_replace or mlp_layer_types').optional(),
  num_experts: int(1).default(256),
  num_experts_per_token: int(1).nullable().default(8),
  num_expert_group: int(1).default(1),
  topk_group: int(1).nullable().default(1),
  moe_renormalize: z.boolean().default(true),
  routed_scaling_factor: z.number().positive().default(2.446),
  num_shared_experts: int(0).default(1),
  moe_intermediate_size: int(1).default(1024),
  moe_router_activation_func: only('sigmoid', "transformers' kimi_linear router scores with a sigmoid").optional(),
  use_grouped_topk: only(true, "transformers' kimi_linear router always selects by groups").optional(),
  num_nextn_predict_layers: only(0, 'multi-token prediction layers are not implemented').optional(),
  // Bookkeeping: accepted, no effect on the computation
  model_max_length: int(1).default(1048576),
  use_cache: z.boolean().optional(),
  pretraining_tp: only(1, 'tensor-parallel pretraining splits are not implemented').nullable().optional(),
  dtype: z.enum(['float32', 'bfloat16', 'float16']).nullable().optional(),
  torch_dtype: z.enum(['float32', 'bfloat16', 'float16']).nullable().optional(),
  transformers_version: z.string().optional(),
  auto_map: z.record(z.string(), z.string()).optional(),
  _name_or_path: z.string().optional(),
});

/**
 * The normalised configuration every layer reads: every field resolved (defaults applied, aliases folded,
 * layer kinds as 0-based lists). `linear_attn_config` is always present, with 1-based lists.
 */
export interface ModelConfig {
  model_type: 'kimi_linear';
  architectures: string[];
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  rms_norm_eps: number;
  hidden_act: 'silu';
  tie_word_embeddings: boolean;
  initializer_range: number;
  pad_token_id: number | null;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  mask_token_id?: number;
  // MLA
  num_attention_heads: number;
  num_key_value_heads: number;
  kv_lora_rank: number;
  q_lora_rank: number | null;
  qk_nope_head_dim: number;
  qk_rope_head_dim: number;
  v_head_dim: number;
  attention_bias: boolean;
  // KDA
  linear_attn_config: LinearAttnConfig;
  /** Per 0-based layer: 'linear_attention' (KDA) or 'full_attention' (MLA). */
  layer_types: ('linear_attention' | 'full_attention')[];
  // MLP / MoE
  /** Per 0-based layer: 'dense' (SwiGLU MLP, intermediate_size) or 'sparse' (MoE). */
  mlp_layer_types: ('dense' | 'sparse')[];
  num_experts: number;
  num_experts_per_token: number;
  num_expert_group: number;
  topk_group: number;
  moe_renormalize: boolean;
  routed_scaling_factor: number;
  num_shared_experts: number;
  moe_intermediate_size: number;
  model_max_length: number;
}

export type LinearAttnConfig = z.infer<typeof LinearAttnConfigSchema>;

/** The known fields of config.json (for messages and docs). */
export const KNOWN_CONFIG_FIELDS: readonly string[] = [...Object.keys(RawSchema.shape), ...Object.keys(ALIASES)].sort();

function fail(source: string, field: string, msg: string): never {
  throw new TypeError(`${source}: invalid model config: ${field}: ${msg}`);
}

function formatIssue(i: z.core.$ZodIssue, raw: Record<string, unknown>): string {
  const at = i.path.join('.');
  if (i.code === 'unrecognized_keys') {
    const where = at ? `${at}.` : '';
    const allowed = at === 'linear_attn_config' ? Object.keys(LinearAttnConfigSchema.shape).join(', ') : 'the fields of transformers KimiLinearConfig (see docs/MODEL.md)';
    return i.keys.map((k) => `${where}${k}: unknown field (allowed: ${allowed})`).join('; ');
  }
  let value: unknown = raw;
  for (const p of i.path) value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[p as PropertyKey] : undefined;
  return `${at || '(root)'}: got ${JSON.stringify(value)}: ${i.message}`;
}

/**
 * Validates a parsed config.json and returns the normalised config. Errors name the field, the value and
 * what is allowed. A config already normalised by this function parses to itself.
 */
export function parseModelConfig(input: unknown, source = 'config'): ModelConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TypeError(`${source}: invalid model config: expected a JSON object, got ${Array.isArray(input) ? `an array of ${input.length}` : JSON.stringify(input)}`);
  const raw: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  if ('attention_head_dim' in raw)
    fail(source, 'attention_head_dim', `unknown field (value ${JSON.stringify(raw.attention_head_dim)}): the full-attention layers are MLA; set qk_nope_head_dim, qk_rope_head_dim, v_head_dim and kv_lora_rank instead`);
  for (const [alias, field] of Object.entries(ALIASES)) {
    if (!(alias in raw)) continue;
    if (field in raw && JSON.stringify(raw[field]) !== JSON.stringify(raw[alias]))
      fail(source, alias, `${JSON.stringify(raw[alias])} disagrees with ${field} = ${JSON.stringify(raw[field])} (${alias} is another name for ${field})`);
    raw[field] = raw[alias];
    delete raw[alias];
  }
  const r = RawSchema.safeParse(raw);
  if (!r.success) throw new TypeError(`${source}: invalid model config: ${r.error.issues.map((i) => formatIssue(i, raw)).join('; ')}`);
  const c = r.data;
  const n = c.num_hidden_layers;

  // KDA geometry: linear_attn_config wins over the flat fields; both present must agree.
  const la = c.linear_attn_config ?? {};
  const flat = { num_heads: c.linear_num_heads, head_dim: c.linear_head_dim, short_conv_kernel_size: c.linear_conv_kernel_dim } as const;
  const flatName = { num_heads: 'linear_num_heads', head_dim: 'linear_head_dim', short_conv_kernel_size: 'linear_conv_kernel_dim' } as const;
  for (const k of ['num_heads', 'head_dim', 'short_conv_kernel_size'] as const)
    if (la[k] !== undefined && flat[k] !== undefined && flat[k] !== la[k]) fail(source, flatName[k], `${flat[k]} disagrees with linear_attn_config.${k} = ${la[k]}`);
  const heads = la.num_heads ?? flat.num_heads ?? 32;
  const headDim = la.head_dim ?? flat.head_dim ?? 128;
  const convK = la.short_conv_kernel_size ?? flat.short_conv_kernel_size ?? 4;
  if ((la.kda_layers === undefined) !== (la.full_attn_layers === undefined))
    fail(source, 'linear_attn_config', `give both kda_layers and full_attn_layers, or neither (got only ${la.kda_layers ? 'kda_layers' : 'full_attn_layers'})`);

  // Layer kinds: layer_types, else linear_attn_config's 1-based lists, else transformers' default pattern.
  let layerTypes: ('linear_attention' | 'full_attention')[];
  if (la.kda_layers && la.full_attn_layers) {
    const seen = new Map<number, string>();
    for (const [field, list] of [
      ['kda_layers', la.kda_layers],
      ['full_attn_layers', la.full_attn_layers],
    ] as const) {
      for (const l of list) {
        if (l > n) fail(source, `linear_attn_config.${field}`, `contains ${l}, but layers are numbered 1..${n} (1-based)`);
        if (seen.has(l)) fail(source, `linear_attn_config.${field}`, `layer ${l} is listed in both ${seen.get(l)} and ${field} (or twice)`);
        seen.set(l, field);
      }
    }
    for (let l = 1; l <= n; l++) if (!seen.has(l)) fail(source, 'linear_attn_config', `layer ${l} is in neither kda_layers nor full_attn_layers (1-based, 1..${n})`);
    const kda = la.kda_layers;
    layerTypes = Array.from({ length: n }, (_, i) => (kda.includes(i + 1) ? 'linear_attention' : 'full_attention'));
    if (c.layer_types && c.layer_types.join() !== layerTypes.join())
      fail(source, 'layer_types', `${JSON.stringify(c.layer_types)} disagrees with linear_attn_config's kda_layers/full_attn_layers (${JSON.stringify(layerTypes)})`);
  } else if (c.layer_types) layerTypes = c.layer_types;
  else layerTypes = Array.from({ length: n }, (_, i) => (i && i % 4 === 0 ? 'full_attention' : 'linear_attention'));
  if (layerTypes.length !== n) fail(source, 'layer_types', `has ${layerTypes.length} entries, num_hidden_layers is ${n}`);

  // Dense or MoE per layer: mlp_layer_types, else the first first_k_dense_replace (default 1) layers dense.
  let mlpTypes: ('dense' | 'sparse')[];
  if (c.mlp_layer_types) {
    mlpTypes = c.mlp_layer_types;
    if (mlpTypes.length !== n) fail(source, 'mlp_layer_types', `has ${mlpTypes.length} entries, num_hidden_layers is ${n}`);
    if (c.first_k_dense_replace !== undefined) {
      const implied = Array.from({ length: n }, (_, i) => (i < c.first_k_dense_replace! ? 'dense' : 'sparse'));
      if (implied.join() !== mlpTypes.join()) fail(source, 'first_k_dense_replace', `${c.first_k_dense_replace} disagrees with mlp_layer_types ${JSON.stringify(mlpTypes)}`);
    }
  } else {
    const k = c.first_k_dense_replace ?? 1;
    mlpTypes = Array.from({ length: n }, (_, i) => (i < k ? 'dense' : 'sparse'));
  }

  // MLA geometry
  const kvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (kvHeads !== c.num_attention_heads)
    fail(source, 'num_key_value_heads', `${kvHeads} differs from num_attention_heads ${c.num_attention_heads}; kv_b_proj makes one key/value per query head, so only equal counts are allowed (transformers fails on others)`);
  const qkHead = c.qk_nope_head_dim + c.qk_rope_head_dim;
  if (qkHead < 1) fail(source, 'qk_nope_head_dim', `qk_nope_head_dim + qk_rope_head_dim must be >= 1, got ${c.qk_nope_head_dim} + ${c.qk_rope_head_dim}`);
  if (c.qk_head_dim !== undefined && c.qk_head_dim !== qkHead) fail(source, 'qk_head_dim', `${c.qk_head_dim} must equal qk_nope_head_dim + qk_rope_head_dim = ${qkHead}`);
  if (c.v_head_dim === null) fail(source, 'v_head_dim', 'null is not supported; give the value head size');

  // MoE routing (checked only where a layer uses it)
  if (mlpTypes.includes('sparse')) {
    const k = c.num_experts_per_token;
    if (k === null) fail(source, 'num_experts_per_token', 'null is not allowed when a layer is sparse (MoE)');
    if (c.num_experts % c.num_expert_group !== 0) fail(source, 'num_expert_group', `${c.num_expert_group} must divide num_experts ${c.num_experts}`);
    const topkGroup = c.topk_group ?? 1;
    if (topkGroup > c.num_expert_group) fail(source, 'topk_group', `${topkGroup} exceeds num_expert_group ${c.num_expert_group}`);
    if (k > (c.num_experts / c.num_expert_group) * topkGroup) fail(source, 'num_experts_per_token', `${k} exceeds the experts in the topk_group selected groups (${(c.num_experts / c.num_expert_group) * topkGroup})`);
    if (c.num_expert_group > 1 && c.num_experts / c.num_expert_group < 2) fail(source, 'num_expert_group', `each group needs at least 2 experts (a group scores by its top 2), got ${c.num_experts / c.num_expert_group}`);
  }

  return {
    model_type: 'kimi_linear',
    architectures: c.architectures,
    vocab_size: c.vocab_size,
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    num_hidden_layers: n,
    rms_norm_eps: c.rms_norm_eps,
    hidden_act: 'silu',
    tie_word_embeddings: c.tie_word_embeddings,
    initializer_range: c.initializer_range,
    pad_token_id: c.pad_token_id,
    bos_token_id: c.bos_token_id,
    eos_token_id: c.eos_token_id,
    ...(c.mask_token_id !== undefined ? { mask_token_id: c.mask_token_id } : {}),
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: kvHeads,
    kv_lora_rank: c.kv_lora_rank,
    q_lora_rank: c.q_lora_rank,
    qk_nope_head_dim: c.qk_nope_head_dim,
    qk_rope_head_dim: c.qk_rope_head_dim,
    v_head_dim: c.v_head_dim,
    attention_bias: c.attention_bias,
    linear_attn_config: {
      num_heads: heads,
      head_dim: headDim,
      short_conv_kernel_size: convK,
      kda_layers: layerTypes.flatMap((t, i) => (t === 'linear_attention' ? [i + 1] : [])),
      full_attn_layers: layerTypes.flatMap((t, i) => (t === 'full_attention' ? [i + 1] : [])),
    },
    layer_types: layerTypes,
    mlp_layer_types: mlpTypes,
    num_experts: c.num_experts,
    num_experts_per_token: c.num_experts_per_token ?? 8,
    num_expert_group: c.num_expert_group,
    topk_group: c.topk_group ?? 1,
    moe_renormalize: c.moe_renormalize,
    routed_scaling_factor: c.routed_scaling_factor,
    num_shared_experts: c.num_shared_experts,
    moe_intermediate_size: c.moe_intermediate_size,
    model_max_length: c.model_max_length,
  };
}

/** 'kda' or 'full_attention' for a 0-based layer index. */
export function layerKind(config: ModelConfig, index: number): 'kda' | 'full_attention' {
  return config.layer_types[index] === 'linear_attention' ? 'kda' : 'full_attention';
}

/** The directory of model presets shipped with the package (configs/models). */
export function presetDir(): string {
  // src/nn/config.ts and dist/nn/config.js both sit two levels below the package root.
  return path.resolve(__dirname, '..', '..', 'configs', 'models');
}

export function listPresets(): string[] {
  try {
    return fs
      .readdirSync(presetDir())
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
}

/**
 * A preset name ('tiny', 'small', ...), a config.json path, or a model directory holding config.json.
 */
export function loadModelConfig(nameOrPath: string): ModelConfig {
  const { file, raw } = readModelConfigFile(nameOrPath);
  return parseModelConfig(raw, file);
}

/** The config file a preset name, config.json path or model directory names, and its parsed JSON. */
function readModelConfigFile(nameOrPath: string): { file: string; preset: boolean; raw: unknown } {
  if (typeof nameOrPath !== 'string' || !nameOrPath) throw new TypeError(`loadModelConfig: expected a preset name or a path, got ${String(nameOrPath)}`);
  let file: string;
  let preset = false;
  if (/^[A-Za-z0-9_-]+$/.test(nameOrPath) && fs.existsSync(path.join(presetDir(), `${nameOrPath}.json`))) {
    file = path.join(presetDir(), `${nameOrPath}.json`);
    preset = true;
  } else if (fs.existsSync(nameOrPath) && fs.statSync(nameOrPath).isDirectory()) file = path.join(nameOrPath, 'config.json');
  else file = nameOrPath;
  if (!fs.existsSync(file))
    throw new Error(`loadModelConfig: '${nameOrPath}' is neither a preset (${listPresets().join(', ') || 'none found'}) nor an existing config.json or model directory`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`loadModelConfig: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return { file, preset, raw };
}

export const SPECIAL_ID_FIELDS = ['bos_token_id', 'eos_token_id', 'pad_token_id', 'mask_token_id'] as const;
export type SpecialIdField = (typeof SPECIAL_ID_FIELDS)[number];

/**
 * The special-token ids a config file itself declares (a field left out takes the schema's default, Kimi's
 * 163584.., which says nothing about the tokenizer). A preset declares none: its ids are the byte tokenizer's
 * and give way to the run's tokenizer.
 */
export function declaredSpecialIds(nameOrPath: string): Partial<Record<SpecialIdField, number | number[] | null>> {
  const { preset, raw } = readModelConfigFile(nameOrPath);
  if (preset || !raw || typeof raw !== 'object') return {};
  const out: Partial<Record<SpecialIdField, number | number[] | null>> = {};
  for (const f of SPECIAL_ID_FIELDS) if (f in raw) out[f] = (raw as Record<string, number | number[] | null>)[f];
  return out;
}
