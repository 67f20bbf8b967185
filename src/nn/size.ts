// Parameter counts from a config alone, without building the model (memory estimates must not allocate what
// they estimate). Each term mirrors a constructor: KDAttention, MLAttention, SwiGLUMLP, KimiMoE, KimiLinearLM;
// test/nn-size.test.ts pins the total to the built models' own count.
import { type ModelConfig, layerKind } from './config';

export interface ParameterCount {
  total: number;
  /** embed_tokens + lm_head (once when tied) + the final norm. */
  embeddings: number;
  /** Token mixers: KDA and MLA layers, with their norms. */
  attention: number;
  /** Dense SwiGLU MLPs. */
  dense_mlp: number;
  /** MoE layers: router, routed experts, shared experts. */
  moe: number;
  /** Of `moe`: the routed experts' weights (what a token touches only top-k of). */
  routed_experts: number;
}

const linear = (inF: number, outF: number, bias = false) => inF * outF + (bias ? outF : 0);
const swiglu = (d: number, i: number) => 3 * d * i;

function kdaParams(c: ModelConfig): number {
  const d = c.hidden_size;
  const { num_heads: H, head_dim: K, short_conv_kernel_size: W } = c.linear_attn_config;
  const HK = H * K;
  return 3 * linear(d, HK) + 3 * HK * W + H + linear(d, K) + linear(K, HK) + HK + linear(d, H) + linear(d, K) + linear(K, HK) + K + linear(HK, d);
}

function mlaParams(c: ModelConfig): number {
  const d = c.hidden_size;
  const H = c.num_attention_heads;
  const qkOut = H * (c.qk_nope_head_dim + c.qk_rope_head_dim);
  const b = c.attention_bias;
  const q = c.q_lora_rank === null ? linear(d, qkOut) : linear(d, c.q_lora_rank, b) + c.q_lora_rank + linear(c.q_lora_rank, qkOut);
  return q + linear(d, c.kv_lora_rank + c.qk_rope_head_dim, b) + c.kv_lora_rank + linear(c.kv_lora_rank, H * (c.qk_nope_head_dim + c.v_head_dim)) + linear(H * c.v_head_dim, d, b);
}

export function countParameters(c: ModelConfig): ParameterCount {
  const d = c.hidden_size;
  const embeddings = c.vocab_size * d * (c.tie_word_embeddings ? 1 : 2) + d;
  let attention = 0;
  let dense_mlp = 0;
  let moe = 0;
  let routed_experts = 0;
  for (let i = 0; i < c.num_hidden_layers; i++) {
    attention += 2 * d + (layerKind(c, i) === 'kda' ? kdaParams(c) : mlaParams(c)); // + input/post-attention norms
    if (c.mlp_layer_types[i] === 'sparse') {
      const E = c.num_experts;
      const I = c.moe_intermediate_size;
      const routed = E * 3 * I * d;
      routed_experts += routed;
      moe += E * d + E + routed + (c.num_shared_experts > 0 ? swiglu(d, I * c.num_shared_experts) : 0);
    } else dense_mlp += swiglu(d, c.intermediate_size);
  }
  return { total: embeddings + attention + dense_mlp + moe, embeddings, attention, dense_mlp, moe, routed_experts };
}
