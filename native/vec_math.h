// Vectorised row primitives for the op kernels (AVX-512 / AVX2 / portable, chosen at run time).
// Sums accumulate in double in a fixed lane order, so each result depends only on the inputs (and the
// CPU's kernel choice), never on threads. exp is a range-reduced degree-6 polynomial (<= 2 ulp in the
// normal range; exact 0 / inf at the ends, NaN propagates).
#pragma once
#include <cstdint>

namespace reclin {
namespace vec {

const char* kernel_name();  // "avx512" | "avx2" | "scalar": the variant this CPU runs (RECLIN_VEC forces one)
float max(const float* x, int64_t n);  // -inf when n == 0
// Sum of exp(x[j] - shift) in double; also writes out[j] = exp(x[j] - shift) when out is not null.
double exp_sum(const float* x, int64_t n, float shift, float* out);
// out[j] = scale * exp(x[j] - shift)  (out may alias x)
void exp_scaled(const float* x, int64_t n, float shift, float scale, float* out);
double dot(const float* a, const float* b, int64_t n);
double sumsq(const float* a, int64_t n);
void sigmoid(const float* x, int64_t n, float* out);
void silu(const float* x, int64_t n, float* out);
void silu_backward(const float* dy, const float* x, int64_t n, float* dx);
void swiglu(const float* gate, const float* up, int64_t n, float* out);
void swiglu_backward(const float* dy, const float* gate, const float* up, int64_t n, float* dgate, float* dup);

}  // namespace vec
}  // namespace reclin
