// The strict config schema and the checkpoint refusals (no Python needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KimiLinearLM, loadModel, parseModelConfig, saveModel, setNumThreads } from '../src';

setNumThreads(1);

/** moonshotai/Kimi-Linear-48B-A3B-Instruct config.json as published (revision of 2025-10, transformers 4.57.1). */
const PUBLISHED = {
  architectures: ['KimiLinearForCausalLM'],
  auto_map: {
    AutoConfig: 'configuration_kimi.KimiLinearConfig',
    AutoModel: 'modeling_kimi.KimiLinearModel',
    AutoModelForCausalLM: 'modeling_kimi.KimiLinearForCausalLM',
  },
  bos_token_id: 163584,
  dtype: 'bfloat16',
  eos_token_id: 163586,
  first_k_dense_replace: 1,
  head_dim: 72,
  hidden_act: 'silu',
  hidden_size: 2304,
  initializer_range: 0.02,
  intermediate_size: 9216,
  kv_lora_rank: 512,
  linear_attn_config: {
    full_attn_layers: [4, 8, 12, 16, 20, 24, 27],
    head_dim: 128,
    kda_layers: [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19, 21, 22, 23, 25, 26],
    num_heads: 32,
    short_conv_kernel_size: 4,
  },
  mla_use_nope: true,
  model_max_length: 1048576,
  model_type: 'kimi_linear',
  moe_intermediate_size: 1024,
  moe_layer_freq: 1,
  moe_renormalize: true,
  moe_router_activation_func: 'sigmoid',
  num_attention_heads: 32,
  num_expert_group: 1,
  num_experts: 256,
  num_experts_per_token: 8,
  num_hidden_layers: 27,
  num_key_value_heads: 32,
  num_nextn_predict_layers: 0,
  num_shared_experts: 1,
  pad_token_id: 163839,
  q_lora_rank: null,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  routed_scaling_factor: 2.446,
  tie_word_embeddings: false,
  topk_group: 1,
  transformers_version: '4.57.1',
  use_cache: true,
  use_grouped_topk: true,
  v_head_dim: 128,
  vocab_size: 163840,
};

/** A dense micro config in the published form. */
const MICRO = {
  vocab_size: 19, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 2, num_key_value_heads: 2,
  kv_lora_rank: 6, qk_nope_head_dim: 4, qk_rope_head_dim: 2, v_head_dim: 4, first_k_dense_replace: 4,
  linear_attn_config: { num_heads: 2, head_dim: 4, short_conv_kernel_size: 4, kda_layers: [1, 2, 3], full_attn_layers: [4] },
};

test('the published 48B config.json validates and normalises to its layer plan', () => {
  const c = parseModelConfig(PUBLISHED, 'published');
  assert.equal(c.layer_types.filter((t) => t === 'full_attention').length, 7);
  assert.equal(c.layer_types[3], 'full_attention');
  assert.equal(c.layer_types[26], 'full_attention');
  assert.deepEqual(c.mlp_layer_types.slice(0, 2), ['dense', 'sparse']);
  assert.equal(c.mlp_layer_types.filter((t) => t === 'sparse').length, 26);
  assert.equal(c.num_experts_per_token, 8);
  assert.equal(c.routed_scaling_factor, 2.446);
  assert.equal(c.v_head_dim, 128);
  // normalising is idempotent: the config we write parses to itself
  assert.deepEqual(parseModelConfig(JSON.parse(JSON.stringify(c))), c);
});

test("transformers' flat form (layer_types, linear_*), its aliases and save_pretrained's derived fields are accepted", () => {
  const flat = {
    ...MICRO,
    linear_attn_config: undefined,
    layer_types: ['linear_attention', 'linear_attention', 'linear_attention', 'full_attention'],
    linear_num_heads: 2, linear_head_dim: 4, linear_conv_kernel_dim: 4,
    mlp_layer_types: ['dense', 'dense', 'dense', 'dense'], first_k_dense_replace: undefined,
    n_group: 1, num_experts_per_tok: 2, norm_topk_prob: false, num_local_experts: 4, n_shared_experts: 2,
    max_position_embeddings: 4096, qk_head_dim: 6, head_dim: 2, pretraining_tp: 1, attention_dropout: 0,
  };
  const c = parseModelConfig(JSON.parse(JSON.stringify(flat)));
  const d = parseModelConfig(MICRO);
  assert.deepEqual(c.linear_attn_config, d.linear_attn_config);
  assert.deepEqual(c.layer_types, d.layer_types);
  assert.equal(c.num_experts, 4);
  assert.equal(c.num_shared_experts, 2);
  assert.equal(c.moe_renormalize, false);
  assert.equal(c.model_max_length, 4096);
  // defaults are transformers': no layer_types and no linear_attn_config -> every 4th layer (0-based i % 4 == 0, i > 0) full
  const def = parseModelConfig({ ...MICRO, linear_attn_config: undefined, num_hidden_layers: 6, first_k_dense_replace: 6 });
  assert.deepEqual(def.layer_types, ['linear_attention', 'linear_attention', 'linear_attention', 'linear_attention', 'full_attention', 'linear_attention']);
  // no MoE fields: transformers makes every layer after the first sparse
  assert.deepEqual(parseModelConfig({ ...MICRO, first_k_dense_replace: undefined }).mlp_layer_types, ['dense', 'sparse', 'sparse', 'sparse']);
});

