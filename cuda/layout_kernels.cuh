// The kernels of layout.cu, in a header of their own so that test/cuda-emu/ can compile them for the CPU with
// real threads per block and check them without a GPU. Included inside `namespace reclin { namespace {`.
#pragma once
#include "acc.cuh"

// Flags every id outside [0, V) (device_check.cuh: the first is reported).
__global__ void bad_id_kernel(const int32_t* ids, int64_t n, int64_t V, unsigned long long* first) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    if (ids[i] < 0 || ids[i] >= V) atomicMin(first, static_cast<unsigned long long>(i));
}

// A bad id (reported by the device check) gives a zero row instead of a read out of bounds.
__global__ void embedding_kernel(const float* w, const int32_t* ids, float* out, int64_t n, int64_t D, int64_t V) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * D; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t id = ids[i / D];
    out[i] = id >= 0 && id < V ? w[id * D + i % D] : 0.f;
  }
}

__global__ void iota_kernel(int32_t* p, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    p[i] = static_cast<int32_t>(i);
}

// Embedding backward as a segmented sum over the tokens sorted by id (a stable sort, so each id's positions stay
// in token order): block x.y = sorted index i; if i starts a run of equal ids, its threads own that row of dw
// (columns strided by blockDim) and add the run's gradient rows in order, compensated fp32. Every row has one
// owner, so there are no atomics and the result is the same run to run; parallel over distinct ids × columns.
// Bad ids (reported by the device check) are skipped.
__global__ void embedding_bwd_segments(const float* g, const int32_t* sorted_ids, const int32_t* sorted_pos, float* dw,
                                       int64_t n, int64_t D, int64_t V) {
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const int32_t id = sorted_ids[i];
    if ((i > 0 && sorted_ids[i - 1] == id) || id < 0 || id >= V) continue;
    int64_t e = i + 1;
    while (e < n && sorted_ids[e] == id) ++e;
    for (int64_t j = blockIdx.y * (int64_t)blockDim.x + threadIdx.x; j < D; j += (int64_t)gridDim.y * blockDim.x) {
      Acc acc;
      for (int64_t k = i; k < e; ++k) acc.add(g[static_cast<int64_t>(sorted_pos[k]) * D + j]);
      dw[static_cast<int64_t>(id) * D + j] = acc.value();
    }
  }
}

// y[b,t,c] = Σ_j w[c,j]·x[b,t−W+1+j,c]
__global__ void conv_kernel(const float* x, const float* w, float* y, int64_t B, int64_t T, int64_t C, int64_t W) {
  const int64_t n = B * T * C;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = i % C, bt = i / C, t = bt % T, b = bt / T;
    float s = 0.f;
    for (int64_t j = max(static_cast<int64_t>(0), W - 1 - t); j < W; ++j) s += w[c * W + j] * x[(b * T + t - W + 1 + j) * C + c];
    y[i] = s;
  }
}

// dx[b,s,c] = Σ_j w[c,j]·dy[b,s+W−1−j,c]
__global__ void conv_dx_kernel(const float* dy, const float* w, float* dx, int64_t B, int64_t T, int64_t C, int64_t W) {
  const int64_t n = B * T * C;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = i % C, bs = i / C, s = bs % T, b = bs / T;
    float acc = 0.f;
    for (int64_t j = 0; j < W; ++j) {
      const int64_t t = s + W - 1 - j;
      if (t < T) acc += w[c * W + j] * dy[(b * T + t) * C + c];
    }
    dx[i] = acc;
  }
}

// dw[c,j] = Σ_{b,t} dy[b,t,c]·x[b,t−W+1+j,c] as a segmented sum: block row y takes rows [y·chunk, (y+1)·chunk)
// of the B·T rows, one thread per (c, j), compensated fp32; conv_dw_final adds the partials in order
// (deterministic, and parallel over rows as well as over C·W).
__global__ void conv_dw_partial(const float* dy, const float* x, float* part, int64_t B, int64_t T, int64_t C, int64_t W,
                                int64_t chunk) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= C * W) return;
  const int64_t c = i / W, j = i % W, r0 = blockIdx.y * chunk, r1 = min(B * T, r0 + chunk);
  Acc acc;
  for (int64_t r = r0; r < r1; ++r)
    if (r % T >= W - 1 - j) acc.add(dy[r * C + c] * x[(r - (W - 1 - j)) * C + c]);
  part[blockIdx.y * C * W + i] = acc.value();
}

__global__ void conv_dw_final(const float* part, float* dw, int64_t CW, int64_t nchunks) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= CW) return;
  Acc acc;
  for (int64_t k = 0; k < nchunks; ++k) acc.add(part[k * CW + i]);
  dw[i] = acc.value();
}

constexpr int kMaxDims = 12;
struct Perm {
  int nd;
  int64_t oshape[kMaxDims], istride[kMaxDims];
};

template <class E>
__global__ void transpose_kernel(const E* src, E* dst, int64_t n, Perm p) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rem = i, off = 0;
    for (int d = p.nd - 1; d >= 0; --d) {
      off += (rem % p.oshape[d]) * p.istride[d];
      rem /= p.oshape[d];
    }
    dst[i] = src[off];
  }
}
