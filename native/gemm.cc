// Blocked, packed SGEMM (the Goto/BLIS scheme): for each NC-wide block of B and each KC-deep slice of K,
// pack op(B) into NR-wide panels; for each MC-tall block of op(A), pack it into MR-tall panels; then a
// register-tile micro-kernel computes every MR x NR tile of C from one A panel and one B panel.
// The micro-kernel (AVX-512 14x32, AVX2 6x16 or portable 4x8) is chosen at run time.
// Threads pack each B block together, then take (row block, column chunk) items of C dynamically (measured
// on the busy 2-core machine: faster than fixed per-thread slabs, which re-pack the shared operand and stall
// when one core is preempted). Determinism: every C element accumulates its K products in the same order (KC
// slices in order, k in order inside a slice) whatever the thread count or who computes its tile.
#include "gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "threads.h"

namespace reclin {

namespace {

using MicroKernel = void (*)(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, float alpha,
                             float beta, int mr, int nr);

struct KernelInfo {
  const char* name;
  int mr, nr;        // register tile
  int64_t mc, kc, nc;  // cache blocks (mc multiple of mr, nc multiple of nr)
  MicroKernel fn;
};

// Writes alpha*acc (+ beta*C) for the valid mr x nr corner of a tile held in `acc` (row stride NR).
inline void store_partial(const float* acc, int NR, float* c, int64_t ldc, float alpha, float beta, int mr, int nr) {
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      float v = alpha * acc[i * NR + j];
      c[i * ldc + j] = beta == 0.f ? v : beta * c[i * ldc + j] + v;
    }
}

// ---- AVX-512: 14 rows x 32 columns, 28 zmm accumulators ----------------------------------------
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
void kernel_avx512(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* __restrict c,
                   int64_t ldc, float alpha, float beta, int mr, int nr) {
  constexpr int MR = 14, NR = 32;
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
    _mm_prefetch(reinterpret_cast<const char*>(pb + 8 * NR), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(pa[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    pa += MR;
    pb += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (mr == MR && nr == NR) {
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      float* cr = c + i * ldc;
      if (beta == 0.f) {
        _mm512_storeu_ps(cr, _mm512_mul_ps(acc[i][0], va));
        _mm512_storeu_ps(cr + 16, _mm512_mul_ps(acc[i][1], va));
      } else {
        _mm512_storeu_ps(cr, _mm512_fmadd_ps(acc[i][0], va, _mm512_mul_ps(_mm512_loadu_ps(cr), vb)));
        _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(acc[i][1], va, _mm512_mul_ps(_mm512_loadu_ps(cr + 16), vb)));
      }
    }
    return;
  }
  alignas(64) float tile[MR * NR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    _mm512_store_ps(tile + i * NR, acc[i][0]);
    _mm512_store_ps(tile + i * NR + 16, acc[i][1]);
  }
  store_partial(tile, NR, c, ldc, alpha, beta, mr, nr);
}

// ---- AVX2: 6 rows x 16 columns, 12 ymm accumulators --------------------------------------------
__attribute__((target("avx2,fma")))
void kernel_avx2(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* __restrict c,
                 int64_t ldc, float alpha, float beta, int mr, int nr) {
  constexpr int MR = 6, NR = 16;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(pa + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    pa += MR;
    pb += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (mr == MR && nr == NR) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* cr = c + i * ldc;
      if (beta == 0.f) {
        _mm256_storeu_ps(cr, _mm256_mul_ps(acc[i][0], va));
        _mm256_storeu_ps(cr + 8, _mm256_mul_ps(acc[i][1], va));
      } else {
        _mm256_storeu_ps(cr, _mm256_fmadd_ps(acc[i][0], va, _mm256_mul_ps(_mm256_loadu_ps(cr), vb)));
        _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(acc[i][1], va, _mm256_mul_ps(_mm256_loadu_ps(cr + 8), vb)));
      }
    }
    return;
  }
  alignas(32) float tile[MR * NR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_store_ps(tile + i * NR, acc[i][0]);
    _mm256_store_ps(tile + i * NR + 8, acc[i][1]);
  }
  store_partial(tile, NR, c, ldc, alpha, beta, mr, nr);
}

// ---- portable: 4 x 8 ----------------------------------------------------------------------------
void kernel_scalar(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* __restrict c,
                   int64_t ldc, float alpha, float beta, int mr, int nr) {
  constexpr int MR = 4, NR = 8;
  float acc[MR * NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += pa[i] * pb[j];
    pa += MR;
    pb += NR;
  }
  store_partial(acc, NR, c, ldc, alpha, beta, mr, nr);
}

