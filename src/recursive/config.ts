// The recursive config (recursive_config.json): the prototype's field names, every field consumed by the code.
import { z } from 'zod';

const unit = z.number().min(0).max(1);
const nonNeg = z.number().min(0);

export const RecursiveConfigSchema = z
  .object({
    recursive_enabled: z.boolean().default(true),
    /** W: chunk positions refined together. */
    chunk_width: z.number().int().min(1).default(128),
    /** K: inner refinement steps per chunk. */
    max_inner_steps: z.number().int().min(1).default(4),
    commit_threshold: unit.default(0.7),
    min_commit_threshold: unit.default(0.3),
    /** "all" or block indices whose output gets a RefineCell. */
    layers_to_refine: z.union([z.literal('all'), z.array(z.number().int().min(0)).min(1)]).default('all'),
    use_latent_token: z.boolean().default(true),
    d_state: z.number().int().min(1).default(512),
    gate_hidden: z.number().int().min(1).default(1024),
    /** The length head predicts effective lengths 0..max_chunk_len. */
    max_chunk_len: z.number().int().min(1).default(128),
    enable_length_head: z.boolean().default(true),
    corruption_rate: unit.default(0.3),
    corruption_rate_final: unit.default(0.1),
    corruption_schedule: z.enum(['constant', 'linear', 'cosine']).default('linear'),
    corruption_strategy: z.enum(['random', 'span']).default('random'),
    corruption_mode: z.enum(['mask', 'random', 'mixed']).default('mask'),
    lambda_final: nonNeg.default(1.0),
    lambda_masked: nonNeg.default(0.5),
    lambda_halt: nonNeg.default(0.5),
    lambda_len: nonNeg.default(0.05),
    lambda_ponder: nonNeg.default(0.01),
    lambda_stability: nonNeg.default(0.01),
    cache_reset_policy: z.enum(['keep_kda_recurrent_reset_mla', 'keep_all', 'reset_all']).default('keep_kda_recurrent_reset_mla'),
    use_soft_tokens: z.boolean().default(false),
    /** Gumbel-softmax temperature for soft tokens. */
    soft_token_temperature: z.number().positive().default(1.0),
    /** Phase b: LoRA rank and scale alpha/rank on the top third of layers' attention and MLP projections. */
    lora_rank: z.number().int().min(1).default(8),
    lora_alpha: z.number().positive().default(16),
    /** Phase c: every unfreeze_every-th block is fully trained with an L2-to-pretrained penalty of this weight. */
    unfreeze_every: z.number().int().min(1).default(4),
    lambda_l2_pretrained: nonNeg.default(0.01),
  })
  .strict()
  .refine((c) => c.commit_threshold >= c.min_commit_threshold, {
    message: 'commit_threshold must be >= min_commit_threshold',
    path: ['commit_threshold'],
  });

export type RecursiveConfig = z.output<typeof RecursiveConfigSchema>;
export type RecursiveConfigInput = z.input<typeof RecursiveConfigSchema>;

/** Validates and fills defaults; errors name the field, the value and what is allowed. */
export function parseRecursiveConfig(input: unknown): RecursiveConfig {
  const r = RecursiveConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const msgs = r.error.issues.map((i) => {
    const field = i.path.join('.') || '(config)';
    let value: unknown = input;
    for (const p of i.path) value = (value as Record<string | number, unknown> | undefined)?.[p as string];
    return `${field}: ${i.message}${i.path.length ? ` (got ${JSON.stringify(value)})` : ''}`;
  });
  throw new RangeError(`recursive config: ${msgs.join('; ')}`);
}

/** The block indices that get a RefineCell, checked against the model depth. */
export function refinedLayers(cfg: RecursiveConfig, numLayers: number): number[] {
  if (cfg.layers_to_refine === 'all') return Array.from({ length: numLayers }, (_, i) => i);
  const bad = cfg.layers_to_refine.filter((l) => l >= numLayers);
  if (bad.length) throw new RangeError(`layers_to_refine: indices ${bad.join(', ')} out of range for a model with ${numLayers} layers`);
  return [...new Set(cfg.layers_to_refine)].sort((a, b) => a - b);
}
