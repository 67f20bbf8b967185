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

constexpr int kMaxPer = 8;  // entries per lane: D, Dv <= 32 * 8
constexpr int kWarps = 4;

struct Dims {
  int64_t B, T, H, D, Dv;
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Row (b, t, h) of a [B,T,H,X] tensor.
__device__ __forceinline__ int64_t row(const Dims& d, int64_t b, int64_t t, int64_t h) { return (b * d.T + t) * d.H + h; }

__device__ __forceinline__ void load_row(float (&r)[kMaxPer], const float* p, int64_t n, int lane) {
#pragma unroll
  for (int u = 0; u < kMaxPer; ++u) r[u] = lane + 32 * u < n ? p[lane + 32 * u] : 0.f;
}

__device__ __forceinline__ float dot_row(const float (&r)[kMaxPer], const float* p, int64_t n, int lane) {
  float s = 0.f;
#pragma unroll
  for (int u = 0; u < kMaxPer; ++u)
    if (lane + 32 * u < n) s = fmaf(r[u], p[lane + 32 * u], s);
  return warp_sum(s);
}

__global__ void attn_fwd_kernel(const float* q, const float* k, const float* v, float* o, float* lse, Dims d, float scale) {
  const int lane = threadIdx.x % 32;
  const int64_t rid = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;  // (b, h, i)
  if (rid >= d.B * d.H * d.T) return;
  const int64_t i = rid % d.T, bh = rid / d.T, b = bh / d.H, h = bh % d.H;
  float qr[kMaxPer], acc[kMaxPer];
  load_row(qr, q + row(d, b, i, h) * d.D, d.D, lane);
#pragma unroll
  for (int u = 0; u < kMaxPer; ++u) acc[u] = 0.f;
  float m = -INFINITY, l = 0.f;
  for (int64_t j = 0; j <= i; ++j) {
    const float s = scale * dot_row(qr, k + row(d, b, j, h) * d.D, d.D, lane);
    const float mn = fmaxf(m, s), corr = expf(m - mn), p = expf(s - mn);
    l = l * corr + p;
    const float* vj = v + row(d, b, j, h) * d.Dv;
#pragma unroll
    for (int u = 0; u < kMaxPer; ++u)
      if (lane + 32 * u < d.Dv) acc[u] = fmaf(p, vj[lane + 32 * u], acc[u] * corr);
    m = mn;
  }
  float* orow = o + row(d, b, i, h) * d.Dv;
  const float inv = 1.f / l;
#pragma unroll
  for (int u = 0; u < kMaxPer; ++u)
    if (lane + 32 * u < d.Dv) orow[lane + 32 * u] = acc[u] * inv;
  if (lane == 0) lse[bh * d.T + i] = m + logf(l);
}

// Di = Σ_e dO·O per query row.
__global__ void attn_delta_kernel(const float* dO, const float* o, float* delta, Dims d) {
  const int lane = threadIdx.x % 32;
  const int64_t rid = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (rid >= d.B * d.H * d.T) return;
  const int64_t i = rid % d.T, bh = rid / d.T, b = bh / d.H, h = bh % d.H;
  float r[kMaxPer];
  load_row(r, dO + row(d, b, i, h) * d.Dv, d.Dv, lane);
  const float s = dot_row(r, o + row(d, b, i, h) * d.Dv, d.Dv, lane);
  if (lane == 0) delta[bh * d.T + i] = s;
}

// dq_i = scale · Σ_{j<=i} P_ij (dP_ij − Di) k_j
__global__ void attn_dq_kernel(const float* dO, const float* q, const float* k, const float* v, const float* lse,
                               const float* delta, float* dq, Dims d, float scale) {
  const int lane = threadIdx.x % 32;
  const int64_t rid = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (rid >= d.B * d.H * d.T) return;
  const int64_t i = rid % d.T, bh = rid / d.T, b = bh / d.H, h = bh % d.H;
  float qr[kMaxPer], gr[kMaxPer], acc[kMaxPer];
  load_row(qr, q + row(d, b, i, h) * d.D, d.D, lane);
  load_row(gr, dO + row(d, b, i, h) * d.Dv, d.Dv, lane);
#pragma unroll
  for (int u = 0; u < kMaxPer; ++u) acc[u] = 0.f;
  const float li = lse[bh * d.T + i], Di = delta[bh * d.T + i];
  for (int64_t j = 0; j <= i; ++j) {
    const float* kj = k + row(d, b, j, h) * d.D;
    const float p = expf(scale * dot_row(qr, kj, d.D, lane) - li);
    const float ds = p * (dot_row(gr, v + row(d, b, j, h) * d.Dv, d.Dv, lane) - Di);
#pragma unroll
    for (int u = 0; u < kMaxPer; ++u)
      if (lane + 32 * u < d.D) acc[u] = fmaf(ds, kj[lane + 32 * u], acc[u]);
  }
  float* out = dq + row(d, b, i, h) * d.D;
#pragma unroll
  for (int u = 0; u < kMaxPer; ++u)
    if (lane + 32 * u < d.D) out[lane + 32 * u] = scale * acc[u];
}

// dv_j = Σ_{i>=j} P_ij dO_i;  dk_j = scale · Σ_{i>=j} P_ij (dP_ij − Di) q_i
__global__ void attn_dkv_kernel(const float* dO, const float* q, const float* k, const float* v, const float* lse,
                                const float* delta, float* dk, float* dv, Dims d, float scale) {
  const int lane = threadIdx.x % 32;
  const int64_t rid = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (rid >= d.B * d.H * d.T) return;
  const int64_t j = rid % d.T, bh = rid / d.T, b = bh / d.H, h = bh % d.H;
  float kr[kMaxPer], vr[kMaxPer], ak[kMaxPer], av[kMaxPer];
  load_row(kr, k + row(d, b, j, h) * d.D, d.D, lane);
  load_row(vr, v + row(d, b, j, h) * d.Dv, d.Dv, lane);
#pragma unroll
  for (int u = 0; u < kMaxPer; ++u) ak[u] = av[u] = 0.f;
  for (int64_t i = j; i < d.T; ++i) {
    const float* qi = q + row(d, b, i, h) * d.D;
    const float* gi = dO + row(d, b, i, h) * d.Dv;
    const float p = expf(scale * dot_row(kr, qi, d.D, lane) - lse[bh * d.T + i]);
    const float ds = p * (dot_row(vr, gi, d.Dv, lane) - delta[bh * d.T + i]);
#pragma unroll
    for (int u = 0; u < kMaxPer; ++u) {
      if (lane + 32 * u < d.Dv) av[u] = fmaf(p, gi[lane + 32 * u], av[u]);
      if (lane + 32 * u < d.D) ak[u] = fmaf(ds, qi[lane + 32 * u], ak[u]);
    }
  }
  float* ok = dk + row(d, b, j, h) * d.D;
  float* ov = dv + row(d, b, j, h) * d.Dv;
#pragma unroll
  for (int u = 0; u < kMaxPer; ++u) {
    if (lane + 32 * u < d.D) ok[lane + 32 * u] = scale * ak[u];
    if (lane + 32 * u < d.Dv) ov[lane + 32 * u] = av[u];
  }
}

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
