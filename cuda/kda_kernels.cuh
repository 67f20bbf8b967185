// The KDA kernels of kda.cu (see there for the algorithm), in a header of their own so that test/cuda-emu/ can
// compile them for the CPU with real threads per block and check values and barriers without a GPU. Every kernel
// is phases of `for (idx = threadIdx.x; idx < n; idx += blockDim.x)` loops separated by __syncthreads(), so any
// block size works.
// Included inside `namespace reclin { namespace {`.
#pragma once
#include "acc.cuh"
#include "bf16.cuh"

constexpr int kThreads = 256;
constexpr int kVT = 32;      // state columns per block in the state passes
constexpr int kMaxDim = 256;  // largest K (and V) the state passes hold in shared memory
constexpr int kMaxC = 64;

struct Dims {
  int B, T, H, K, V, C, NT;
  float scale;
};

// q, k, v, beta, dO (inputs) and o, dq, dk, dv, dbeta (outputs) are stored as f32 or bf16 (bf16.cuh); g, the
// states, the scratch and all arithmetic are f32.
__device__ __forceinline__ float ld(const void* p, long i, bool bf) {
  return bf ? bf16_to_f32(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}
__device__ __forceinline__ void st(void* p, long i, float v, bool bf) {
  if (bf) static_cast<uint16_t*>(p)[i] = f32_to_bf16(v);
  else static_cast<float*>(p)[i] = v;
}

// Γ, the cumulative log decay inside a chunk, kept as an unevaluated fp32 pair hi + lo (double-float; fp64 runs at
// 1/64 rate on most GPUs). Each step adds g with an exact two-sum, so Γ carries about 48 bits; a difference
// Γ_r − Γ_i (what every decay factor needs, docs/design/kda.md §3.1) is then accurate to about one fp32 rounding
// of the difference itself, however large Γ grows — a plain fp32 running sum would lose |Γ|·2⁻²⁴ in it (at
// Γ ≈ −600, 4e-5 in each factor). Only additions: contraction into FMA cannot change them.
struct Gam {
  float hi, lo;
};
__device__ __forceinline__ Gam gam_add(Gam a, float x) {
  const float s = a.hi + x, bp = s - a.hi;
  const float err = (a.hi - (s - bp)) + (x - bp);  // exact: a.hi + x = s + err
  const float lo = a.lo + err, hi = s + lo;
  return {hi, lo - (hi - s)};
}
// Γ_a − Γ_b rounded to fp32.
__device__ __forceinline__ float gam_sub(Gam a, Gam b) {
  const float d = a.hi - b.hi, bp = d - a.hi;
  const float err = (a.hi - (d - bp)) + (-b.hi - bp);  // exact: a.hi − b.hi = d + err
  return d + (err + (a.lo - b.lo));
}
__device__ __forceinline__ float gam_val(Gam a) { return a.hi + a.lo; }
// e^(Γ_a − Γ_b) and e^Γ_a: the exponent rounded to fp32, then exponentiated in fp32 (as the CPU kernels).
__device__ __forceinline__ float gexp(Gam a, Gam b) { return expf(gam_sub(a, b)); }
__device__ __forceinline__ float gexp(Gam a) { return expf(gam_val(a)); }

struct Inputs {
  const void *q, *k, *v, *beta, *dO;  // bq: q and k are bf16; bv: v and dO; bb: beta
  const float* g;
  bool bq, bv, bb;
};

// Per-chunk scratch in global memory; chunk id ch = (b*H + h)*NT + c.
struct Scratch {
  Gam* G;     // [C][K] Γ: cumulative log decay inside the chunk (a compensated fp32 pair, see Gam)
  float* Qg;  // [C][K] s·q⊙γ
  float* Kb;  // [C][K] K̄ = k⊙γ_C/γ
  float* A;   // [C][C] s·Σ_d q_r k_i E_ri, r >= i (else 0)
  float* L;   // [C][C] β_r·Σ_d k_r k_i E_ri, r > i (else 0)
  float* X;   // [C][K+V] [W U]
  float* Vt;  // [C][V] Ṽ
  float* S0;  // [K][V] state entering the chunk
  // backward only
  float* dA;   // [C][C] tril(dO·Ṽᵀ) (unscaled)
  float* dVt;  // [C][V] dṼ
  float* dS1;  // [K][V] gradient w.r.t. the chunk-end state
  float* Y;    // [C][K+V] (I+L)⁻ᵀ[dW dU]
  float* dL;   // [C][C]
  float* dGm;  // [C][K] dΓ
  float* pb;   // [C][K] per-(r,d) terms of dβ_r
  float* pk;   // [C][K] k ⊙ dK^inter (summed into the last row of dΓ)
};

struct Chunk {
  long ch;
  int b, h, c, t0, n;
};

__device__ __forceinline__ Chunk chunk_at(const Dims& D, long ch) {
  Chunk p;
  p.ch = ch;
  p.c = static_cast<int>(ch % D.NT);
  const int bh = static_cast<int>(ch / D.NT);
  p.b = bh / D.H;
  p.h = bh % D.H;
  p.t0 = p.c * D.C;
  p.n = min(D.C, D.T - p.t0);
  return p;
}

// Index of (b, t0 + r, h) in the [B,T,H] row space.
__device__ __forceinline__ long row_of(const Dims& D, const Chunk& p, int r) {
  return (static_cast<long>(p.b) * D.T + p.t0 + r) * D.H + p.h;
}

// ---- forward ----------------------------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads) kda_intra(Dims D, Inputs in, Scratch s) {
  const Chunk p = chunk_at(D, blockIdx.x);
  const int C = D.C, K = D.K, V = D.V, KV = K + V;
  Gam* G = s.G + p.ch * C * K;
  float* Qg = s.Qg + p.ch * C * K;
  float* Kb = s.Kb + p.ch * C * K;
  float* A = s.A + p.ch * C * C;
  float* L = s.L + p.ch * C * C;
  float* X = s.X + p.ch * C * KV;

  // Γ (compensated running sum); padded rows add g = 0 and keep the last valid value.
  for (int d = threadIdx.x; d < K; d += blockDim.x) {
    Gam acc{0.f, 0.f};
    for (int r = 0; r < C; ++r) {
      // exp(-1000) is 0 in float: the clamp changes no result but keeps a full reset (g = -inf) from turning
      // differences of cumulative gates into NaN (as the CPU kernels do)
      if (r < p.n) acc = gam_add(acc, fmaxf(in.g[row_of(D, p, r) * K + d], -1000.f));
      G[r * K + d] = acc;
    }
  }
  __syncthreads();

  const Gam* GC = G + (C - 1) * K;
  for (int idx = threadIdx.x; idx < C * K; idx += blockDim.x) {
    const int r = idx / K, d = idx % K;
    float q = 0.f, k = 0.f;
    if (r < p.n) {
      const long o = row_of(D, p, r) * K + d;
      q = ld(in.q, o, in.bq);
      k = ld(in.k, o, in.bq);
    }
    const Gam Gr = G[idx];
    Qg[idx] = D.scale * q * gexp(Gr);
    Kb[idx] = k * gexp(GC[d], Gr);
  }
  for (int idx = threadIdx.x; idx < C * C; idx += blockDim.x) {
    const int r = idx / C, i = idx % C;
    float a = 0.f, l = 0.f;
    if (i <= r && r < p.n) {
      const long rr = row_of(D, p, r) * K, ri = row_of(D, p, i) * K;
      const Gam* Gr = G + r * K;
      const Gam* Gi = G + i * K;
      for (int d = 0; d < K; ++d) {
        const float e = gexp(Gr[d], Gi[d]);  // r >= i: exponent <= 0
        const float t = ld(in.k, ri + d, in.bq) * e;
        a = fmaf(ld(in.q, rr + d, in.bq), t, a);
        l = fmaf(ld(in.k, rr + d, in.bq), t, l);
      }
      a *= D.scale;
      l = i < r ? ld(in.beta, row_of(D, p, r), in.bb) * l : 0.f;
    }
    A[idx] = a;
    L[idx] = l;
  }
  __syncthreads();

  // X = (I + L)⁻¹ [β·k⊙γ, β·v]: forward substitution, one column per thread (a thread reads only what it wrote).
  for (int col = threadIdx.x; col < KV; col += blockDim.x) {
    for (int r = 0; r < C; ++r) {
      float x = 0.f;
      if (r < p.n) {
        const long row = row_of(D, p, r);
        const float b = ld(in.beta, row, in.bb);
        x = col < K ? b * ld(in.k, row * K + col, in.bq) * gexp(G[r * K + col]) : b * ld(in.v, row * V + (col - K), in.bv);
      }
      for (int i = 0; i < r; ++i) x = fmaf(-L[r * C + i], X[i * KV + col], x);
      X[r * KV + col] = x;
    }
  }
}

