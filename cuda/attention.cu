// Causal softmax attention on CUDA, the twin of native/attention.cc (same arguments and results):
//   causalAttentionCuda(q, k, v, { scale }) -> { o [B,T,H,Dv], lse [B,H,T] }   (no cached keys: Tk = Tq = T)
//   causalAttentionBackwardCuda(dO, q, k, v, o, lse, { scale }) -> { dq, dk, dv }
// Simple and exact: one warp per query row (forward, dq) or key row (dk, dv); each lane holds up to 8 of the
// row's D (and Dv) entries, dot products are warp sums, the forward uses an online softmax. D, Dv <= 256.
// dK and dV sum over queries in order (no atomics), so results are the same run to run.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cuda_util.cuh"
#include "fused_rules.h"

namespace reclin {
namespace {

#include "attention_kernels.cuh"

// Shapes, scale, dtypes and devices by the rules shared with native/attention.cc (fused_rules.h); these kernels
// take no cached keys (Tk == Tq) and head dimensions up to 32 * kMaxPer.
Dims check_args(const AttentionTensors& a, const Napi::Object& opts, float& scale) {
  const AttentionDims d = attention_rules(a, opts, AttentionLimits{DeviceKind::CUDA, false, 32 * kMaxPer});
  scale = static_cast<float>(d.scale);
  return Dims{d.B, d.Tq, d.H, d.D, d.Dv};
}

unsigned grid_rows(const Dims& d) { return static_cast<unsigned>((d.B * d.H * d.T + kWarps - 1) / kWarps); }

Napi::Value CausalAttentionCuda(const Napi::CallbackInfo& info) {
  Tensor q = arg_tensor(info, 0, "q"), k = arg_tensor(info, 1, "k"), v = arg_tensor(info, 2, "v");
  float scale;
  const Dims d = check_args({q, k, v, {}, {}, {}}, arg_object(info, 3, "options"), scale);
  Tensor o = empty({d.B, d.T, d.H, d.Dv}, DType::F32, q.device), lse = empty({d.B, d.H, d.T}, DType::F32, q.device);
  if (d.B * d.H * d.T) {
    attn_fwd_kernel<<<grid_rows(d), 32 * kWarps, 0, stream_for(q.device.index)>>>(cf(q), cf(k), cf(v), mf(o), mf(lse), d, scale);
    launch_check("attn_fwd_kernel");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("o", wrap(info.Env(), o));
  res.Set("lse", wrap(info.Env(), lse));
  return res;
}
RECLIN_EXPORT("causalAttentionCuda", CausalAttentionCuda)

Napi::Value CausalAttentionBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dO = arg_tensor(info, 0, "dO"), q = arg_tensor(info, 1, "q"), k = arg_tensor(info, 2, "k"),
         v = arg_tensor(info, 3, "v");
  Tensor o = arg_tensor(info, 4, "o"), lse = arg_tensor(info, 5, "lse");
  float scale;
  const Dims d = check_args({q, k, v, o, dO, lse}, arg_object(info, 6, "options"), scale);
  Tensor dq = empty(q.shape, DType::F32, q.device), dk = empty(k.shape, DType::F32, q.device),
         dv = empty(v.shape, DType::F32, q.device);
  if (d.B * d.H * d.T) {
    cudaStream_t st = stream_for(q.device.index);
    Tensor delta = empty({d.B, d.H, d.T}, DType::F32, q.device);
    attn_delta_kernel<<<grid_rows(d), 32 * kWarps, 0, st>>>(cf(dO), cf(o), mf(delta), d);
    launch_check("attn_delta_kernel");
    attn_dq_kernel<<<grid_rows(d), 32 * kWarps, 0, st>>>(cf(dO), cf(q), cf(k), cf(v), cf(lse), cf(delta), mf(dq), d, scale);
    launch_check("attn_dq_kernel");
    attn_dkv_kernel<<<grid_rows(d), 32 * kWarps, 0, st>>>(cf(dO), cf(q), cf(k), cf(v), cf(lse), cf(delta), mf(dk), mf(dv), d,
                                                         scale);
    launch_check("attn_dkv_kernel");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("dq", wrap(info.Env(), dq));
  res.Set("dk", wrap(info.Env(), dk));
  res.Set("dv", wrap(info.Env(), dv));
  return res;
}
RECLIN_EXPORT("causalAttentionBackwardCuda", CausalAttentionBackwardCuda)

}  // namespace
}  // namespace reclin
