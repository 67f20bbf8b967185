// Single-precision GEMM written here (no BLAS): C = alpha * op(A) * op(B) + beta * C, all row-major (B may be bf16).
// op(A) is M x K: A itself (lda >= K) or, with transA, the transpose of a K x M matrix (lda >= M).
// op(B) is K x N: B itself (ldb >= N) or, with transB, the transpose of an N x K matrix (ldb >= K).
// Transposes are never materialised: the packing step reads the strided source directly.
// Results are bit-identical run to run and independent of the thread count (fixed K-order accumulation).
// beta == 0 means C is write-only (its old contents, even NaN, are ignored).
#pragma once
#include <cstdint>

namespace reclin {

// Uses OpenMP threads unless called from inside a parallel region (then it runs on the calling thread).
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Always on the calling thread: for kernels that already parallelise over batch/heads.
void gemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The same with B stored as bf16 bits (a frozen weight kept in bf16): each B panel is widened to f32 while it is
// packed, so A, C and the accumulation stay f32 and C equals gemm() on the widened B bit for bit.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Which micro-kernel this CPU runs: "avx512", "avx2" or "scalar" (RECLIN_GEMM_KERNEL=avx2|scalar forces one).
const char* gemm_kernel_name();

}  // namespace reclin