KernelInfo choose_kernel() {
  const char* force = std::getenv("RECLIN_GEMM_KERNEL");
  std::string f = force ? force : "";
  __builtin_cpu_init();
  if (f != "avx2" && f != "scalar" && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return {"avx512", 14, 32, 14 * 24, 384, 4096, kernel_avx512};
  if (f != "scalar" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {"avx2", 6, 16, 6 * 32, 256, 4096, kernel_avx2};
  return {"scalar", 4, 8, 4 * 32, 256, 2048, kernel_scalar};
}

const KernelInfo& kernel() {
  static const KernelInfo k = choose_kernel();
  return k;
}

// Packs rows [i0, i0+mc) x cols [k0, k0+kc) of op(A) into MR-tall panels: panel p holds, for each k, MR
// consecutive rows (zero-padded past mc).
// ---- AVX-512 packing of row-major sources whose rows become the panel's lanes --------------------------
// out[k * stride + i] = src_i[k] for i < rows (zeros for rows <= i < lanes <= 16), k < kc, src_i = src + i * ld:
// op(A) without transA (lanes = stride = MR) and op(B) with transB (16-lane parts of an NR-wide panel). The scalar loop moves
// about one float per cycle and cost as much as the micro-kernel when the other dimension is small (measured:
// pack_a_panel 14% against the kernel's 25% of the MLA layer at bench shape 4,256,256,4,64,32,16,32). Here
// 16 x 16 blocks are transposed in registers. Plain copies: the packed values, and so the results, are unchanged.
// (GCC 12 warns inside the unmasked unpack/shuffle intrinsics about their deliberately undefined source.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Up to 16 consecutive values of one source row as f32 lanes (masked past n): f32 as is, bf16 widened exactly.
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
inline __m512 load16_avx512(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
inline __m512 load16_avx512(const uint16_t* p, __mmask16 m) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

template <class T>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
void pack_rows_to_lanes_avx512(const T* src, int64_t ld, int rows, int64_t kc, int lanes, int64_t stride, float* out) {
  const __mmask16 store_mask = static_cast<__mmask16>((1u << lanes) - 1u);
  for (int64_t k = 0; k < kc; k += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, kc - k));
    const __mmask16 load_mask = static_cast<__mmask16>((1u << n) - 1u);
    __m512 r[16], t[16];
    if constexpr (sizeof(T) == 2) {  // bf16 rows: one cache line holds two of these blocks; fetch ahead (measured)
      if (k % 32 == 0)
        for (int i = 0; i < rows; ++i) _mm_prefetch(reinterpret_cast<const char*>(src + i * ld + k + 64), _MM_HINT_T0);
    }
    for (int i = 0; i < 16; ++i) r[i] = i < rows ? load16_avx512(src + i * ld + k, load_mask) : _mm512_setzero_ps();
    // within each 128-bit lane: rows 4g..4g+3 of one column
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; ++g) {
      const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
      const __m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
      r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
      r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
      r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
      r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    // r[4g + m] lane L holds rows 4g..4g+3 of column 4L + m: a 4 x 4 transpose of 128-bit lanes per m
    for (int m = 0; m < 4; ++m) {
      const __m512 x0 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x44), x1 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xEE);
      const __m512 x2 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x44), x3 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xEE);
      const __m512 col[4] = {_mm512_shuffle_f32x4(x0, x2, 0x88), _mm512_shuffle_f32x4(x0, x2, 0xDD),
                             _mm512_shuffle_f32x4(x1, x3, 0x88), _mm512_shuffle_f32x4(x1, x3, 0xDD)};
      for (int L = 0; L < 4; ++L) {
        const int c = 4 * L + m;
        if (c < n) _mm512_mask_storeu_ps(out + (k + c) * stride, store_mask, col[L]);
      }
    }
  }
}
#pragma GCC diagnostic pop

// The packing path is independent of the micro-kernel; RECLIN_GEMM_PACK=scalar forces the plain loops (the
// tests compare both bit for bit).
bool avx512_packing() {
  static const bool ok = [] {
    __builtin_cpu_init();
    const char* force = std::getenv("RECLIN_GEMM_PACK");
    return !(force && std::string(force) == "scalar") && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }();
  return ok;
}

void pack_a_panel(bool transA, const float* A, int64_t lda, int64_t i0, int64_t k0, int rows, int64_t kc, int MR,
                  float* out) {
  if (!transA && MR <= 16 && avx512_packing()) {
    pack_rows_to_lanes_avx512(A + i0 * lda + k0, lda, rows, kc, MR, MR, out);
    return;
  }
  if (!transA) {
    for (int i = 0; i < rows; ++i) {
      const float* src = A + (i0 + i) * lda + k0;
      for (int64_t k = 0; k < kc; ++k) out[k * MR + i] = src[k];
    }
  } else {
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = A + (k0 + k) * lda + i0;
      for (int i = 0; i < rows; ++i) out[k * MR + i] = src[i];
    }
  }
  for (int i = rows; i < MR; ++i)
    for (int64_t k = 0; k < kc; ++k) out[k * MR + i] = 0.f;
}