// One block per (V tile, b*H + h). Holds its K x 32 slice of the running state in shared memory.
__global__ void __launch_bounds__(kThreads) kda_state_fwd(Dims D, const float* h0, float* ht, Scratch s) {
  __shared__ float S[kMaxDim * kVT];
  __shared__ float Vs[kMaxC * kVT];
  const int K = D.K, V = D.V, C = D.C, KV = K + V;
  const int v0 = blockIdx.x * kVT, nv = min(kVT, V - v0);
  const long bh = blockIdx.y;
  for (int idx = threadIdx.x; idx < K * kVT; idx += blockDim.x) {
    const int d = idx / kVT, j = idx % kVT;
    S[idx] = (h0 && j < nv) ? h0[(bh * K + d) * V + v0 + j] : 0.f;
  }
  __syncthreads();
  for (int c = 0; c < D.NT; ++c) {
    const long ch = bh * D.NT + c;
    const float* X = s.X + ch * C * KV;
    const float* Kb = s.Kb + ch * C * K;
    const Gam* GC = s.G + ch * C * K + (C - 1) * K;
    float* S0 = s.S0 + ch * K * V;
    float* Vt = s.Vt + ch * C * V;
    for (int idx = threadIdx.x; idx < K * kVT; idx += blockDim.x) {
      const int d = idx / kVT, j = idx % kVT;
      if (j < nv) S0[d * V + v0 + j] = S[idx];
    }
    // Ṽ = U − W·S0
    for (int idx = threadIdx.x; idx < C * kVT; idx += blockDim.x) {
      const int r = idx / kVT, j = idx % kVT;
      float x = 0.f;
      if (j < nv) {
        const float* Xr = X + r * KV;
        x = Xr[K + v0 + j];
        for (int d = 0; d < K; ++d) x = fmaf(-Xr[d], S[d * kVT + j], x);
        Vt[r * V + v0 + j] = x;
      }
      Vs[idx] = x;
    }
    __syncthreads();
    // S ← diag(γ_C)·S + K̄ᵀ·Ṽ (each thread updates only its own entries)
    for (int idx = threadIdx.x; idx < K * kVT; idx += blockDim.x) {
      const int d = idx / kVT, j = idx % kVT;
      float x = gexp(GC[d]) * S[idx];
      for (int r = 0; r < C; ++r) x = fmaf(Kb[r * K + d], Vs[r * kVT + j], x);
      S[idx] = x;
    }
    __syncthreads();
  }
  if (ht)
    for (int idx = threadIdx.x; idx < K * kVT; idx += blockDim.x) {
      const int d = idx / kVT, j = idx % kVT;
      if (j < nv) ht[(bh * K + d) * V + v0 + j] = S[idx];
    }
}

