// The attention kernels of attention.cu, in a header of their own so that test/cuda-emu/ can compile them for the
// CPU with real threads (warp shuffles emulated across the 32 threads of each warp) and check them without a GPU.
// Included inside `namespace reclin { namespace {`.
#pragma once

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
