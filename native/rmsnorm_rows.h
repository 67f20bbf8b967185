// RMSNorm over rows given by pointer and row stride, forward and backward: the one implementation behind
// rmsnorm / rmsnormBackward (norm.cc, contiguous rows) and MLA's latent norm (mla.cc, the first `D` columns of
// each row of kv_a_proj's wider output, read in place). Row statistics accumulate in double; the weight gradient
// is summed over fixed row chunks combined in order, so no result depends on the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "vec_math.h"

namespace reclin {

// y[r, :D] = x[r, :D] * rstd[r] * w (w may be null), rstd[r] = 1 / sqrt(mean(x[r, :D]^2) + eps).
inline void rmsnorm_rows(const float* x, int64_t ldx, const float* w, double eps, int64_t R, int64_t D, float* y,
                         int64_t ldy, float* rstd, bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < R; ++r) {
    const float* a = x + r * ldx;
    float* o = y + r * ldy;
    const float rs = static_cast<float>(1.0 / std::sqrt(vec::sumsq(a, D) / static_cast<double>(D) + eps));
    rstd[r] = rs;
    if (w)
      for (int64_t j = 0; j < D; ++j) o[j] = a[j] * rs * w[j];
    else
      for (int64_t j = 0; j < D; ++j) o[j] = a[j] * rs;
  }
}

// dx[r, :D] = rstd * (g - x * rstd^2 * mean(g * x)), g = dy * w (w may be null); written, or added into dx
// when `add` (a gradient already held for x).
inline void rmsnorm_backward_rows(const float* dy, int64_t lddy, const float* x, int64_t ldx, const float* w,
                                  const float* rstd, int64_t R, int64_t D, float* dx, int64_t lddx, bool add,
                                  bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < R; ++r) {
    static thread_local std::vector<float> row;
    row.resize(static_cast<size_t>(D));
    float* g = row.data();
    const float *d = dy + r * lddy, *a = x + r * ldx;
    float* o = dx + r * lddx;
    const float rs = rstd[r];
    if (w)
      for (int64_t j = 0; j < D; ++j) g[j] = d[j] * w[j];
    else
      for (int64_t j = 0; j < D; ++j) g[j] = d[j];
    const float c = static_cast<float>(vec::dot(g, a, D) / static_cast<double>(D)) * rs * rs;
    if (add)
      for (int64_t j = 0; j < D; ++j) o[j] += rs * (g[j] - a[j] * c);
    else
      for (int64_t j = 0; j < D; ++j) o[j] = rs * (g[j] - a[j] * c);
  }
}

// dw[j] = sum_r dy[r, j] * x[r, j] * rstd[r]: a double partial per fixed chunk of rows, added in chunk order.
inline void rmsnorm_weight_grad(const float* dy, int64_t lddy, const float* x, int64_t ldx, const float* rstd,
                                int64_t R, int64_t D, float* dw, bool parallel) {
  const int64_t n_chunks = std::max<int64_t>(1, std::min<int64_t>(R, 32));
  const int64_t chunk = (R + n_chunks - 1) / n_chunks;
  std::vector<double> part(static_cast<size_t>(n_chunks * D), 0.0);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < n_chunks; ++c) {
    double* acc = part.data() + c * D;
    for (int64_t r = c * chunk; r < std::min(R, (c + 1) * chunk); ++r) {
      const float *g = dy + r * lddy, *a = x + r * ldx;
      const float rs = rstd[r];
      for (int64_t j = 0; j < D; ++j) acc[j] += static_cast<double>(g[j] * a[j] * rs);
    }
  }
  for (int64_t j = 0; j < D; ++j) {
    double s = 0;
    for (int64_t c = 0; c < n_chunks; ++c) s += part[c * D + j];
    dw[j] = static_cast<float>(s);
  }
}

}  // namespace reclin
