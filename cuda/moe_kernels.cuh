// The mixture-of-experts kernels of moe.cu, in a header of their own so that test/cuda-emu/ can compile them for the
// CPU with real threads per block. Same layouts and formulas as native/moe.cc (the CPU op is the reference):
//   route: one thread per token (E and k are small): scores, grouped top-k by repeated "best among those worse
//     than the previous pick" scans (the ordering is strict, ties to the lower index, NaN ranks as -inf), weights;
//   the expert-major order of the N·k assignments: a stable counting sort in three kernels (counts per chunk of
//     assignments, one exclusive scan in expert-major order, placement), no atomics, so it is deterministic;
//   gather, SwiGLU rows, and the weighted sums back per token (one owner thread per output element, slots in order).
// Included inside `namespace reclin { namespace {` after acc.cuh.
#pragma once

__device__ __forceinline__ float moe_sigmoid(float x) {
  if (x >= 0.f) return 1.f / (1.f + expf(-x));
  const float e = expf(x);
  return e / (1.f + e);
}
__device__ __forceinline__ float moe_key(float v) { return v != v ? -INFINITY : v; }
// (ka, a) ranks before (kb, b): the strict order of the CPU op's top_k.
__device__ __forceinline__ bool moe_better(float ka, int a, float kb, int b) { return ka > kb || (ka == kb && a < b); }

// A group's score: the sum of its two best choices (scores + bias).
__device__ __forceinline__ float moe_group_score(const float* s, const float* bias, int e0, int gs) {
  float b1 = -INFINITY, b2 = -INFINITY;
  for (int e = e0; e < e0 + gs; ++e) {
    const float c = moe_key(s[e] + (bias ? bias[e] : 0.f));
    if (c > b1) b2 = b1, b1 = c;
    else if (c > b2) b2 = c;
  }
  return b1 + b2;
}

__global__ void moe_route_kernel(const float* logits, const float* bias, float* scores, float* weights, int32_t* indices,
                                 int64_t N, int E, int k, int G, int topk_group, int renormalize, float scale, int softmax) {
  const int gs = E / G;
  for (int64_t n = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; n < N; n += (int64_t)gridDim.x * blockDim.x) {
    const float* l = logits + n * E;
    float* s = scores + n * E;
    if (softmax) {
      float mx = -INFINITY;
      for (int e = 0; e < E; ++e) mx = l[e] > mx ? l[e] : mx;
      Acc sum;
      for (int e = 0; e < E; ++e) {
        s[e] = expf(l[e] - mx);
        sum.add(s[e]);
      }
      const float inv = 1.f / sum.value();
      for (int e = 0; e < E; ++e) s[e] *= inv;
    } else {
      for (int e = 0; e < E; ++e) s[e] = moe_sigmoid(l[e]);
    }
    // The topk_group-th best group (tk, ti): a group may be chosen from when it ranks no worse.
    float tk = INFINITY;
    int ti = -1;
    const bool grouped = topk_group < G;
    if (grouped)
      for (int t = 0; t < topk_group; ++t) {
        float bk = -INFINITY;
        int bi = -1;
        for (int g = 0; g < G; ++g) {
          const float key = moe_group_score(s, bias, g * gs, gs);
          if (ti >= 0 && !moe_better(tk, ti, key, g)) continue;  // only groups after the previous pick
          if (bi < 0 || moe_better(key, g, bk, bi)) bk = key, bi = g;
        }
        tk = bk, ti = bi;
      }
    int32_t* idx = indices + n * k;
    float pk = INFINITY;
    int pi = -1;
    for (int j = 0; j < k; ++j) {
      float bk = -INFINITY;
      int bi = -1;
      for (int g = 0; g < G; ++g) {
        if (grouped) {
          const float key = moe_group_score(s, bias, g * gs, gs);
          if (g != ti && !moe_better(key, g, tk, ti)) continue;
        }
        for (int e = g * gs; e < (g + 1) * gs; ++e) {
          const float key = moe_key(s[e] + (bias ? bias[e] : 0.f));
          if (pi >= 0 && !moe_better(pk, pi, key, e)) continue;  // only experts after the previous pick
          if (bi < 0 || moe_better(key, e, bk, bi)) bk = key, bi = e;
        }
      }
      idx[j] = bi;
      pk = bk, pi = bi;
    }
    float* w = weights + n * k;
    float sum = 0.f;
    for (int j = 0; j < k; ++j) {
      w[j] = s[idx[j]];
      sum += w[j];
    }
    const float denom = renormalize ? sum + 1e-20f : 1.f;
    for (int j = 0; j < k; ++j) w[j] = w[j] / denom * scale;
  }
}

