// Row normalisations over the last dimension: RMSNorm (with optional weight; its row kernels are in
// rmsnorm_rows.h, shared with MLA's latent norm) and L2 normalisation, forward and backward. Row statistics
// accumulate in double; weight gradients are summed over fixed row chunks combined in order, so they do not
// depend on the thread count.
#include <cmath>

#include "op_util.h"
#include "rmsnorm_rows.h"
#include "vec_math.h"

namespace reclin {
namespace {

Tensor opt_weight(const Napi::CallbackInfo& info, size_t i, int64_t D) {
  if (arg_is_undefined(info, i)) return Tensor();
  Tensor w = arg_f32(info, i, "weight");
  expect_shape(w, {D}, "weight", "[D]");
  return w;
}

// rmsnorm(x [...,D], weight [D] | null, eps) -> { y, rstd [...] }
Napi::Value Rmsnorm(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x");
  expect_min_ndim(x, 1, "x", "[...,D]");
  const int64_t D = x.dim(-1), R = leading_rows(x);
  Tensor w = opt_weight(info, 1, D);
  const double eps = arg_number(info, 2, "eps");
  Tensor y = empty(x.shape), rstd = empty(without_last(x.shape));
  rmsnorm_rows(x.f32(), D, w.defined() ? w.f32() : nullptr, eps, R, D, y.f32(), D, rstd.f32(), x.numel() > kParallelGrain);
  Napi::Object res = result_object(info.Env());
  res.Set("y", wrap(info.Env(), y));
  res.Set("rstd", wrap(info.Env(), rstd));
  return res;
}
RECLIN_EXPORT("rmsnorm", Rmsnorm)

// rmsnormBackward(dy, x, weight | null, rstd) -> { dx, dWeight | null }
//   dx = rstd * (g - x * rstd^2 * mean(g * x)),  g = dy * weight;   dWeight = sum_rows dy * x * rstd
Napi::Value RmsnormBackward(const Napi::CallbackInfo& info) {
  Tensor dy = arg_f32(info, 0, "dy");
  Tensor x = arg_f32(info, 1, "x");
  expect_min_ndim(x, 1, "x", "[...,D]");
  expect_same_shape(dy, x, "dy", "x");
  const int64_t D = x.dim(-1), R = leading_rows(x);
  Tensor w = opt_weight(info, 2, D);
  Tensor rstd = arg_f32(info, 3, "rstd");
  expect_shape(rstd, without_last(x.shape), "rstd", "[...] (x's shape without D)");
  Tensor dx = empty(x.shape);
  const float *pdy = dy.f32(), *px = x.f32(), *pr = rstd.f32();
  const float* pw = w.defined() ? w.f32() : nullptr;
  const bool parallel = x.numel() > kParallelGrain;
  rmsnorm_backward_rows(pdy, D, px, D, pw, pr, R, D, dx.f32(), D, false, parallel);
  Napi::Object res = result_object(info.Env());
  res.Set("dx", wrap(info.Env(), dx));
  if (!pw) {
    res.Set("dWeight", info.Env().Null());
    return res;
  }
  Tensor dw = empty({D});
  rmsnorm_weight_grad(pdy, D, px, D, pr, R, D, dw.f32(), parallel);
  res.Set("dWeight", wrap(info.Env(), dw));
  return res;
}
RECLIN_EXPORT("rmsnormBackward", RmsnormBackward)

// l2norm(x [...,D], eps) -> { y = x * rnorm, rnorm = 1/sqrt(sum x^2 + eps) [...] }
Napi::Value L2norm(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x");
  expect_min_ndim(x, 1, "x", "[...,D]");
  const double eps = arg_number(info, 1, "eps");
  const int64_t D = x.dim(-1), R = leading_rows(x);
  Tensor y = empty(x.shape), rn = empty(without_last(x.shape));
  const float* px = x.f32();
  float *py = y.f32(), *pr = rn.f32();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* a = px + r * D;
    const float rs = static_cast<float>(1.0 / std::sqrt(vec::sumsq(a, D) + eps));
    pr[r] = rs;
    for (int64_t j = 0; j < D; ++j) py[r * D + j] = a[j] * rs;
  }
  Napi::Object res = result_object(info.Env());
  res.Set("y", wrap(info.Env(), y));
  res.Set("rnorm", wrap(info.Env(), rn));
  return res;
}
RECLIN_EXPORT("l2norm", L2norm)

// l2normBackward(dy, y, rnorm) -> dx = rnorm * (dy - y * sum(dy * y))
Napi::Value L2normBackward(const Napi::CallbackInfo& info) {
  Tensor dy = arg_f32(info, 0, "dy");
  Tensor y = arg_f32(info, 1, "y");
  expect_min_ndim(y, 1, "y", "[...,D]");
  expect_same_shape(dy, y, "dy", "y");
  Tensor rn = arg_f32(info, 2, "rnorm");
  expect_shape(rn, without_last(y.shape), "rnorm", "[...] (y's shape without D)");
  const int64_t D = y.dim(-1), R = leading_rows(y);
  Tensor dx = empty(y.shape);
  const float *pdy = dy.f32(), *py = y.f32(), *pr = rn.f32();
  float* pdx = dx.f32();
#pragma omp parallel for schedule(static) if (y.numel() > kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float *g = pdy + r * D, *a = py + r * D;
    const float d = static_cast<float>(vec::dot(g, a, D)), rs = pr[r];
    for (int64_t j = 0; j < D; ++j) pdx[r * D + j] = rs * (g[j] - a[j] * d);
  }
  return wrap(info.Env(), dx);
}
RECLIN_EXPORT("l2normBackward", L2normBackward)

}  // namespace
}  // namespace reclin