// bf16 bits -> f32 (exact: bf16 is the high half of an f32).
inline float widen(float x) { return x; }
inline float widen(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// An NR-wide panel of a row-major bf16 B (no transpose): out[k * NR + j] = widen(src[k * ldb + j]) for j < cols,
// zeros for cols <= j < NR. One call per panel (not per row: a call per 32 values cost as much as the widening).
constexpr int64_t kPrefetchRows = 8;
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
void pack_bf16_rows_avx512(const uint16_t* src, int64_t ldb, int cols, int64_t kc, int NR, float* out) {
  for (int64_t k = 0; k < kc; ++k) {
    const uint16_t* s = src + k * ldb;
    float* d = out + k * NR;
    _mm_prefetch(reinterpret_cast<const char*>(s + kPrefetchRows * ldb), _MM_HINT_T0);
    for (int j = 0; j < NR; j += 16) {
      const int n = std::max(0, std::min(16, cols - j));
      const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
      _mm512_storeu_ps(d + j, load16_avx512(s + j, m));  // masked-off lanes load as zero: the padding
    }
  }
}

// Packs rows [k0, k0+kc) x cols [j0, j0+cols) of op(B) into one NR-wide panel (zero-padded past cols).
// B may be f32 or bf16 (T = uint16_t, the weight of a frozen layer): bf16 is widened here, so the panel and
// everything after it are f32 and the results equal those from the f32-widened matrix bit for bit.
template <class T>
void pack_b_panel(bool transB, const T* B, int64_t ldb, int64_t k0, int64_t j0, int cols, int64_t kc, int NR,
                  float* out) {
  constexpr bool kBf16 = std::is_same<T, uint16_t>::value;
  if (!transB) {
    if constexpr (kBf16) {
      if (NR % 16 == 0 && avx512_packing()) {
        pack_bf16_rows_avx512(B + k0 * ldb + j0, ldb, cols, kc, NR, out);
        return;
      }
    }
    for (int64_t k = 0; k < kc; ++k) {
      const T* src = B + (k0 + k) * ldb + j0;
      float* dst = out + k * NR;
      if constexpr (kBf16) {
        for (int j = 0; j < cols; ++j) dst[j] = widen(src[j]);
      } else {
        std::memcpy(dst, src, sizeof(float) * cols);
      }
      for (int j = cols; j < NR; ++j) dst[j] = 0.f;
    }
  } else if (NR % 16 == 0 && avx512_packing()) {
    // two (or more) 16-lane halves of the panel, each its own transpose (row stride NR in `out`)
    for (int h = 0; h < NR; h += 16) {
      const int hr = std::max(0, std::min(16, cols - h));
      pack_rows_to_lanes_avx512(B + (j0 + h) * ldb + k0, ldb, hr, kc, 16, NR, out + h);
    }
  } else {
    for (int j = 0; j < cols; ++j) {
      const T* src = B + (j0 + j) * ldb + k0;
      for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = widen(src[k]);
    }
    for (int j = cols; j < NR; ++j)
      for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = 0.f;
  }
}

// A per-thread, grow-only, 64-byte-aligned scratch buffer (packing buffers are reused across calls).
struct Scratch {
  float* p = nullptr;
  size_t n = 0;
  ~Scratch() { std::free(p); }
  float* get(size_t need) {
    if (need > n) {
      std::free(p);
      size_t bytes = ((need * sizeof(float) + 63) / 64) * 64;
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      n = need;
    }
    return p;
  }
};

void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
}

// The smallest multiple of `unit` that covers n in as few blocks of at most `max_block` as possible.
int64_t balanced_block(int64_t n, int64_t max_block, int64_t unit) {
  const int64_t blocks = (n + max_block - 1) / max_block;
  const int64_t per = (n + blocks - 1) / blocks;
  return std::min(max_block, (per + unit - 1) / unit * unit);
}

