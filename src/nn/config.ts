// The base model's configuration: a Hugging Face–style config.json with the Kimi-Linear field names
// (RECURSIVE_SPEC Part 1, docs/design/kda.md §1). Layer lists are 1-based, as in the Kimi-Linear checkpoint
// (`is_kda_layer(i)` tests i+1). Presets live in configs/models/<name>.json.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

const layerList = z.array(z.number().int().min(1));

export const LinearAttnConfigSchema = z.object({
  num_heads: z.number().int().min(1),
  head_dim: z.number().int().min(1),
  short_conv_kernel_size: z.number().int().min(1).max(16).default(4),
  kda_layers: layerList,
  full_attn_layers: layerList,
});

export const ModelConfigSchema = z
  .object({
    model_type: z.string().default('kimi_linear'),
    architectures: z.array(z.string()).default(['KimiLinearForCausalLM']),
    vocab_size: z.number().int().min(1),
    hidden_size: z.number().int().min(1),
    intermediate_size: z.number().int().min(1),
    num_hidden_layers: z.number().int().min(1),
    /** Heads of the full-attention (NoPE) layers; defaults to linear_attn_config.num_heads. */
    num_attention_heads: z.number().int().min(1).optional(),
    /** Head size of the full-attention layers; defaults to linear_attn_config.head_dim. */
    attention_head_dim: z.number().int().min(1).optional(),
    rms_norm_eps: z.number().positive().default(1e-5),
    hidden_act: z.literal('silu').default('silu'),
    tie_word_embeddings: z.boolean().default(false),
    initializer_range: z.number().positive().default(0.02),
    bos_token_id: z.number().int().optional(),
    eos_token_id: z.number().int().optional(),
    pad_token_id: z.number().int().optional(),
    linear_attn_config: LinearAttnConfigSchema,
  })
  .passthrough();

export type LinearAttnConfig = z.infer<typeof LinearAttnConfigSchema>;
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

/**
 * Validates a parsed config.json: schema, then the layer lists (every layer exactly once, in range).
 * Errors name the field, the value and what is allowed.
 */
export function parseModelConfig(raw: unknown, source = 'config'): ModelConfig {
  const r = ModelConfigSchema.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new TypeError(`${source}: invalid model config: ${msg}`);
  }
  const c = r.data;
  const n = c.num_hidden_layers;
  const la = c.linear_attn_config;
  const seen = new Map<number, string>();
  for (const [field, list] of [
    ['kda_layers', la.kda_layers],
    ['full_attn_layers', la.full_attn_layers],
  ] as const) {
    for (const l of list) {
      if (l > n) throw new RangeError(`${source}: linear_attn_config.${field} contains ${l}, but layers are numbered 1..${n} (1-based)`);
      if (seen.has(l)) throw new RangeError(`${source}: layer ${l} is listed in both ${seen.get(l)} and ${field} (or twice)`);
      seen.set(l, field);
    }
  }
  for (let l = 1; l <= n; l++)
    if (!seen.has(l)) throw new RangeError(`${source}: layer ${l} is in neither linear_attn_config.kda_layers nor full_attn_layers (1-based, 1..${n})`);
  const heads = c.num_attention_heads ?? la.num_heads;
  const hd = c.attention_head_dim ?? la.head_dim;
  if (heads < 1 || hd < 1) throw new RangeError(`${source}: attention heads/head dim must be positive`);
  return c;
}

/** 'kda' or 'full_attention' for a 0-based layer index. */
export function layerKind(config: ModelConfig, index: number): 'kda' | 'full_attention' {
  return config.linear_attn_config.kda_layers.includes(index + 1) ? 'kda' : 'full_attention';
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
 * A preset name ('tiny', 'small'), a config.json path, or a model directory holding config.json.
 */
export function loadModelConfig(nameOrPath: string): ModelConfig {
  if (typeof nameOrPath !== 'string' || !nameOrPath) throw new TypeError(`loadModelConfig: expected a preset name or a path, got ${String(nameOrPath)}`);
  let file: string;
  if (/^[A-Za-z0-9_-]+$/.test(nameOrPath) && fs.existsSync(path.join(presetDir(), `${nameOrPath}.json`))) file = path.join(presetDir(), `${nameOrPath}.json`);
  else if (fs.existsSync(nameOrPath) && fs.statSync(nameOrPath).isDirectory()) file = path.join(nameOrPath, 'config.json');
  else file = nameOrPath;
  if (!fs.existsSync(file))
    throw new Error(`loadModelConfig: '${nameOrPath}' is neither a preset (${listPresets().join(', ') || 'none found'}) nor an existing config.json or model directory`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`loadModelConfig: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return parseModelConfig(raw, file);
}
