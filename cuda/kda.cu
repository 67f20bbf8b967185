// KDA (Kimi Delta Attention) on CUDA: chunked forward and backward (KDA_SPEC.md §3, §4.2), the GPU twin of
// native/kda.cc with the same arguments and results:
//   kdaForwardCuda(q, k, v, g, beta, { scale, initialState, chunkSize })          -> { o, finalState }
//   kdaBackwardCuda(q, k, v, g, beta, dO, { scale, initialState, dFinalState, chunkSize })
//                                                 -> { dq, dk, dv, dg, dbeta, dInitialState (null without h0) }
// Layouts: q, k, g [B,T,H,K]; v, o, dO [B,T,H,V]; beta [B,T,H]; states [B,H,K,V]; f32 on one cuda device.
//
// This is the clear SIMT version (no tensor cores yet): every quantity is computed element by element with
// grid-stride loops, in the same order of steps as the CPU code, so each kernel can be read beside its formula.
// Every decay factor is exp(Γ_r − Γ_i) with r >= i, taken directly per entry, so no exponent is ever positive
// (KDA_SPEC §3.1: the diagonal-block rule applied to the whole chunk; the cheaper reference-point
// factorisation into matrix products is the next step together with tensor cores).
//
// Kernels (one block per chunk unless stated):
//   intra      Γ, Qg = s·q⊙γ, K̄ = k⊙γ_C/γ, A, L and X = [W U] = (I+L)⁻¹[β·k⊙γ, β·v] (forward substitution)
//   state_fwd  one block per (b, h, 32-column V tile), sequential over chunks: S0 of every chunk, Ṽ = U − W·S0,
//              S ← diag(γ_C)·S + K̄ᵀ·Ṽ, the final state
//   output     O = Qg·S0 + A·Ṽ
//   dA         dA = tril(dO·Ṽᵀ), dṼ = Aᵀ·dO (intra part)
//   state_bwd  reverse over chunks: dṼ += K̄·dS1, dS0 = diag(γ_C)·dS1 + Qgᵀ·dO − Wᵀ·dṼ
//   bwd_chunk  everything else of §4.2 steps 4–7 for one chunk (inter and intra gradients, WY backward, dg)
// A partial last chunk behaves as if zero padded (q = k = v = β = g = dO = 0 beyond T), as on the CPU.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda_util.cuh"

namespace reclin {
namespace {

constexpr int kThreads = 256;
constexpr int kVT = 32;      // state columns per block in the state passes
constexpr int kMaxDim = 256;  // largest K (and V) the state passes hold in shared memory
constexpr int kMaxC = 64;

struct Dims {
  int B, T, H, K, V, C, NT;
  float scale;
};

struct Inputs {
  const float *q, *k, *v, *g, *beta, *dO;
};

// Per-chunk scratch in global memory; chunk id ch = (b*H + h)*NT + c.
struct Scratch {
  float* G;   // [C][K] Γ: cumulative log decay inside the chunk
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
  float* G = s.G + p.ch * C * K;
  float* Qg = s.Qg + p.ch * C * K;
  float* Kb = s.Kb + p.ch * C * K;
  float* A = s.A + p.ch * C * C;
  float* L = s.L + p.ch * C * C;
  float* X = s.X + p.ch * C * KV;

  // Γ (accumulated in double, as on the CPU); padded rows add g = 0 and keep the last valid value.
  for (int d = threadIdx.x; d < K; d += blockDim.x) {
    double acc = 0.0;
    for (int r = 0; r < C; ++r) {
      if (r < p.n) acc += in.g[row_of(D, p, r) * K + d];
      G[r * K + d] = static_cast<float>(acc);
    }
  }
  __syncthreads();