// One thread computes the whole product (Goto loop order: jc / pc / ic / tiles).
template <class T>
void gemm_serial_impl(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                      int64_t lda, const T* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const KernelInfo& kern = kernel();
  const int MR = kern.mr, NR = kern.nr;
  // Blocks no larger than the kernel's cache sizes, balanced so no slice is a small leftover.
  const int64_t KC = balanced_block(K, kern.kc, 8);
  const int64_t NC = balanced_block(N, kern.nc, NR);
  const int64_t MC = balanced_block(M, kern.mc, MR);
  static thread_local Scratch scratch_a, scratch_b;
  float* pack_b = scratch_b.get(static_cast<size_t>(KC * NC));
  float* pack_a = scratch_a.get(static_cast<size_t>(MC * KC));
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    const int64_t n_panels = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const float beta_here = pc == 0 ? beta : 1.f;
      for (int64_t q = 0; q < n_panels; ++q)
        pack_b_panel(transB, B, ldb, pc, jc + q * NR, static_cast<int>(std::min<int64_t>(NR, nc - q * NR)), kc, NR,
                     pack_b + q * NR * kc);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        const int64_t m_panels = (mc + MR - 1) / MR;
        for (int64_t p = 0; p < m_panels; ++p)
          pack_a_panel(transA, A, lda, ic + p * MR, pc, static_cast<int>(std::min<int64_t>(MR, mc - p * MR)), kc, MR,
                       pack_a + p * MR * kc);
        // B-panel-major so one B panel stays in L1 while the A block streams from L2.
        for (int64_t q = 0; q < n_panels; ++q) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - q * NR));
          for (int64_t p = 0; p < m_panels; ++p) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - p * MR));
            kern.fn(kc, pack_a + p * MR * kc, pack_b + q * NR * kc, C + (ic + p * MR) * ldc + jc + q * NR, ldc, alpha,
                    beta_here, mr, nr);
          }
        }
      }
    }
  }
}

// Threads share one packed B block per (jc, pc) step and take (row block, column chunk) items of C
// dynamically, each packing its own A block; a busy core just takes fewer items. Every C element still sums
// its K products in the same order as the serial code.
template <class T>
void gemm_shared_b_impl(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                        int64_t lda, const T* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads) {
  const KernelInfo& kern = kernel();
  const int MR = kern.mr, NR = kern.nr;
  const int64_t KC = balanced_block(K, kern.kc, 8);
  const int64_t NC = balanced_block(N, kern.nc, NR);
  const int64_t MC = balanced_block(M, kern.mc, MR);
  static thread_local Scratch scratch_b;
  float* pack_b = scratch_b.get(static_cast<size_t>(KC * NC));
  const int64_t n_ic = (M + MC - 1) / MC;
#pragma omp parallel
  {
    static thread_local Scratch scratch_a;
    float* pack_a = scratch_a.get(static_cast<size_t>(MC * KC));
    for (int64_t jc = 0; jc < N; jc += NC) {
      const int64_t nc = std::min(NC, N - jc);
      const int64_t n_panels = (nc + NR - 1) / NR;
      // With few row blocks, also split the columns so every thread gets items (A is re-packed per chunk).
      const int64_t n_chunks = std::min<int64_t>(n_panels, std::max<int64_t>(1, (2 * threads + n_ic - 1) / n_ic));
      const int64_t chunk_panels = (n_panels + n_chunks - 1) / n_chunks;
      for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = std::min(KC, K - pc);
        const float beta_here = pc == 0 ? beta : 1.f;
#pragma omp for schedule(static)
        for (int64_t q = 0; q < n_panels; ++q)
          pack_b_panel(transB, B, ldb, pc, jc + q * NR, static_cast<int>(std::min<int64_t>(NR, nc - q * NR)), kc, NR,
                       pack_b + q * NR * kc);
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < n_ic * n_chunks; ++item) {
          const int64_t ic = item / n_chunks * MC, q0 = item % n_chunks * chunk_panels;
          const int64_t q1 = std::min(n_panels, q0 + chunk_panels);
          const int64_t mc = std::min(MC, M - ic);
          const int64_t m_panels = (mc + MR - 1) / MR;
          for (int64_t p = 0; p < m_panels; ++p)
            pack_a_panel(transA, A, lda, ic + p * MR, pc, static_cast<int>(std::min<int64_t>(MR, mc - p * MR)), kc, MR,
                         pack_a + p * MR * kc);
          for (int64_t q = q0; q < q1; ++q) {
            const int nr = static_cast<int>(std::min<int64_t>(NR, nc - q * NR));
            for (int64_t p = 0; p < m_panels; ++p) {
              const int mr = static_cast<int>(std::min<int64_t>(MR, mc - p * MR));
              kern.fn(kc, pack_a + p * MR * kc, pack_b + q * NR * kc, C + (ic + p * MR) * ldc + jc + q * NR, ldc,
                      alpha, beta_here, mr, nr);
            }
          }
        }
      }
    }
  }
}

// Runs on the calling thread when the product is small, threads are unavailable or we are already inside a
// parallel region; otherwise on all OpenMP threads sharing packed B blocks.
template <class T>
void gemm_impl(bool parallel, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const T* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const int threads = num_threads();
  const bool use_threads = parallel && threads > 1 && 2.0 * M * N * K > 4e6
#ifdef _OPENMP
                           && !omp_in_parallel()
#endif
      ;
  if (!use_threads) {
    gemm_serial_impl(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  gemm_shared_b_impl(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
}

}  // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(true, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(false, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(true, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(false, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* gemm_kernel_name() { return kernel().name; }

}  // namespace reclin
