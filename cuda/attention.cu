// Causal softmax attention on CUDA, the twin of native/attention.cc (same arguments and results):
//   causalAttentionCuda(q, k, v, { scale }) -> { o [B,T,H,Dv], lse [B,H,T] }
//   causalAttentionBackwardCuda(dO, q, k, v, o, lse, { scale }) -> { dq, dk, dv }
// Simple and exact: one warp per query row (forward, dq) or key row (dk, dv); each lane holds up to 8 of the
// row's D (and Dv) entries, dot products are warp sums, the forward uses an online softmax. D, Dv <= 256.
// dK and dV sum over queries in order (no atomics), so results are the same run to run.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cuda_util.cuh"

namespace reclin {
namespace {

#include "attention_kernels.cuh"

Dims check_qkv(const Tensor& q, const Tensor& k, const Tensor& v) {
  expect_ndim(q, 4, "q", "[B,T,H,D]");
  Dims d{q.dim(0), q.dim(1), q.dim(2), q.dim(3), 0};
  expect_same_device(q, k, "q", "k");
  expect_same_device(q, v, "q", "v");
  expect_shape(k, q.shape, "k", "[B,T,H,D] (q's shape)");
  expect_ndim(v, 4, "v", "[B,T,H,Dv]");
  if (v.dim(0) != d.B || v.dim(1) != d.T || v.dim(2) != d.H)
    throw ArgError("v: expected shape [B,T,H,Dv] with B,T,H = " + std::to_string(d.B) + "," + std::to_string(d.T) +
                   "," + std::to_string(d.H) + ", got " + v.shape_str());
  d.Dv = v.dim(3);
  if (d.D > 32 * kMaxPer || d.Dv > 32 * kMaxPer)
    throw ArgError("q/v: head dimensions D = " + std::to_string(d.D) + ", Dv = " + std::to_string(d.Dv) +
                   " are above the 256 the cuda attention supports");
  return d;
}

float scale_of(const Napi::Object& opts, int64_t D) {
  return static_cast<float>(opt_number(opts, "scale", 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(D, 1)))));
}

unsigned grid_rows(const Dims& d) { return static_cast<unsigned>((d.B * d.H * d.T + kWarps - 1) / kWarps); }

Napi::Value CausalAttentionCuda(const Napi::CallbackInfo& info) {
  Tensor q = arg_cuda_f32(info, 0, "q"), k = arg_cuda_f32(info, 1, "k"), v = arg_cuda_f32(info, 2, "v");
  Dims d = check_qkv(q, k, v);
  const float scale = scale_of(arg_object(info, 3, "options"), d.D);
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
  Tensor dO = arg_cuda_f32(info, 0, "dO"), q = arg_cuda_f32(info, 1, "q"), k = arg_cuda_f32(info, 2, "k"),
         v = arg_cuda_f32(info, 3, "v");
  Tensor o = arg_cuda_f32(info, 4, "o"), lse = arg_cuda_f32(info, 5, "lse");
  Dims d = check_qkv(q, k, v);
  expect_same_device(q, dO, "q", "dO");
  expect_same_device(q, o, "q", "o");
  expect_same_device(q, lse, "q", "lse");
  expect_shape(o, {d.B, d.T, d.H, d.Dv}, "o", "[B,T,H,Dv]");
  expect_shape(dO, {d.B, d.T, d.H, d.Dv}, "dO", "[B,T,H,Dv]");
  expect_shape(lse, {d.B, d.H, d.T}, "lse", "[B,H,T]");
  const float scale = scale_of(arg_object(info, 6, "options"), d.D);
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
