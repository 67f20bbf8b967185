// A tiny model and run config for sweep tests: each cell trains in a second or two.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const TINY_MODEL = {
  model_type: 'kimi_linear',
  architectures: ['KimiLinearForCausalLM'],
  vocab_size: 264,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  kv_lora_rank: 16,
  qk_nope_head_dim: 8,
  qk_rope_head_dim: 8,
  v_head_dim: 16,
  rms_norm_eps: 1e-5,
  hidden_act: 'silu',
  tie_word_embeddings: false,
  initializer_range: 0.02,
  pad_token_id: 256,
  bos_token_id: 257,
  eos_token_id: 258,
  mask_token_id: 259,
  linear_attn_config: { num_heads: 2, head_dim: 16, short_conv_kernel_size: 4, kda_layers: [1], full_attn_layers: [2] },
};

/** Writes model.json and run.json into `dir`; returns the run config path. */
export function writeTinyRunConfig(dir: string, steps: number, extra: Record<string, unknown> = {}): string {
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(TINY_MODEL));
  const rc = {
    num_steps: steps,
    batch_size: 4,
    model: { path: null, config: path.join(dir, 'model.json') },
    data: { train: 'synthetic:addition:2', seq_len: 16, eval_examples: 8 },
    schedule: { warmup_steps: 0, decay: 'constant' },
    intervals: { log: 5, eval: steps, save: 5 },
    checkpoint: { keep_last: 1 },
    ...extra,
  };
  const file = path.join(dir, 'run.json');
  fs.writeFileSync(file, JSON.stringify(rc));
  return file;
}
