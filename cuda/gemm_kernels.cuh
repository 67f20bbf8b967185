// The GEMM kernel of matmul.cu (the twin of native/gemm.cc's engine), in a header of its own so that
// test/cuda-emu/ can compile it for the CPU with real threads per block and check values and barriers without
// a GPU. It needs exactly 256 threads per block (16×16 threads, a 4×4 register block each). A and B are f32 or
// bf16 (uint16_t bits, `--precision bf16`): either way they are widened to f32 as they are staged in shared memory,
// so the accumulation and C are fp32. Included inside `namespace reclin { namespace {`.
#pragma once
#include "bf16.cuh"

constexpr int BM = 64, BN = 64, BK = 16;

__device__ __forceinline__ float gemm_load(float x) { return x; }
__device__ __forceinline__ float gemm_load(uint16_t x) { return bf16_to_f32(x); }

template <class T>
__global__ void __launch_bounds__(256) gemm_kernel(const T* A, const T* B, float* C, int64_t M, int64_t N,
                                                   int64_t K, int64_t lda, int64_t ldb, bool ta, bool tb, float alpha,
                                                   int64_t sa, int64_t sb, int64_t sc, int64_t nbatch) {
  __shared__ float As[BK][BM + 4];  // As[k][m]
  __shared__ float Bs[BK][BN + 4];  // Bs[k][n]
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * BM, n0 = static_cast<int64_t>(blockIdx.x) * BN;
  for (int64_t z = blockIdx.z; z < nbatch; z += gridDim.z) {
    const T* Ab = A + z * sa;
    const T* Bb = B + z * sb;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < K; k0 += BK) {
      // Loads walk the memory-contiguous axis across neighbouring threads.
      for (int e = threadIdx.x; e < BM * BK; e += blockDim.x) {
        const int mm = ta ? e % BM : e / BK, kk = ta ? e / BM : e % BK;
        const int64_t gm = m0 + mm, gk = k0 + kk;
        As[kk][mm] = (gm < M && gk < K) ? gemm_load(ta ? Ab[gk * lda + gm] : Ab[gm * lda + gk]) : 0.f;
      }
      for (int e = threadIdx.x; e < BN * BK; e += blockDim.x) {
        const int nn = tb ? e / BK : e % BN, kk = tb ? e % BK : e / BN;
        const int64_t gn = n0 + nn, gk = k0 + kk;
        Bs[kk][nn] = (gn < N && gk < K) ? gemm_load(tb ? Bb[gn * ldb + gk] : Bb[gk * ldb + gn]) : 0.f;
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
