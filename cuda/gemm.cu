// matmulCuda(a, b, { transA, transB, alpha }): the twin of native/matmul.cc (same shapes, batching and
// errors). Our own tiled fp32 SIMT GEMM (no cuBLAS): 64x64 output tiles, k-steps of 16 staged in shared
// memory, a 4x4 register block per thread, fp32 accumulation. (Tensor cores would need tf32 or bf16 inputs,
// which miss the fp32 1e-5 contract; they belong to the bf16 path.)
#include <napi.h>

#include <algorithm>
#include <string>

#include "cuda_util.cuh"

namespace reclin {
namespace {

constexpr int BM = 64, BN = 64, BK = 16;

__global__ void __launch_bounds__(256) gemm_kernel(const float* A, const float* B, float* C, int64_t M, int64_t N,
                                                   int64_t K, int64_t lda, int64_t ldb, bool ta, bool tb, float alpha,
                                                   int64_t sa, int64_t sb, int64_t sc, int64_t nbatch) {
  __shared__ float As[BK][BM + 4];  // As[k][m]
  __shared__ float Bs[BK][BN + 4];  // Bs[k][n]
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * BM, n0 = static_cast<int64_t>(blockIdx.x) * BN;
  for (int64_t z = blockIdx.z; z < nbatch; z += gridDim.z) {
    const float* Ab = A + z * sa;
    const float* Bb = B + z * sb;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < K; k0 += BK) {
      // Loads walk the memory-contiguous axis across neighbouring threads.
      for (int e = threadIdx.x; e < BM * BK; e += blockDim.x) {
        const int mm = ta ? e % BM : e / BK, kk = ta ? e / BM : e % BK;
        const int64_t gm = m0 + mm, gk = k0 + kk;
        As[kk][mm] = (gm < M && gk < K) ? (ta ? Ab[gk * lda + gm] : Ab[gm * lda + gk]) : 0.f;
      }
      for (int e = threadIdx.x; e < BN * BK; e += blockDim.x) {
        const int nn = tb ? e / BK : e % BN, kk = tb ? e % BK : e / BN;
        const int64_t gn = n0 + nn, gk = k0 + kk;
        Bs[kk][nn] = (gn < N && gk < K) ? (tb ? Bb[gn * ldb + gk] : Bb[gk * ldb + gn]) : 0.f;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = As[kk][ty * 4 + i];
#pragma unroll
        for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx * 4 + j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      __syncthreads();
    }
    float* Cb = C + z * sc;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t gm = m0 + ty * 4 + i;
      if (gm >= M) continue;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t gn = n0 + tx * 4 + j;
        if (gn < N) Cb[gm * N + gn] = alpha * acc[i][j];
      }
    }
  }
}

bool opt_bool(const Napi::Object& opts, const char* key) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsBoolean()) throw ArgError(std::string(key) + ": expected a boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::Value MatmulCuda(const Napi::CallbackInfo& info) {
  Tensor a = arg_cuda_f32(info, 0, "a");
  Tensor b = arg_cuda_f32(info, 1, "b");
  expect_same_device(a, b, "a", "b");
  Napi::Object opts = arg_object(info, 2, "options");
  const bool ta = opt_bool(opts, "transA"), tb = opt_bool(opts, "transB");
  const float alpha = static_cast<float>(opt_number(opts, "alpha", 1.0));
  const MatmulShape s = matmul_shape(a, b, ta, tb);
  const int64_t M = s.M, K = s.K, N = s.N, nbatch = s.nbatch;
  const bool shared_b = s.shared_b;
  Tensor c = empty(s.out, DType::F32, a.device);
  if (c.numel() == 0) return wrap(info.Env(), c);
  const int64_t sa = M * K, sb = shared_b ? 0 : K * N, sc = M * N;
  dim3 grid(static_cast<unsigned>((N + BN - 1) / BN), static_cast<unsigned>((M + BM - 1) / BM),
            static_cast<unsigned>(std::min<int64_t>(nbatch, 65535)));
  if (grid.y > 65535) throw ArgError("a: M = " + std::to_string(M) + " is above the 4194240 rows the cuda GEMM supports");
  gemm_kernel<<<grid, 256, 0, stream_for(a.device.index)>>>(cf(a), cf(b), mf(c), M, N, K, a.dim(-1), b.dim(-1), ta, tb,
                                                            alpha, sa, sb, sc, nbatch);
  launch_check("gemm_kernel");
  return wrap(info.Env(), c);
}
RECLIN_EXPORT("matmulCuda", MatmulCuda)

}  // namespace
}  // namespace reclin
