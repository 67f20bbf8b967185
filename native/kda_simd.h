// Vector primitives for the KDA kernels, one definition per instruction set.
// Included by kda_impl.h inside a per-ISA namespace and `#pragma GCC target` region (see kda.cc), with exactly
// one of KDA_ISA_AVX512 / KDA_ISA_AVX2 / KDA_ISA_SCALAR defined. No include guard on purpose.
//
// VF is one register of W floats. Every buffer the kernels touch is padded to a multiple of 16 floats, so
// loads and stores never need masks.

#if defined(KDA_ISA_AVX512)

struct VF {
  __m512 v;
};
static constexpr int W = 16;
static inline VF vzero() { return {_mm512_setzero_ps()}; }
static inline VF vset(float x) { return {_mm512_set1_ps(x)}; }
static inline VF vld(const float* p) { return {_mm512_loadu_ps(p)}; }
static inline void vst(float* p, VF a) { _mm512_storeu_ps(p, a.v); }
static inline VF vadd(VF a, VF b) { return {_mm512_add_ps(a.v, b.v)}; }
static inline VF vsub(VF a, VF b) { return {_mm512_sub_ps(a.v, b.v)}; }
static inline VF vmul(VF a, VF b) { return {_mm512_mul_ps(a.v, b.v)}; }
static inline VF vfma(VF a, VF b, VF c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }    // a*b + c
static inline VF vfnma(VF a, VF b, VF c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }  // c - a*b
static inline float vsum(VF a) { return _mm512_reduce_add_ps(a.v); }
static inline void vst_stream(float* p, VF a) { _mm512_stream_ps(p, a.v); }  // p 64-byte aligned

// exp(x) for x <= 0 (Cody-Waite reduction + Cephes-style degree-7 polynomial, ~1 ulp). x < ln(FLT_MIN) gives 0.
static inline VF vexp(VF x) {
  const __m512 lo = _mm512_set1_ps(-87.33654f);
  __mmask16 tiny = _mm512_cmp_ps_mask(x.v, lo, _CMP_LT_OQ);
  __m512 xc = _mm512_max_ps(x.v, lo);
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  __m512 y = _mm512_scalef_ps(p, n);
  return {_mm512_mask_mov_ps(y, tiny, _mm512_setzero_ps())};
}

// 16x16 transpose of a tile: out[j*ldo + i] = in[i*ldi + j].
static inline void transpose_tile(const float* in, long ldi, float* out, long ldo) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(in + i * ldi);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(out + i * ldo, r[i]);
}
static constexpr int TILE = 16;
static constexpr int GEMM_MR = 6;  // 6 x 64 accumulator tile: 24 of the 32 zmm registers
static constexpr int GEMM_NV = 4;

#elif defined(KDA_ISA_AVX2)

struct VF {
  __m256 v;
};
static constexpr int W = 8;
static inline VF vzero() { return {_mm256_setzero_ps()}; }
static inline VF vset(float x) { return {_mm256_set1_ps(x)}; }
static inline VF vld(const float* p) { return {_mm256_loadu_ps(p)}; }
static inline void vst(float* p, VF a) { _mm256_storeu_ps(p, a.v); }
static inline VF vadd(VF a, VF b) { return {_mm256_add_ps(a.v, b.v)}; }
static inline VF vsub(VF a, VF b) { return {_mm256_sub_ps(a.v, b.v)}; }
static inline VF vmul(VF a, VF b) { return {_mm256_mul_ps(a.v, b.v)}; }
static inline VF vfma(VF a, VF b, VF c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
static inline VF vfnma(VF a, VF b, VF c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
static inline void vst_stream(float* p, VF a) { _mm256_stream_ps(p, a.v); }  // p 32-byte aligned
static inline float vsum(VF a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline VF vexp(VF x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  __m256 tiny = _mm256_cmp_ps(x.v, lo, _CMP_LT_OQ);
  __m256 xc = _mm256_max_ps(x.v, lo);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n via the exponent field; n >= -126 because x >= ln(FLT_MIN).
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return {_mm256_andnot_ps(tiny, y)};
}
// 8x8 transpose: out[j*ldo + i] = in[i*ldi + j].
static inline void transpose_tile(const float* in, long ldi, float* out, long ldo) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + i * ldi);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + i * ldo, t[i]);
}
static constexpr int TILE = 8;
static constexpr int GEMM_MR = 4;  // 4 x 24 accumulator tile: 12 of the 16 ymm registers
static constexpr int GEMM_NV = 3;

#else  // portable scalar fallback

struct VF {
  float v;
};
static constexpr int W = 1;
static inline VF vzero() { return {0.0f}; }
static inline VF vset(float x) { return {x}; }
static inline VF vld(const float* p) { return {*p}; }
static inline void vst(float* p, VF a) { *p = a.v; }
static inline VF vadd(VF a, VF b) { return {a.v + b.v}; }
static inline VF vsub(VF a, VF b) { return {a.v - b.v}; }
static inline VF vmul(VF a, VF b) { return {a.v * b.v}; }
static inline VF vfma(VF a, VF b, VF c) { return {std::fma(a.v, b.v, c.v)}; }
static inline VF vfnma(VF a, VF b, VF c) { return {std::fma(-a.v, b.v, c.v)}; }
static inline float vsum(VF a) { return a.v; }
static inline void vst_stream(float* p, VF a) { *p = a.v; }
static inline VF vexp(VF x) { return {x.v < -87.33654f ? 0.0f : std::exp(x.v)}; }
static inline void transpose_tile(const float* in, long ldi, float* out, long ldo) { out[0] = in[0]; (void)ldi; (void)ldo; }
static constexpr int TILE = 1;
static constexpr int GEMM_MR = 4;
static constexpr int GEMM_NV = 4;

#endif