// dLogits from dWeights: one thread per token; the row of dl first holds dL/dscores (slots added in order).
__global__ void moe_route_bwd_kernel(const float* dw, const float* scores, const int32_t* indices, float* dl, int64_t N,
                                     int E, int k, int renormalize, float scale, int softmax) {
  for (int64_t n = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; n < N; n += (int64_t)gridDim.x * blockDim.x) {
    const float* s = scores + n * E;
    const float* g = dw + n * k;
    const int32_t* idx = indices + n * k;
    float* d = dl + n * E;
    Acc sum, gsum;
    for (int j = 0; j < k; ++j) {
      const int e = idx[j];
      if (e < 0 || e >= E) continue;  // reported by the index check; stay in bounds
      sum.add(s[e]);
      gsum.add(g[j] * s[e]);
    }
    const float D = renormalize ? sum.value() + 1e-20f : 1.f;
    const float sub = renormalize ? gsum.value() / D : 0.f;
    for (int e = 0; e < E; ++e) d[e] = 0.f;
    for (int j = 0; j < k; ++j) {
      const int e = idx[j];
      if (e >= 0 && e < E) d[e] += scale * (g[j] - sub) / D;
    }
    if (softmax) {  // d = s ⊙ (ds − Σ ds⊙s)
      Acc dot;
      for (int e = 0; e < E; ++e) dot.add(d[e] * s[e]);
      const float dt = dot.value();
      for (int e = 0; e < E; ++e) d[e] = s[e] * (d[e] - dt);
    } else {
      for (int e = 0; e < E; ++e) d[e] = d[e] * s[e] * (1.f - s[e]);
    }
  }
}

__global__ void moe_bad_index_kernel(const int32_t* idx, int64_t n, int E, unsigned long long* first) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    if (idx[i] < 0 || idx[i] >= E) atomicMin(first, static_cast<unsigned long long>(i));
}

// An index out of range (reported by the check before the op returns) counts as expert 0, so every row is placed.
__device__ __forceinline__ int moe_expert(const int32_t* idx, int64_t a, int E) {
  const int e = idx[a];
  return e >= 0 && e < E ? e : 0;
}

// Counting sort, step 1: cnt[e·C + c] = assignments of chunk c (assignments c·chunk .. c·chunk+chunk-1) on expert e.
// One thread per chunk; it owns column c of cnt.
__global__ void moe_count_kernel(const int32_t* idx, int64_t A, int E, int64_t C, int64_t chunk, int32_t* cnt) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    for (int e = 0; e < E; ++e) cnt[e * C + c] = 0;
    const int64_t a1 = (c + 1) * chunk < A ? (c + 1) * chunk : A;
    for (int64_t a = c * chunk; a < a1; ++a) ++cnt[moe_expert(idx, a, E) * C + c];
  }
}

// Step 2, one block: cnt becomes its exclusive prefix sum in expert-major order (the first row of chunk c on
// expert e), and offsets[e] = the first row of expert e, offsets[E] = A. Each thread scans a contiguous segment;
// thread 0 scans the segment totals in shared memory.
constexpr int kMoeScanThreads = 1024;
__global__ void __launch_bounds__(kMoeScanThreads) moe_scan_kernel(int32_t* cnt, int64_t L, int32_t* offsets, int E,
                                                                   int64_t C, int64_t A) {
  __shared__ int32_t part[kMoeScanThreads];
  const int64_t per = (L + blockDim.x - 1) / blockDim.x;
  const int64_t i0 = threadIdx.x * per < L ? threadIdx.x * per : L, i1 = i0 + per < L ? i0 + per : L;
  int32_t total = 0;
  for (int64_t i = i0; i < i1; ++i) total += cnt[i];
  part[threadIdx.x] = total;
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t run = 0;
    for (unsigned t = 0; t < blockDim.x; ++t) {
      const int32_t v = part[t];
      part[t] = run;
      run += v;
    }
  }
  __syncthreads();
  int32_t run = part[threadIdx.x];
  for (int64_t i = i0; i < i1; ++i) {
    const int32_t v = cnt[i];
    cnt[i] = run;
    run += v;
  }
  __syncthreads();
  // (any thread may write any offset; walking them from the end keeps the barrier above tested in the emulation)
  for (int e = E - static_cast<int>(threadIdx.x); e >= 0; e -= blockDim.x) offsets[e] = e < E ? cnt[e * C] : static_cast<int32_t>(A);
}

