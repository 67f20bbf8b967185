// The kernels of reduce.cu, in a header of their own so that test/cuda-emu/ can compile them for the CPU with
// real threads per block and check them (values and barriers) without a GPU. Included inside
// `namespace reclin { namespace {`.
#pragma once
#include "acc.cuh"

constexpr int kT = 256;  // threads per block (a power of two: the tree reductions rely on it)
constexpr int kMaxDims = 12;
template <class T>
__device__ T block_sum(T v, T* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  const T r = sh[0];
  __syncthreads();
  return r;
}

__device__ float block_max(float v, float* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  const float r = sh[0];
  __syncthreads();
  return r;
}


struct Groups {
  int nk, nr;
  int64_t ks[kMaxDims], kst[kMaxDims];  // kept sizes and strides (outer to inner)
  int64_t rs[kMaxDims], rst[kMaxDims];  // reduced sizes and strides
  int64_t n_out, n_red;
};

__device__ __forceinline__ int64_t offset_of(int64_t i, int n, const int64_t* size, const int64_t* stride) {
  int64_t off = 0;
  for (int d = n - 1; d >= 0; --d) {
    off += (i % size[d]) * stride[d];
    i /= size[d];
  }
  return off;
}

// One block per output element: threads stride over the reduced elements, then a fixed-order tree sum.
__global__ void reduce_kernel(const float* x, float* out, Groups g, float scale) {
  __shared__ float sh[kT];
  for (int64_t o = blockIdx.x; o < g.n_out; o += gridDim.x) {
    const int64_t base = offset_of(o, g.nk, g.ks, g.kst);
    Acc acc;
    for (int64_t r = threadIdx.x; r < g.n_red; r += blockDim.x) acc.add(x[base + offset_of(r, g.nr, g.rs, g.rst)]);
    const float s = block_sum(acc.value(), sh);
    if (threadIdx.x == 0) out[o] = s * scale;
  }
}

// Reductions whose outputs are contiguous in x (the innermost kept dimension has stride 1, e.g. a bias gradient
// [N,D] -> [D] in sumToShape): one thread per output, block row y = one segment of the reduced range, so
// neighbouring threads read neighbouring addresses and segments run in parallel; reduce_cols_final adds each
// output's segment partials in order (the same result run to run).
__global__ void reduce_cols_partial(const float* x, float* part, Groups g, int64_t chunk) {
  const int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (o >= g.n_out) return;
  const int64_t base = offset_of(o, g.nk, g.ks, g.kst), r0 = blockIdx.y * chunk, r1 = min(g.n_red, r0 + chunk);
  Acc acc;
  for (int64_t r = r0; r < r1; ++r) acc.add(x[base + offset_of(r, g.nr, g.rs, g.rst)]);
  part[blockIdx.y * g.n_out + o] = acc.value();
}

__global__ void reduce_cols_final(const float* part, float* out, int64_t n_out, int64_t nchunks, float scale) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < n_out; o += (int64_t)gridDim.x * blockDim.x) {
    Acc acc;
    for (int64_t c = 0; c < nchunks; ++c) acc.add(part[c * n_out + o]);
    out[o] = acc.value() * scale;
  }
}

// Segments for reduce_cols_partial: enough threads to fill a GPU (~64k) without segments shorter than 16 elements.
__host__ __device__ inline int64_t cols_chunk(int64_t n_out, int64_t n_red) {
  int64_t want = (65536 + n_out - 1) / n_out;
  const int64_t most = (n_red + 15) / 16;
  if (want > most) want = most;
  if (want > 1024) want = 1024;
  if (want < 1) want = 1;
  return (n_red + want - 1) / want;
}

constexpr int kSqBlocks = 256;
__global__ void sumsq_partial(const float* x, int64_t n, float* part) {
  __shared__ float sh[kT];
  Acc acc;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    acc.add(x[i] * x[i]);
  const float s = block_sum(acc.value(), sh);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void sum_in_order(const float* part, int64_t n, float* out) {
  __shared__ float sh[kT];
  Acc acc;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc.add(part[i]);
  const float s = block_sum(acc.value(), sh);
  if (threadIdx.x == 0) *out = s;
}

__global__ void sqrt_scalar_kernel(const float* ss, float* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0) out[0] = sqrtf(ss[0]);
}

// g *= maxNorm / (norm + 1e-6) when norm > maxNorm (else unchanged), norm read from device memory.
__global__ void clip_scale_kernel(float* g, int64_t n, const float* norm, float max_norm) {
  const float nv = norm[0];
  if (!(nv > max_norm)) return;
  const float f = max_norm / (nv + 1e-6f);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) g[i] *= f;
}

__global__ void softmax_kernel(const float* x, float* y, int64_t R, int64_t D) {
  __shared__ float shf[kT];
  __shared__ float shs[kT];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* a = x + r * D;
    float* o = y + r * D;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) m = fmaxf(m, a[j]);
    m = block_max(m, shf);
    Acc acc;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) acc.add(expf(a[j] - m));
    const float s = block_sum(acc.value(), shs);
    const float inv = 1.f / s;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) o[j] = expf(a[j] - m) * inv;
  }
}

