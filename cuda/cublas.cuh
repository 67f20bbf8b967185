// The cuBLASLt path of the CUDA matmul (cublas.cu), used by gemm.cu when the library was found at run time.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace reclin {

// Row-major C[M,N] = alpha·op(A)·op(B) over `batch` matrices (element strides sa, sb, sc; sb = 0 shares B);
// op(A) is [M,K] (A stored [K,M] when ta), op(B) is [K,N] (B stored [N,K] when tb).
struct CublasGemm {
  const float* a;
  const float* b;
  float* c;
  int64_t M, N, K;
  bool ta, tb;
  float alpha;
  int64_t batch, sa, sb, sc;
};

// Queues the GEMM on `st` through cuBLASLt; false when cuBLASLt is not loaded, refuses the device or the shape
// (the caller then runs our own kernel).
bool cublas_gemm(const CublasGemm& g, int device, cudaStream_t st);

}  // namespace reclin