__global__ void __launch_bounds__(kThreads) kda_output(Dims D, Scratch s, void* o, bool o_bf16) {
  const Chunk p = chunk_at(D, blockIdx.x);
  const int C = D.C, K = D.K, V = D.V;
  const float* Qg = s.Qg + p.ch * C * K;
  const float* S0 = s.S0 + p.ch * K * V;
  const float* A = s.A + p.ch * C * C;
  const float* Vt = s.Vt + p.ch * C * V;
  for (int idx = threadIdx.x; idx < p.n * V; idx += blockDim.x) {
    const int r = idx / V, v = idx % V;
    float x = 0.f;
    for (int d = 0; d < K; ++d) x = fmaf(Qg[r * K + d], S0[d * V + v], x);
    for (int i = 0; i <= r; ++i) x = fmaf(A[r * C + i], Vt[i * V + v], x);
    st(o, row_of(D, p, r) * V + v, x, o_bf16);
  }
}

// ---- backward ---------------------------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads) kda_dA(Dims D, Inputs in, Scratch s) {
  const Chunk p = chunk_at(D, blockIdx.x);
  const int C = D.C, V = D.V;
  const float* A = s.A + p.ch * C * C;
  const float* Vt = s.Vt + p.ch * C * V;
  float* dA = s.dA + p.ch * C * C;
  float* dVt = s.dVt + p.ch * C * V;
  for (int idx = threadIdx.x; idx < C * C; idx += blockDim.x) {
    const int r = idx / C, i = idx % C;
    float x = 0.f;
    if (i <= r && r < p.n) {
      const long ro = row_of(D, p, r) * V;
      for (int v = 0; v < V; ++v) x = fmaf(ld(in.dO, ro + v, in.bv), Vt[i * V + v], x);
    }
    dA[idx] = x;
  }
  for (int idx = threadIdx.x; idx < C * V; idx += blockDim.x) {
    const int i = idx / V, v = idx % V;
    float x = 0.f;
    for (int r = i; r < p.n; ++r) x = fmaf(A[r * C + i], ld(in.dO, row_of(D, p, r) * V + v, in.bv), x);
    dVt[idx] = x;
  }
}

