// Shared fixtures of the sidecar and training-loop tests: a small mixed KDA + attention model, a recursive
// config and a run config sized for fast CPU tests.
import { BYTE_VOCAB_SIZE, TaskSource, collateChunks, sortingTask } from '../src/data';
import { Tensor } from '../src';
import type { RecursiveSettings, TrainerConfig } from '../src/train';

/** Two layers: KDA (layer 1) and MLA (layer 2), dense MLPs, hidden 32. */
export const CFG = {
  vocab_size: BYTE_VOCAB_SIZE,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  kv_lora_rank: 16,
  qk_nope_head_dim: 8,
  qk_rope_head_dim: 8,
  v_head_dim: 16,
  first_k_dense_replace: 2,
  linear_attn_config: { num_heads: 2, head_dim: 16, short_conv_kernel_size: 4, kda_layers: [1], full_attn_layers: [2] },
};

export function recursiveSettings(over: Partial<RecursiveSettings> = {}): RecursiveSettings {
  return {
    recursive_enabled: true,
    chunk_width: 5,
    max_inner_steps: 3,
    commit_threshold: 0.7,
    min_commit_threshold: 0.3,
    layers_to_refine: 'all',
    use_latent_token: true,
    d_state: 8,
    gate_hidden: 16,
    max_chunk_len: 5,
    enable_length_head: true,
    cache_reset_policy: 'keep_kda_recurrent_reset_mla',
    use_soft_tokens: false,
    corruption_rate: 0.5,
    corruption_rate_final: 0.3,
    corruption_schedule: 'linear',
    lambda_final: 1,
    lambda_masked: 0.5,
    lambda_halt: 0.5,
    lambda_len: 0.05,
    lambda_ponder: 0.01,
    lambda_stability: 0.01,
    ...over,
  };
}

export function trainerConfig(over: Partial<TrainerConfig> = {}): TrainerConfig {
  return {
    phase: 'a',
    seed: 3,
    num_steps: 8,
    batch_size: 4,
    optimizer: { lr: 3e-3, boundary_lr_scale: 1.67, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.05, grad_clip: 1.0 },
    schedule: { warmup_steps: 2, decay: 'cosine', min_lr_ratio: 0.1 },
    intervals: { log: 1, eval: 1000, save: 1000 },
    checkpoint: { best_metric: 'eval/loss', best_mode: 'min' },
    lora: { rank: 2, alpha: 4, lr: 1e-3, top_fraction: 0.5 },
    unfreeze: { every: 2, lr: 1e-3, l2_weight: 0.1 },
    data: { eval_examples: 4, eval_seed: 0 },
    ...over,
  };
}

export const task = sortingTask(4, 4);
export const batchOf = (n: number, seed = 1) => collateChunks(Array.from({ length: n }, (_, i) => new TaskSource(task, seed).get(i)), { chunkWidth: 5 });
export const prefixOf = (b: ReturnType<typeof batchOf>) => Tensor.from(b.prefix, [b.batchSize, b.prefixLength]);
export const bits = (t: Tensor) => Buffer.from(t.toFloat32Array().buffer).toString('hex');
export const snapshot = (m: { parameters(): { name: string; data: Tensor }[] }) => new Map(m.parameters().map((p) => [p.name, bits(p.data)]));