test('unknown, unsupported and contradictory fields are refused with the field, the value and what is allowed', () => {
  const bad = (over: Record<string, unknown>, re: RegExp) => assert.throws(() => parseModelConfig(JSON.parse(JSON.stringify({ ...MICRO, ...over }))), re);
  bad({ num_experts_per_tokn: 2 }, /num_experts_per_tokn: unknown field/);
  bad({ attention_head_dim: 8 }, /attention_head_dim: unknown field .*kv_lora_rank/);
  bad({ linear_attn_config: { ...MICRO.linear_attn_config, use_full_rank_gate: true } }, /linear_attn_config\.use_full_rank_gate: unknown field \(allowed: num_heads, head_dim/);
  bad({ mla_use_nope: false }, /mla_use_nope: got false/);
  bad({ moe_router_activation_func: 'softmax' }, /moe_router_activation_func: got "softmax"/);
  bad({ num_nextn_predict_layers: 1 }, /num_nextn_predict_layers: got 1/);
  bad({ hidden_act: 'gelu' }, /hidden_act: got "gelu"/);
  bad({ attention_dropout: 0.1 }, /attention_dropout: got 0.1/);
  bad({ model_type: 'deepseek_v3' }, /model_type: got "deepseek_v3"/);
  bad({ num_key_value_heads: 1 }, /num_key_value_heads: 1 differs from num_attention_heads 2/);
  bad({ qk_head_dim: 7 }, /qk_head_dim: 7 must equal qk_nope_head_dim \+ qk_rope_head_dim = 6/);
  bad({ n_group: 2, num_expert_group: 1 }, /n_group: 2 disagrees with num_expert_group = 1/);
  bad({ layer_types: ['full_attention', 'linear_attention', 'linear_attention', 'full_attention'] }, /layer_types: .* disagrees with linear_attn_config/);
  bad({ linear_head_dim: 8 }, /linear_head_dim: 8 disagrees with linear_attn_config\.head_dim = 4/);
  bad({ mlp_layer_types: ['dense', 'sparse'] }, /mlp_layer_types: has 2 entries, num_hidden_layers is 4/);
  bad({ first_k_dense_replace: 1, num_experts: 6, num_expert_group: 4 }, /num_expert_group: 4 must divide num_experts 6/);
  bad({ first_k_dense_replace: 1, num_experts: 4, num_experts_per_token: 5 }, /num_experts_per_token: 5 exceeds/);
  bad({ linear_attn_config: { ...MICRO.linear_attn_config, kda_layers: [1, 2], full_attn_layers: [4] } }, /layer 3 is in neither/);
});

test('checkpoints whose tensors do not fit the config are refused with the tensor name and both shapes; a missing shard is named', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-kimi-refuse-'));
  try {
    const m = new KimiLinearLM(MICRO, { seed: 1 });
    saveModel(m, dir, { maxShardBytes: 2048 });
    m.dispose();
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    assert.ok(new Set(Object.values(index.weight_map)).size > 2);
    loadModel(dir).dispose();
    // a config that does not fit the stored shapes
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, kv_lora_rank: 5 }));
    assert.throws(() => loadModel(dir), /model\.layers\.3\.self_attn\.kv_a_proj_with_mqa\.weight has shape \[8,16\], the model expects \[7,16\]/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    // a shard named by the index but absent
    const shard = index.weight_map['model.norm.weight'];
    fs.renameSync(path.join(dir, shard), path.join(dir, 'moved.bin'));
    assert.throws(() => loadModel(dir), new RegExp(`shard ${shard.replace(/\./g, '\\.')} \\(holding .*\\) is missing`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("MoE layers build with transformers' parameter names; a dense first layer keeps mlp.*", () => {
  const m = new KimiLinearLM({ ...MICRO, first_k_dense_replace: 1, num_experts: 4, num_experts_per_token: 2, moe_intermediate_size: 6 });
  const names = [...m.namedParameters().keys()];
  for (const n of ['model.layers.0.mlp.gate_proj.weight', 'model.layers.1.mlp.gate.weight', 'model.layers.1.mlp.gate.e_score_correction_bias', 'model.layers.1.mlp.experts.gate_up_proj', 'model.layers.3.mlp.shared_experts.down_proj.weight'])
    assert.ok(names.includes(n), n);
  assert.equal(m.namedParameters().get('model.layers.1.mlp.gate.e_score_correction_bias')!.requiresGrad, false);
  m.dispose();
});