__global__ void __launch_bounds__(kThreads) kda_state_bwd(Dims D, Inputs in, const float* dht, float* dh0, Scratch s) {
  __shared__ float dS[kMaxDim * kVT];
  __shared__ float dVs[kMaxC * kVT];
  const int K = D.K, V = D.V, C = D.C, KV = K + V;
  const int v0 = blockIdx.x * kVT, nv = min(kVT, V - v0);
  const long bh = blockIdx.y;
  for (int idx = threadIdx.x; idx < K * kVT; idx += blockDim.x) {
    const int d = idx / kVT, j = idx % kVT;
    dS[idx] = (dht && j < nv) ? dht[(bh * K + d) * V + v0 + j] : 0.f;
  }
  __syncthreads();
  for (int c = D.NT - 1; c >= 0; --c) {
    const long ch = bh * D.NT + c;
    const Chunk p = chunk_at(D, ch);
    const float* X = s.X + ch * C * KV;
    const float* Kb = s.Kb + ch * C * K;
    const float* Qg = s.Qg + ch * C * K;
    const Gam* GC = s.G + ch * C * K + (C - 1) * K;
    float* dS1 = s.dS1 + ch * K * V;
    float* dVt = s.dVt + ch * C * V;
    for (int idx = threadIdx.x; idx < K * kVT; idx += blockDim.x) {
      const int d = idx / kVT, j = idx % kVT;
      if (j < nv) dS1[d * V + v0 + j] = dS[idx];
    }
    // dṼ += K̄·dS1
    for (int idx = threadIdx.x; idx < C * kVT; idx += blockDim.x) {
      const int r = idx / kVT, j = idx % kVT;
      float x = 0.f;
      if (j < nv) {
        x = dVt[r * V + v0 + j];
        for (int d = 0; d < K; ++d) x = fmaf(Kb[r * K + d], dS[d * kVT + j], x);
        dVt[r * V + v0 + j] = x;
      }
      dVs[idx] = x;
    }
    __syncthreads();
    // dS0 = diag(γ_C)·dS1 + Qgᵀ·dO − Wᵀ·dṼ
    for (int idx = threadIdx.x; idx < K * kVT; idx += blockDim.x) {
      const int d = idx / kVT, j = idx % kVT;
      if (j >= nv) continue;
      float x = gexp(GC[d]) * dS[idx];
      for (int r = 0; r < p.n; ++r) x = fmaf(Qg[r * K + d], ld(in.dO, row_of(D, p, r) * V + v0 + j, in.bv), x);
      for (int r = 0; r < C; ++r) x = fmaf(-X[r * KV + d], dVs[r * kVT + j], x);
      dS[idx] = x;
    }
    __syncthreads();
  }
  if (dh0)
    for (int idx = threadIdx.x; idx < K * kVT; idx += blockDim.x) {
      const int d = idx / kVT, j = idx % kVT;
      if (j < nv) dh0[(bh * K + d) * V + v0 + j] = dS[idx];
    }
}