  const float* GC = G + (C - 1) * K;
  for (int idx = threadIdx.x; idx < C * K; idx += blockDim.x) {
    const int r = idx / K, d = idx % K;
    float q = 0.f, k = 0.f;
    if (r < p.n) {
      const long o = row_of(D, p, r) * K + d;
      q = in.q[o];
      k = in.k[o];
    }
    const float Gr = G[idx];
    Qg[idx] = D.scale * q * expf(Gr);
    Kb[idx] = k * expf(GC[d] - Gr);
  }
  for (int idx = threadIdx.x; idx < C * C; idx += blockDim.x) {
    const int r = idx / C, i = idx % C;
    float a = 0.f, l = 0.f;
    if (i <= r && r < p.n) {
      const float* qr = in.q + row_of(D, p, r) * K;
      const float* kr = in.k + row_of(D, p, r) * K;
      const float* ki = in.k + row_of(D, p, i) * K;
      const float* Gr = G + r * K;
      const float* Gi = G + i * K;
      for (int d = 0; d < K; ++d) {
        const float e = expf(Gr[d] - Gi[d]);  // r >= i: exponent <= 0
        const float t = ki[d] * e;
        a = fmaf(qr[d], t, a);
        l = fmaf(kr[d], t, l);
      }
      a *= D.scale;
      l = i < r ? in.beta[row_of(D, p, r)] * l : 0.f;
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
        const float b = in.beta[row];
        x = col < K ? b * in.k[row * K + col] * expf(G[r * K + col]) : b * in.v[row * V + (col - K)];
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
    const float* GC = s.G + ch * C * K + (C - 1) * K;
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
      float x = expf(GC[d]) * S[idx];
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

__global__ void __launch_bounds__(kThreads) kda_output(Dims D, Scratch s, float* o) {
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
    o[row_of(D, p, r) * V + v] = x;
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
      const float* dOr = in.dO + row_of(D, p, r) * V;
      for (int v = 0; v < V; ++v) x = fmaf(dOr[v], Vt[i * V + v], x);
    }
    dA[idx] = x;
  }
  for (int idx = threadIdx.x; idx < C * V; idx += blockDim.x) {
    const int i = idx / V, v = idx % V;
    float x = 0.f;
    for (int r = i; r < p.n; ++r) x = fmaf(A[r * C + i], in.dO[row_of(D, p, r) * V + v], x);
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
    const float* GC = s.G + ch * C * K + (C - 1) * K;
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
      float x = expf(GC[d]) * dS[idx];
      for (int r = 0; r < p.n; ++r) x = fmaf(Qg[r * K + d], in.dO[row_of(D, p, r) * V + v0 + j], x);
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
  float *dq, *dk, *dv, *dg, *dbeta;
};

__global__ void __launch_bounds__(kThreads) kda_bwd_chunk(Dims D, Inputs in, Scratch s, Grads out) {
  const Chunk p = chunk_at(D, blockIdx.x);
  const int C = D.C, K = D.K, V = D.V, KV = K + V;
  const float sc = D.scale;
  const float* G = s.G + p.ch * C * K;
  const float* GC = G + (C - 1) * K;
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
    const float q = valid ? in.q[row * K + d] : 0.f;
    const float k = valid ? in.k[row * K + d] : 0.f;
    const float br = valid ? in.beta[row] : 0.f;
    const float Gr = G[r * K + d];
    const float gam = expf(Gr);
    float P1 = 0.f, R = 0.f;
    for (int i = 0; i <= r && i < p.n; ++i) {
      const float t = in.k[row_of(D, p, i) * K + d] * expf(Gr - G[i * K + d]);
      P1 = fmaf(dA[r * C + i], t, P1);
      if (i < r) R = fmaf(dL[r * C + i], t, R);
    }
    P1 *= sc;
    float Cc = 0.f;
    for (int r2 = r; r2 < p.n; ++r2) {
      const long row2 = row_of(D, p, r2);
      const float e = expf(G[r2 * K + d] - Gr);
      float u = sc * dA[r2 * C + r] * in.q[row2 * K + d];
      if (r2 > r) u = fmaf(dL[r2 * C + r] * in.beta[row2], in.k[row2 * K + d], u);
      Cc = fmaf(u, e, Cc);
    }
    float dQi = 0.f, dKb = 0.f;
    if (valid) {
      const float* dOr = in.dO + row * V;
      for (int v = 0; v < V; ++v) dQi = fmaf(dOr[v], S0[d * V + v], dQi);
    }
    for (int v = 0; v < V; ++v) dKb = fmaf(Vt[r * V + v], dS1[d * V + v], dKb);
    const float dq = fmaf(sc * gam, dQi, P1);
    const float dki = dKb * expf(GC[d] - Gr);
    const float dBk = Y[r * KV + d];
    const float kpart = br * fmaf(gam, dBk, R);
    const float dk = dki + kpart + Cc;
    dGm[idx] = fmaf(q, dq, k * (kpart - (dki + Cc)));
    pb[idx] = fmaf(dBk * k, gam, R * k);
    pk[idx] = k * dki;
    if (valid) {
      out.dq[row * K + d] = dq;
      out.dk[row * K + d] = dk;
    }
  }
  __syncthreads();

  for (int idx = threadIdx.x; idx < p.n * V; idx += blockDim.x) {
    const int r = idx / V, v = idx % V;
    const long row = row_of(D, p, r);
    out.dv[row * V + v] = in.beta[row] * Y[r * KV + K + v];
  }
  for (int r = threadIdx.x; r < p.n; r += blockDim.x) {
    const long row = row_of(D, p, r);
    float x = 0.f;
    for (int d = 0; d < K; ++d) x += pb[r * K + d];
    for (int v = 0; v < V; ++v) x = fmaf(Y[r * KV + K + v], in.v[row * V + v], x);
    out.dbeta[row] = x;
  }
  // Last row of dΓ gets the chunk-decay terms; dg is the reverse cumulative sum of dΓ inside the chunk.
  for (int d = threadIdx.x; d < K; d += blockDim.x) {
    float cs = 0.f, tk = 0.f;
    for (int v = 0; v < V; ++v) cs = fmaf(S0[d * V + v], dS1[d * V + v], cs);
    for (int r = 0; r < C; ++r) tk += pk[r * K + d];
    double acc = static_cast<double>(expf(GC[d]) * cs) + tk;
    for (int r = C - 1; r >= 0; --r) {
      acc += dGm[r * K + d];
      if (r < p.n) out.dg[row_of(D, p, r) * K + d] = static_cast<float>(acc);
    }
  }
}

// Finds the first g that is not <= 0 (NaN included).
__global__ void kda_find_positive(const float* g, long n, unsigned long long* first) {
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
    if (!(g[i] <= 0.0f)) atomicMin(first, static_cast<unsigned long long>(i));
}

// ---- host side ----------------------------------------------------------------------------------------------

struct Problem {
  Dims D;
  Device dev;
  Tensor q, k, v, g, beta, h0;
};

std::vector<int64_t> dims(std::initializer_list<int64_t> l) { return std::vector<int64_t>(l); }

void expect_on(const Tensor& t, const Device& dev, const char* name) {
  expect_cuda(t, name);
  expect_dtype(t, DType::F32, name);
  if (t.device != dev) throw ArgError(std::string(name) + ": on " + t.device.name() + " but q is on " + dev.name());
}

void check_gates(const Tensor& g, const Dims& D, cudaStream_t st) {
  const long n = static_cast<long>(g.numel());
  if (n == 0) return;
  Tensor flag = empty({2}, DType::I32, g.device);  // 8 bytes: one unsigned long long
  cuda_check(cudaMemsetAsync(flag.raw(), 0xff, 8, st), "cudaMemsetAsync");
  kda_find_positive<<<blocks_for(n), 256, 0, st>>>(cf(g), n, static_cast<unsigned long long*>(flag.raw()));
  launch_check("kda_find_positive");
  unsigned long long first = 0;
  cuda_check(cudaMemcpyAsync(&first, flag.raw(), 8, cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync");
  cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
  if (first == ~0ull) return;
  float value = 0.f;
  cuda_check(cudaMemcpyAsync(&value, cf(g) + first, 4, cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync");
  cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
  long rem = static_cast<long>(first);
  const long d = rem % D.K;
  rem /= D.K;
  const long h = rem % D.H;
  rem /= D.H;
  const long t = rem % D.T, b = rem / D.T;
  throw ArgError("g: expected log decays <= 0 everywhere, got " + std::to_string(value) + " at [" + std::to_string(b) +
                 "," + std::to_string(t) + "," + std::to_string(h) + "," + std::to_string(d) + "]");
}

Problem read_problem(const Napi::CallbackInfo& info, const Napi::Object& opts) {
  Problem P;
  P.q = arg_tensor(info, 0, "q");
  expect_cuda(P.q, "q");
  P.dev = P.q.device;
  expect_on(P.q, P.dev, "q");
  expect_ndim(P.q, 4, "q", "[B,T,H,K]");
  const int64_t B = P.q.dim(0), T = P.q.dim(1), H = P.q.dim(2), K = P.q.dim(3);
  P.k = arg_tensor(info, 1, "k");
  expect_on(P.k, P.dev, "k");
  expect_shape(P.k, dims({B, T, H, K}), "k", "[B,T,H,K]");
  P.v = arg_tensor(info, 2, "v");
  expect_on(P.v, P.dev, "v");
  expect_ndim(P.v, 4, "v", "[B,T,H,V]");
  const int64_t V = P.v.dim(3);
  expect_shape(P.v, dims({B, T, H, V}), "v", "[B,T,H,V]");
  P.g = arg_tensor(info, 3, "g");
  expect_on(P.g, P.dev, "g");
  expect_shape(P.g, dims({B, T, H, K}), "g", "[B,T,H,K]");
  P.beta = arg_tensor(info, 4, "beta");
  expect_on(P.beta, P.dev, "beta");
  expect_shape(P.beta, dims({B, T, H}), "beta", "[B,T,H]");
  if (K > kMaxDim || V > kMaxDim)
    throw ArgError("q/v: head dimensions K = " + std::to_string(K) + ", V = " + std::to_string(V) +
                   " are above the 256 the CUDA kernels support");
  P.h0 = opt_tensor(opts, "initialState");
  if (P.h0.defined()) {
    expect_on(P.h0, P.dev, "initialState");
    expect_shape(P.h0, dims({B, H, K, V}), "initialState", "[B,H,K,V]");
  }
  const double scale = opt_number(opts, "scale", K > 0 ? 1.0 / std::sqrt(static_cast<double>(K)) : 1.0);
  if (!std::isfinite(scale)) throw ArgError("scale: expected a finite number, got " + std::to_string(scale));
  const double chunk = opt_number(opts, "chunkSize", 64);
  if (chunk != 64 && chunk != 32) throw ArgError("chunkSize: expected 32 or 64, got " + std::to_string(chunk));
  P.D.B = static_cast<int>(B), P.D.T = static_cast<int>(T), P.D.H = static_cast<int>(H);
  P.D.K = static_cast<int>(K), P.D.V = static_cast<int>(V), P.D.C = static_cast<int>(chunk);
  P.D.NT = static_cast<int>((T + P.D.C - 1) / P.D.C);
  P.D.scale = static_cast<float>(scale);
  return P;
}

bool empty_problem(const Dims& D) { return D.B == 0 || D.T == 0 || D.H == 0 || D.K == 0 || D.V == 0; }

// Carves the scratch arrays out of one device allocation (returned to the caching allocator afterwards;
// every later user of the block is queued behind these kernels on the device's one stream).
Tensor make_scratch(const Dims& D, const Device& dev, bool backward, Scratch& s) {
  const long NCh = static_cast<long>(D.B) * D.H * D.NT;
  const long CK = (long)D.C * D.K, CC = (long)D.C * D.C, CX = (long)D.C * (D.K + D.V), CV = (long)D.C * D.V,
             KV = (long)D.K * D.V;
  struct Slot {
    float** p;
    long n;
  } fwd[] = {{&s.G, CK}, {&s.Qg, CK}, {&s.Kb, CK}, {&s.A, CC}, {&s.L, CC}, {&s.X, CX}, {&s.Vt, CV}, {&s.S0, KV}},
    bwd[] = {{&s.dA, CC}, {&s.dVt, CV}, {&s.dS1, KV}, {&s.Y, CX}, {&s.dL, CC}, {&s.dGm, CK}, {&s.pb, CK}, {&s.pk, CK}};
  s = Scratch{};
  long total = 0;
  for (auto& sl : fwd) total += sl.n * NCh;
  if (backward)
    for (auto& sl : bwd) total += sl.n * NCh;
  Tensor mem = empty({total}, DType::F32, dev);
  float* base = mf(mem);
  long off = 0;
  for (auto& sl : fwd) *sl.p = base + off, off += sl.n * NCh;
  if (backward)
    for (auto& sl : bwd) *sl.p = base + off, off += sl.n * NCh;
  return mem;
}

void run_forward_passes(const Problem& P, const Scratch& s, const Inputs& in, float* ht, cudaStream_t st) {
  const Dims& D = P.D;
  const unsigned nch = static_cast<unsigned>(static_cast<long>(D.B) * D.H * D.NT);
  kda_intra<<<nch, kThreads, 0, st>>>(D, in, s);
  launch_check("kda_intra");
  dim3 sgrid((D.V + kVT - 1) / kVT, D.B * D.H);
  kda_state_fwd<<<sgrid, kThreads, 0, st>>>(D, P.h0.defined() ? cf(P.h0) : nullptr, ht, s);
  launch_check("kda_state_fwd");
}

Inputs inputs_of(const Problem& P) {
  return Inputs{cf(P.q), cf(P.k), cf(P.v), cf(P.g), cf(P.beta), nullptr};
}

Napi::Value KdaForwardCuda(const Napi::CallbackInfo& info) {
  Napi::Object opts = arg_object(info, 5, "options");
  Problem P = read_problem(info, opts);
  const Dims& D = P.D;
  cudaStream_t st = stream_for(P.dev.index);
  Tensor o = empty({D.B, D.T, D.H, D.V}, DType::F32, P.dev);
  Tensor ht = empty({D.B, D.H, D.K, D.V}, DType::F32, P.dev);
  if (empty_problem(D)) {
    if (ht.nbytes()) {
      if (P.h0.defined()) cuda_check(cudaMemcpyAsync(ht.raw(), P.h0.raw(), ht.nbytes(), cudaMemcpyDeviceToDevice, st), "cudaMemcpyAsync");
      else cuda_check(cudaMemsetAsync(ht.raw(), 0, ht.nbytes(), st), "cudaMemsetAsync");
    }
  } else {
    check_gates(P.g, D, st);
    Scratch s;
    Tensor mem = make_scratch(D, P.dev, false, s);
    const Inputs in = inputs_of(P);
    run_forward_passes(P, s, in, mf(ht), st);
    kda_output<<<static_cast<unsigned>(static_cast<long>(D.B) * D.H * D.NT), kThreads, 0, st>>>(D, s, mf(o));
    launch_check("kda_output");
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("o", wrap(info.Env(), o));
  out.Set("finalState", wrap(info.Env(), ht));
  return out;
}
RECLIN_EXPORT("kdaForwardCuda", KdaForwardCuda)

Napi::Value KdaBackwardCuda(const Napi::CallbackInfo& info) {
  Napi::Object opts = arg_object(info, 6, "options");
  Problem P = read_problem(info, opts);
  const Dims& D = P.D;
  Tensor dO = arg_tensor(info, 5, "dO");
  expect_on(dO, P.dev, "dO");
  expect_shape(dO, dims({D.B, D.T, D.H, D.V}), "dO", "[B,T,H,V]");
  Tensor dht = opt_tensor(opts, "dFinalState");
  if (dht.defined()) {
    expect_on(dht, P.dev, "dFinalState");
    expect_shape(dht, dims({D.B, D.H, D.K, D.V}), "dFinalState", "[B,H,K,V]");
  }
  cudaStream_t st = stream_for(P.dev.index);
  Tensor dq = empty({D.B, D.T, D.H, D.K}, DType::F32, P.dev), dk = empty({D.B, D.T, D.H, D.K}, DType::F32, P.dev);
  Tensor dg = empty({D.B, D.T, D.H, D.K}, DType::F32, P.dev), dv = empty({D.B, D.T, D.H, D.V}, DType::F32, P.dev);
  Tensor dbeta = empty({D.B, D.T, D.H}, DType::F32, P.dev);
  Tensor dh0;
  if (P.h0.defined()) dh0 = empty({D.B, D.H, D.K, D.V}, DType::F32, P.dev);
  if (empty_problem(D)) {
    for (const Tensor* t : {&dq, &dk, &dg, &dv, &dbeta})
      if (t->nbytes()) cuda_check(cudaMemsetAsync(t->raw(), 0, t->nbytes(), st), "cudaMemsetAsync");
    if (dh0.defined() && dh0.nbytes()) {
      if (dht.defined()) cuda_check(cudaMemcpyAsync(dh0.raw(), dht.raw(), dh0.nbytes(), cudaMemcpyDeviceToDevice, st), "cudaMemcpyAsync");
      else cuda_check(cudaMemsetAsync(dh0.raw(), 0, dh0.nbytes(), st), "cudaMemsetAsync");
    }
  } else {
    check_gates(P.g, D, st);
    Scratch s;
    Tensor mem = make_scratch(D, P.dev, true, s);
    Inputs in = inputs_of(P);
    in.dO = cf(dO);
    run_forward_passes(P, s, in, nullptr, st);
    const unsigned nch = static_cast<unsigned>(static_cast<long>(D.B) * D.H * D.NT);
    kda_dA<<<nch, kThreads, 0, st>>>(D, in, s);
    launch_check("kda_dA");
    dim3 sgrid((D.V + kVT - 1) / kVT, D.B * D.H);
    kda_state_bwd<<<sgrid, kThreads, 0, st>>>(D, in, dht.defined() ? cf(dht) : nullptr,
                                              dh0.defined() ? mf(dh0) : nullptr, s);
    launch_check("kda_state_bwd");
    kda_bwd_chunk<<<nch, kThreads, 0, st>>>(D, in, s, Grads{mf(dq), mf(dk), mf(dv), mf(dg), mf(dbeta)});
    launch_check("kda_bwd_chunk");
  }
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("dq", wrap(env, dq));
  out.Set("dk", wrap(env, dk));
  out.Set("dv", wrap(env, dv));
  out.Set("dg", wrap(env, dg));
  out.Set("dbeta", wrap(env, dbeta));
  out.Set("dInitialState", dh0.defined() ? wrap(env, dh0) : env.Null());
  return out;
}
RECLIN_EXPORT("kdaBackwardCuda", KdaBackwardCuda)

}  // namespace
}  // namespace reclin