// First index of the maximum (ties go to the smaller index, as the CPU loop).
__global__ void argmax_kernel(const float* x, int32_t* y, int64_t R, int64_t D) {
  __shared__ float sv[kT];
  __shared__ int64_t si[kT];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* a = x + r * D;
    float bv = -INFINITY;
    int64_t bi = -1;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x)
      if (bi < 0 || a[j] > bv) bv = a[j], bi = j;
    sv[threadIdx.x] = bv;
    si[threadIdx.x] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) {
        const float v2 = sv[threadIdx.x + s];
        const int64_t i2 = si[threadIdx.x + s];
        const int64_t i1 = si[threadIdx.x];
        if (i2 >= 0 && (i1 < 0 || v2 > sv[threadIdx.x] || (v2 == sv[threadIdx.x] && i2 < i1))) {
          sv[threadIdx.x] = v2;
          si[threadIdx.x] = i2;
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) y[r] = static_cast<int32_t>(si[0] < 0 ? 0 : si[0]);
    __syncthreads();
  }
}

// mode 0: rmsnorm (rs = 1/sqrt(mean x² + eps), y = x·rs·w), 1: l2norm (rs = 1/sqrt(sum x² + eps), y = x·rs)
__global__ void norm_kernel(const float* x, const float* w, float* y, float* rs_out, int64_t R, int64_t D, double eps,
                            int mode) {
  __shared__ float sh[kT];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* a = x + r * D;
    Acc acc;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) acc.add(a[j] * a[j]);
    const float ss = block_sum(acc.value(), sh);
    const float rs = 1.f / sqrtf(mode == 0 ? ss / static_cast<float>(D) + static_cast<float>(eps) : ss + static_cast<float>(eps));
    if (threadIdx.x == 0) rs_out[r] = rs;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) y[r * D + j] = w ? a[j] * rs * w[j] : a[j] * rs;
  }
}

// rmsnorm: dx = rs·(g − x·rs²·mean(g·x)), g = dy·w.   l2norm (t = y): dx = rs·(dy − y·sum(dy·y)).
__global__ void norm_bwd_kernel(const float* dy, const float* t, const float* w, const float* rs_in, float* dx, int64_t R,
                                int64_t D, int mode) {
  __shared__ float sh[kT];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* g = dy + r * D;
    const float* a = t + r * D;
    Acc acc;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) acc.add(w ? g[j] * w[j] * a[j] : g[j] * a[j]);
    const float dot = block_sum(acc.value(), sh);
    const float rs = rs_in[r];
    if (mode == 0) {
      const float c = dot / static_cast<float>(D) * rs * rs;
      for (int64_t j = threadIdx.x; j < D; j += blockDim.x) dx[r * D + j] = rs * ((w ? g[j] * w[j] : g[j]) - a[j] * c);
    } else {
      const float d = static_cast<float>(dot);
      for (int64_t j = threadIdx.x; j < D; j += blockDim.x) dx[r * D + j] = rs * (g[j] - a[j] * d);
    }
  }
}

constexpr int64_t kWChunks = 32;  // row chunks of the weight gradient (fixed, combined in order)
__global__ void rms_dw_partial(const float* dy, const float* x, const float* rs, float* part, int64_t R, int64_t D,
                               int64_t chunk) {
  const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, c = blockIdx.y;
  if (j >= D) return;
  Acc acc;
  for (int64_t r = c * chunk; r < min(R, (c + 1) * chunk); ++r) acc.add(dy[r * D + j] * x[r * D + j] * rs[r]);
  part[c * D + j] = acc.value();
}

__global__ void rms_dw_final(const float* part, float* dw, int64_t D, int64_t nchunks) {
  const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (j >= D) return;
  Acc acc;
  for (int64_t c = 0; c < nchunks; ++c) acc.add(part[c * D + j]);
  dw[j] = acc.value();
}

// Flags every row whose target is neither ignore nor in [0, V) (device_check.cuh: the first is reported).
__global__ void bad_target_kernel(const int32_t* t, int64_t N, int64_t V, int64_t ignore, unsigned long long* first) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N; i += (int64_t)gridDim.x * blockDim.x)
    if (t[i] != ignore && (t[i] < 0 || t[i] >= V)) atomicMin(first, static_cast<unsigned long long>(i));
}

__global__ void ce_kernel(const float* x, const int32_t* t, float* loss, float* lse, int64_t N, int64_t V, int64_t ignore) {
  __shared__ float shf[kT];
  __shared__ float shs[kT];
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const float* a = x + n * V;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, a[j]);
    m = block_max(m, shf);
    Acc acc;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) acc.add(expf(a[j] - m));
    const float s = block_sum(acc.value(), shs);
    if (threadIdx.x == 0) {
      const float l = m + logf(s);
      lse[n] = l;
      const int64_t tn = t[n];  // a bad target (reported by the device check) gives NaN, not a read out of bounds
      loss[n] = tn == ignore ? 0.f : tn >= 0 && tn < V ? l - a[tn] : NAN;
    }
  }
}

__global__ void ce_bwd_kernel(const float* g, const float* x, const int32_t* t, const float* lse, float* dx, int64_t N,
                              int64_t V, int64_t ignore) {
  const int64_t total = N * V;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t n = i / V, j = i % V;
    if (t[n] == ignore) {
      dx[i] = 0.f;
      continue;
    }
    const float p = g[n] * expf(x[i] - lse[n]);
    dx[i] = j == t[n] ? p - g[n] : p;
  }
}
