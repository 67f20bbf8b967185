// See vec_math.h. Each primitive has an AVX-512 body, (for the reductions) an AVX2 body, and a portable
// loop; `level()` picks once per process.
#include "vec_math.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

// GCC 12 reports its own AVX-512 intrinsics' internal "undefined" operands as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace reclin {
namespace vec {
namespace {

enum Level { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

Level detect() {
  const char* force = std::getenv("RECLIN_VEC");  // "avx2" or "scalar" to test the other paths
  __builtin_cpu_init();
  if ((!force || (std::strcmp(force, "avx2") && std::strcmp(force, "scalar"))) && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512dq"))
    return kAvx512;
  if ((!force || std::strcmp(force, "scalar")) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return kAvx2;
  return kScalar;
}

Level level() {
  static const Level l = detect();
  return l;
}

inline float sigmoid1(float x) {
  if (x >= 0.f) return 1.f / (1.f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.f + e);
}

// ---- AVX-512 ---------------------------------------------------------------------------------
#define T512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

// exp(x) = 2^n * p(r), n = round(x / ln2), r = x - n ln2 (Cody-Waite split), p = Taylor to degree 6.
T512 inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.f), x);  // NaN stays NaN (second operand returned)
  x = _mm512_min_ps(_mm512_set1_ps(104.f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);  // exact 2^n scaling, gives 0 / inf past the range
}

T512 inline __m512 sigmoid512(__m512 x) {
  // 1 / (1 + exp(-x)); exp(-x) = inf for very negative x gives exactly 0.
  return _mm512_div_ps(_mm512_set1_ps(1.f), _mm512_add_ps(_mm512_set1_ps(1.f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

T512 inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1); }

// Adds 16 floats into two 8-lane double accumulators.
T512 inline void acc_pd(__m512d& lo, __m512d& hi, __m512 v) {
  lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
  hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
}
T512 inline double hsum_pd(__m512d lo, __m512d hi) {
  alignas(64) double t[8];
  _mm512_store_pd(t, _mm512_add_pd(lo, hi));
  return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}

T512 float max_512(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + j));
  if (j < n) m = _mm512_max_ps(m, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - j), x + j));
  alignas(64) float t[16];
  _mm512_store_ps(t, m);
  float r = t[0];
  for (int i = 1; i < 16; ++i) r = std::max(r, t[i]);
  return r;
}

T512 double exp_sum_512(const float* x, int64_t n, float shift, float* out) {
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  const __m512 s = _mm512_set1_ps(shift);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), s));
    e = _mm512_maskz_mov_ps(k, e);
    if (out) _mm512_mask_storeu_ps(out + j, k, e);
    acc_pd(lo, hi, e);
  }
  return hsum_pd(lo, hi);
}

T512 void exp_scaled_512(const float* x, int64_t n, float shift, float scale, float* out) {
  const __m512 s = _mm512_set1_ps(shift), c = _mm512_set1_ps(scale);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    _mm512_mask_storeu_ps(out + j, k, _mm512_mul_ps(c, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), s))));
  }
}

T512 double dot_512(const float* a, const float* b, int64_t n) {
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 va = _mm512_maskz_loadu_ps(k, a + j), vb = _mm512_maskz_loadu_ps(k, b + j);
    lo = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(va)), _mm512_cvtps_pd(_mm512_castps512_ps256(vb)), lo);
    hi = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(va, 1)),
                         _mm512_cvtps_pd(_mm512_extractf32x8_ps(vb, 1)), hi);
  }
  return hsum_pd(lo, hi);
}

T512 void sigmoid_512(const float* x, int64_t n, float* out) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    _mm512_mask_storeu_ps(out + j, k, sigmoid512(_mm512_maskz_loadu_ps(k, x + j)));
  }
}

T512 void silu_512(const float* x, int64_t n, float* out) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + j);
    _mm512_mask_storeu_ps(out + j, k, _mm512_mul_ps(v, sigmoid512(v)));
  }
}

// silu'(x) = s * (1 + x * (1 - s)), s = sigmoid(x)
T512 inline __m512 silu_grad512(__m512 x, __m512 s) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_mul_ps(s, _mm512_fmadd_ps(x, _mm512_sub_ps(one, s), one));
}

T512 void silu_backward_512(const float* dy, const float* x, int64_t n, float* dx) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + j);
    _mm512_mask_storeu_ps(dx + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + j), silu_grad512(v, sigmoid512(v))));
  }
}

T512 void swiglu_512(const float* g, const float* u, int64_t n, float* out) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 v = _mm512_maskz_loadu_ps(k, g + j);
    _mm512_mask_storeu_ps(out + j, k, _mm512_mul_ps(_mm512_mul_ps(v, sigmoid512(v)), _mm512_maskz_loadu_ps(k, u + j)));
  }
}

T512 void swiglu_backward_512(const float* dy, const float* g, const float* u, int64_t n, float* dg, float* du) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 v = _mm512_maskz_loadu_ps(k, g + j), d = _mm512_maskz_loadu_ps(k, dy + j);
    const __m512 s = sigmoid512(v);
    _mm512_mask_storeu_ps(du + j, k, _mm512_mul_ps(d, _mm512_mul_ps(v, s)));
    _mm512_mask_storeu_ps(dg + j, k, _mm512_mul_ps(_mm512_mul_ps(d, _mm512_maskz_loadu_ps(k, u + j)), silu_grad512(v, s)));
  }
}

// ---- AVX2 (reductions and exp rows) ------------------------------------------------------------
#define T256 __attribute__((target("avx2,fma")))

