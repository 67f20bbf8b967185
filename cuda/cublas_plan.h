// How a row-major GEMM is handed to cuBLASLt, which is column-major (cublas.cu): row-major C[M,N] = alpha·op(A)·op(B)
// is column-major Cᵀ[N,M] = alpha·op(B)ᵀ·op(A)ᵀ, so cuBLASLt's first operand is B's storage and its second A's,
// each read column-major (a row-major [r,c] matrix is a column-major c×r one) and transposed when its flag is set.
// Plain C++ so that test/cuda-emu/cublas_plan_emu.cc can check it on the CPU with a column-major reference GEMM.
#pragma once
#include <cstdint>

namespace reclin {

// The storage of A and B (C is always f32, accumulation always fp32): f32, or bf16 (CUDA_R_16BF) under
// `--precision bf16`.
enum class GemmInput : uint8_t { F32 = 0, BF16 = 1 };
inline int64_t gemm_input_bytes(GemmInput t) { return t == GemmInput::BF16 ? 2 : 4; }

// Row-major C[M,N] = alpha·op(A)·op(B) over `batch` matrices (element strides sa, sb, sc; sb = 0 shares B);
// op(A) is [M,K] (A stored [K,M] when ta), op(B) is [K,N] (B stored [N,K] when tb). A and B hold `in` elements.
struct CublasGemm {
  const void* a;
  const void* b;
  float* c;
  int64_t M, N, K;
  bool ta, tb;
  float alpha;
  int64_t batch, sa, sb, sc;
  GemmInput in = GemmInput::F32;
};

struct LtOperand {
  const void* p;
  bool trans;              // CUBLAS_OP_T
  uint64_t rows, cols;     // the stored matrix, column-major
  int64_t ld, stride;      // leading dimension (= rows) and batch stride, in elements
};

// D[m,n] (column-major, ld = m) = alpha · op(first)[m,k] · op(second)[k,n], for each of `batch`.
struct LtPlan {
  LtOperand first, second;
  uint64_t m, n, k;
  float* d;
  int64_t ldd, stride_d, batch;
  float alpha;
  GemmInput in;  // of both operands; D is f32
};

inline LtPlan lt_plan(const CublasGemm& g) {
  LtPlan p{};
  // B as stored: [K,N] row-major is column-major N×K (already op(B)ᵀ); [N,K] row-major (tb) is K×N, transposed.
  p.first = {g.b, g.tb, static_cast<uint64_t>(g.tb ? g.K : g.N), static_cast<uint64_t>(g.tb ? g.N : g.K), g.tb ? g.K : g.N, g.sb};
  // A as stored: [M,K] row-major is column-major K×M (already op(A)ᵀ); [K,M] row-major (ta) is M×K, transposed.
  p.second = {g.a, g.ta, static_cast<uint64_t>(g.ta ? g.M : g.K), static_cast<uint64_t>(g.ta ? g.K : g.M), g.ta ? g.M : g.K, g.sa};
  p.m = static_cast<uint64_t>(g.N), p.n = static_cast<uint64_t>(g.M), p.k = static_cast<uint64_t>(g.K);
  p.d = g.c, p.ldd = g.N, p.stride_d = g.sc, p.batch = g.batch, p.alpha = g.alpha, p.in = g.in;
  return p;
}

// The buffer alignment cuBLASLt may assume for an operand (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES, 256 unless
// told): the largest power of two, at most 256, dividing its address and, when batched, its batch stride in bytes.
// Whole tensors from the allocator are 256-aligned, but a block of rows of one (an expert's segment in moe.cu) or
// the later matrices of a batch start anywhere an element may. `elem`: bytes per element of the operand.
inline uint32_t lt_alignment(const void* p, int64_t stride, int64_t batch, int64_t elem = 4) {
  const uint64_t bits = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)) |
                        (batch > 1 ? static_cast<uint64_t>(stride) * static_cast<uint64_t>(elem) : 0) | 256u;
  return static_cast<uint32_t>(bits & (~bits + 1));
}

// A shared B with an untransposed A is one taller GEMM (A's batches are contiguous rows, as are C's).
inline CublasGemm fold_shared_b(CublasGemm g, bool shared_b) {
  if (shared_b && !g.ta && g.batch > 1) {
    g.M *= g.batch;
    g.batch = 1;
    g.sa = g.M * g.K;
    g.sc = g.M * g.N;
  }
  return g;
}

}  // namespace reclin