struct Grads {
  void *dq, *dk, *dv, *dbeta;  // stored like q, v and beta (flags as in Inputs)
  float* dg;
};

__global__ void __launch_bounds__(kThreads) kda_bwd_chunk(Dims D, Inputs in, Scratch s, Grads out) {
  const Chunk p = chunk_at(D, blockIdx.x);
  const int C = D.C, K = D.K, V = D.V, KV = K + V;
  const float sc = D.scale;
  const Gam* G = s.G + p.ch * C * K;
  const Gam* GC = G + (C - 1) * K;
  const float* L = s.L + p.ch * C * C;
  const float* X = s.X + p.ch * C * KV;
  const float* Vt = s.Vt + p.ch * C * V;
  const float* S0 = s.S0 + p.ch * K * V;
  const float* dA = s.dA + p.ch * C * C;
  const float* dVt = s.dVt + p.ch * C * V;
  const float* dS1 = s.dS1 + p.ch * K * V;
  float* Y = s.Y + p.ch * C * KV;
  float* dL = s.dL + p.ch * C * C;
  float* dGm = s.dGm + p.ch * C * K;
  float* pb = s.pb + p.ch * C * K;
  float* pk = s.pk + p.ch * C * K;

  // [dW dU] = [−dṼ·S0ᵀ, dṼ]
  for (int idx = threadIdx.x; idx < C * KV; idx += blockDim.x) {
    const int r = idx / KV, col = idx % KV;
    float x;
    if (col < K) {
      x = 0.f;
      for (int v = 0; v < V; ++v) x = fmaf(-dVt[r * V + v], S0[col * V + v], x);
    } else {
      x = dVt[r * V + (col - K)];
    }
    Y[idx] = x;
  }
  __syncthreads();
  // Y = (I + L)⁻ᵀ [dW dU]: back substitution, one column per thread.
  for (int col = threadIdx.x; col < KV; col += blockDim.x) {
    for (int r = C - 1; r >= 0; --r) {
      float y = Y[r * KV + col];
      for (int i = r + 1; i < C; ++i) y = fmaf(-L[i * C + r], Y[i * KV + col], y);
      Y[r * KV + col] = y;
    }
  }
  __syncthreads();
  // dL = −tril_strict(Y·Xᵀ)
  for (int idx = threadIdx.x; idx < C * C; idx += blockDim.x) {
    const int r = idx / C, i = idx % C;
    float x = 0.f;
    if (i < r)
      for (int col = 0; col < KV; ++col) x = fmaf(-Y[r * KV + col], X[i * KV + col], x);
    dL[idx] = x;
  }
  __syncthreads();

  // Per (r, d): inter gradients, the intra A/L backward (row role for r, column role for i = r), dΓ.
  for (int idx = threadIdx.x; idx < C * K; idx += blockDim.x) {
    const int r = idx / K, d = idx % K;
    const bool valid = r < p.n;
    const long row = valid ? row_of(D, p, r) : 0;
    const float q = valid ? ld(in.q, row * K + d, in.bq) : 0.f;
    const float k = valid ? ld(in.k, row * K + d, in.bq) : 0.f;
    const float br = valid ? ld(in.beta, row, in.bb) : 0.f;
    const Gam Gr = G[r * K + d];
    const float gam = gexp(Gr);
    float P1 = 0.f, R = 0.f;
    for (int i = 0; i <= r && i < p.n; ++i) {
      const float t = ld(in.k, row_of(D, p, i) * K + d, in.bq) * gexp(Gr, G[i * K + d]);
      P1 = fmaf(dA[r * C + i], t, P1);
      if (i < r) R = fmaf(dL[r * C + i], t, R);
    }
    P1 *= sc;
    float Cc = 0.f;
    for (int r2 = r; r2 < p.n; ++r2) {
      const long row2 = row_of(D, p, r2);
      const float e = gexp(G[r2 * K + d], Gr);
      float u = sc * dA[r2 * C + r] * ld(in.q, row2 * K + d, in.bq);
      if (r2 > r) u = fmaf(dL[r2 * C + r] * ld(in.beta, row2, in.bb), ld(in.k, row2 * K + d, in.bq), u);
      Cc = fmaf(u, e, Cc);
    }
    float dQi = 0.f, dKb = 0.f;
    if (valid) {
      for (int v = 0; v < V; ++v) dQi = fmaf(ld(in.dO, row * V + v, in.bv), S0[d * V + v], dQi);
    }
    for (int v = 0; v < V; ++v) dKb = fmaf(Vt[r * V + v], dS1[d * V + v], dKb);
    const float dq = fmaf(sc * gam, dQi, P1);
    const float dki = dKb * gexp(GC[d], Gr);
    const float dBk = Y[r * KV + d];
    const float kpart = br * fmaf(gam, dBk, R);
    const float dk = dki + kpart + Cc;
    dGm[idx] = fmaf(q, dq, k * (kpart - (dki + Cc)));
    pb[idx] = fmaf(dBk * k, gam, R * k);
    pk[idx] = k * dki;
    if (valid) {
      st(out.dq, row * K + d, dq, in.bq);
      st(out.dk, row * K + d, dk, in.bq);
    }
  }
  __syncthreads();

  for (int idx = threadIdx.x; idx < p.n * V; idx += blockDim.x) {
    const int r = idx / V, v = idx % V;
    const long row = row_of(D, p, r);
    st(out.dv, row * V + v, ld(in.beta, row, in.bb) * Y[r * KV + K + v], in.bv);
  }
  for (int r = threadIdx.x; r < p.n; r += blockDim.x) {
    const long row = row_of(D, p, r);
    float x = 0.f;
    for (int d = 0; d < K; ++d) x += pb[r * K + d];
    for (int v = 0; v < V; ++v) x = fmaf(Y[r * KV + K + v], ld(in.v, row * V + v, in.bv), x);
    st(out.dbeta, row, x, in.bb);
  }
  // Last row of dΓ gets the chunk-decay terms; dg is the reverse cumulative sum of dΓ inside the chunk.
  for (int d = threadIdx.x; d < K; d += blockDim.x) {
    float cs = 0.f, tk = 0.f;
    for (int v = 0; v < V; ++v) cs = fmaf(S0[d * V + v], dS1[d * V + v], cs);
    for (int r = 0; r < C; ++r) tk += pk[r * K + d];
    Acc acc;  // compensated fp32 (acc.cuh): the reverse cumulative sum runs over up to 64 terms
    acc.add(gexp(GC[d]) * cs);
    acc.add(tk);
    for (int r = C - 1; r >= 0; --r) {
      acc.add(dGm[r * K + d]);
      if (r < p.n) out.dg[row_of(D, p, r) * K + d] = acc.value();
    }
  }
}

// Flags every g that is not <= 0, NaN included (device_check.cuh: the first is reported).
__global__ void kda_find_positive(const float* g, long n, unsigned long long* first) {
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
    if (!(g[i] <= 0.0f)) atomicMin(first, static_cast<unsigned long long>(i));
}