T256 inline __m256 exp256(__m256 x) {
  const __m256 lo_lim = _mm256_set1_ps(-87.33654f), hi_lim = _mm256_set1_ps(88.72283f);
  const __m256 under = _mm256_cmp_ps(x, lo_lim, _CMP_LT_OQ), over = _mm256_cmp_ps(x, hi_lim, _CMP_GT_OQ);
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo_lim), hi_lim);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  // 2^n split in two factors so n = 128 (x near the top of the range) does not overflow the exponent.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i h = _mm256_srai_epi32(ni, 1);
  const __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
  const __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), _mm256_set1_epi32(127)), 23));
  __m256 e = _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
  e = _mm256_blendv_ps(e, _mm256_setzero_ps(), under);
  e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), over);
  return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN in, NaN out
}

T256 inline void acc_pd256(__m256d& lo, __m256d& hi, __m256 v) {
  lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}
T256 inline double hsum_pd256(__m256d lo, __m256d hi) {
  alignas(32) double t[4];
  _mm256_store_pd(t, _mm256_add_pd(lo, hi));
  return (t[0] + t[1]) + (t[2] + t[3]);
}

T256 float max_256(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + j));
  alignas(32) float t[8];
  _mm256_store_ps(t, m);
  float r = t[0];
  for (int i = 1; i < 8; ++i) r = std::max(r, t[i]);
  for (; j < n; ++j) r = std::max(r, x[j]);
  return r;
}

T256 double exp_sum_256(const float* x, int64_t n, float shift, float* out) {
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  const __m256 s = _mm256_set1_ps(shift);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), s));
    if (out) _mm256_storeu_ps(out + j, e);
    acc_pd256(lo, hi, e);
  }
  double sum = hsum_pd256(lo, hi);
  for (; j < n; ++j) {
    const float e = std::exp(x[j] - shift);
    if (out) out[j] = e;
    sum += e;
  }
  return sum;
}

T256 void exp_scaled_256(const float* x, int64_t n, float shift, float scale, float* out) {
  const __m256 s = _mm256_set1_ps(shift), c = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(out + j, _mm256_mul_ps(c, exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), s))));
  for (; j < n; ++j) out[j] = scale * std::exp(x[j] - shift);
}

T256 double dot_256(const float* a, const float* b, int64_t n) {
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 va = _mm256_loadu_ps(a + j), vb = _mm256_loadu_ps(b + j);
    lo = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(va)), _mm256_cvtps_pd(_mm256_castps256_ps128(vb)), lo);
    hi = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(va, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)), hi);
  }
  double sum = hsum_pd256(lo, hi);
  for (; j < n; ++j) sum += static_cast<double>(a[j]) * b[j];
  return sum;
}

}  // namespace

float max(const float* x, int64_t n) {
  if (level() == kAvx512) return max_512(x, n);
  if (level() == kAvx2) return max_256(x, n);
  float m = -INFINITY;
  for (int64_t j = 0; j < n; ++j) m = std::max(m, x[j]);
  return m;
}

double exp_sum(const float* x, int64_t n, float shift, float* out) {
  if (level() == kAvx512) return exp_sum_512(x, n, shift, out);
  if (level() == kAvx2) return exp_sum_256(x, n, shift, out);
  double s = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float e = std::exp(x[j] - shift);
    if (out) out[j] = e;
    s += e;
  }
  return s;
}

void exp_scaled(const float* x, int64_t n, float shift, float scale, float* out) {
  if (level() == kAvx512) return exp_scaled_512(x, n, shift, scale, out);
  if (level() == kAvx2) return exp_scaled_256(x, n, shift, scale, out);
  for (int64_t j = 0; j < n; ++j) out[j] = scale * std::exp(x[j] - shift);
}

double dot(const float* a, const float* b, int64_t n) {
  if (level() == kAvx512) return dot_512(a, b, n);
  if (level() == kAvx2) return dot_256(a, b, n);
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += static_cast<double>(a[j]) * b[j];
  return s;
}

double sumsq(const float* a, int64_t n) { return dot(a, a, n); }

void sigmoid(const float* x, int64_t n, float* out) {
  if (level() == kAvx512) return sigmoid_512(x, n, out);
  for (int64_t j = 0; j < n; ++j) out[j] = sigmoid1(x[j]);
}

void silu(const float* x, int64_t n, float* out) {
  if (level() == kAvx512) return silu_512(x, n, out);
  for (int64_t j = 0; j < n; ++j) out[j] = x[j] * sigmoid1(x[j]);
}

void silu_backward(const float* dy, const float* x, int64_t n, float* dx) {
  if (level() == kAvx512) return silu_backward_512(dy, x, n, dx);
  for (int64_t j = 0; j < n; ++j) {
    const float s = sigmoid1(x[j]);
    dx[j] = dy[j] * (s * (1.f + x[j] * (1.f - s)));
  }
}

void swiglu(const float* g, const float* u, int64_t n, float* out) {
  if (level() == kAvx512) return swiglu_512(g, u, n, out);
  for (int64_t j = 0; j < n; ++j) out[j] = g[j] * sigmoid1(g[j]) * u[j];
}

void swiglu_backward(const float* dy, const float* g, const float* u, int64_t n, float* dg, float* du) {
  if (level() == kAvx512) return swiglu_backward_512(dy, g, u, n, dg, du);
  for (int64_t j = 0; j < n; ++j) {
    const float s = sigmoid1(g[j]);
    du[j] = dy[j] * (g[j] * s);
    dg[j] = dy[j] * u[j] * (s * (1.f + g[j] * (1.f - s)));
  }
}

const char* kernel_name() {
  const Level l = level();
  return l == kAvx512 ? "avx512" : l == kAvx2 ? "avx2" : "scalar";
}

}  // namespace vec
}  // namespace reclin