// Step 3: each chunk's thread places its assignments in order, so rows follow token order within an expert.
// order[r] = the assignment (n·k + j) at row r, pos[a] = the row of assignment a.
__global__ void moe_place_kernel(const int32_t* idx, int64_t A, int E, int64_t C, int64_t chunk, int32_t* cnt,
                                 int32_t* order, int32_t* pos) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    const int64_t a1 = (c + 1) * chunk < A ? (c + 1) * chunk : A;
    for (int64_t a = c * chunk; a < a1; ++a) {
      const int32_t r = cnt[moe_expert(idx, a, E) * C + c]++;
      order[r] = static_cast<int32_t>(a);
      pos[a] = r;
    }
  }
}

// xs[r] = x[token of row r]
__global__ void moe_gather_kernel(const float* x, const int32_t* order, float* xs, int64_t A, int64_t d, int64_t k) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < A * d; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / d, c = i % d;
    xs[i] = x[(order[r] / k) * d + c];
  }
}

// act[r, i] = silu(h[r, i]) · h[r, I + i]
__global__ void moe_swiglu_kernel(const float* h, float* act, int64_t A, int64_t I) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < A * I; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / I, c = i % I;
    const float g = h[r * 2 * I + c];
    act[i] = g * moe_sigmoid(g) * h[r * 2 * I + I + c];
  }
}

// dh = d(swiglu)(da) at h
__global__ void moe_swiglu_bwd_kernel(const float* da, const float* h, float* dh, int64_t A, int64_t I) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < A * I; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / I, c = i % I;
    const float g = h[r * 2 * I + c], u = h[r * 2 * I + I + c], s = moe_sigmoid(g);
    dh[r * 2 * I + c] = da[i] * u * s * (1.f + g * (1.f - s));
    dh[r * 2 * I + I + c] = da[i] * g * s;
  }
}

// out[n, i] = Σ_j (w ? w[n·k + j] : 1) · rows[pos[n·k + j], i], slots in order: one owner per output element.
__global__ void moe_combine_kernel(const float* rows, const int32_t* pos, const float* w, float* out, int64_t N, int64_t d,
                                   int64_t k) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N * d; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t n = i / d, c = i % d;
    float acc = 0.f;
    for (int64_t j = 0; j < k; ++j) {
      const float v = rows[static_cast<int64_t>(pos[n * k + j]) * d + c];
      acc += w ? w[n * k + j] * v : v;
    }
    out[i] = acc;
  }
}

// dye[r] = w[a] · dy[token of a], a = order[r]
__global__ void moe_dye_kernel(const float* dy, const float* w, const int32_t* order, float* dye, int64_t A, int64_t d,
                               int64_t k) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < A * d; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / d, c = i % d, a = order[r];
    dye[i] = w[a] * dy[(a / k) * d + c];
  }
}

// dWeights[a] = dy[token of a] · ye[row of a]: one thread per assignment, compensated.
__global__ void moe_dweights_kernel(const float* dy, const float* ye, const int32_t* pos, float* dw, int64_t A, int64_t d,
                                    int64_t k) {
  for (int64_t a = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; a < A; a += (int64_t)gridDim.x * blockDim.x) {
    const float* g = dy + (a / k) * d;
    const float* y = ye + static_cast<int64_t>(pos[a]) * d;
    Acc s;
    for (int64_t c = 0; c < d; ++c) s.add(g[c] * y[c]);
    dw[a] = s.value();
  }
}
