// The CUDA GEMM entry shared by the ops that multiply packed row-major matrices (matmul.cu): cuBLASLt when it was
// found at run time, else our own SIMT kernel (gemm_kernels.cuh). Queued on `st`; no host wait.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace reclin {

// C[M,N] = alpha·op(A)·op(B), all packed row-major: op(A) is [M,K] (A stored [K,M] when ta), op(B) is [K,N]
// (B stored [N,K] when tb), C overwritten.
void gemm_cuda(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, bool ta, bool tb, float alpha,
               int device, cudaStream_t st);

}  // namespace reclin
