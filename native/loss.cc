// Cross-entropy over the last dimension with an ignore index, forward (per-row loss and log-sum-exp) and
// backward (softmax minus one-hot, scaled by the per-row upstream gradient).
#include <cmath>

#include "op_util.h"
#include "vec_math.h"

namespace reclin {
namespace {

void check_targets(const Tensor& logits, const Tensor& targets, int64_t ignore) {
  expect_ndim(logits, 2, "logits", "[N,V]");
  expect_shape(targets, {logits.dim(0)}, "targets", "[N]");
  const int32_t* t = targets.i32();
  const int64_t V = logits.dim(1);
  for (int64_t i = 0; i < targets.numel(); ++i)
    if (t[i] != ignore && (t[i] < 0 || t[i] >= V))
      throw ArgError("targets: target " + std::to_string(t[i]) + " at row " + std::to_string(i) +
                     " is out of range [0, " + std::to_string(V) + ") and is not ignoreIndex (" +
                     std::to_string(ignore) + ")");
}

int64_t ignore_of(const Napi::Object& opts) {
  return opt_int(opts, "ignoreIndex", -100);
}

// crossEntropy(logits [N,V], targets i32 [N], { ignoreIndex }) -> { loss [N], lse [N] }
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  Tensor logits = arg_f32(info, 0, "logits");
  Tensor targets = arg_i32(info, 1, "targets");
  const int64_t ignore = ignore_of(arg_object(info, 2, "options"));
  check_targets(logits, targets, ignore);
  const int64_t N = logits.dim(0), V = logits.dim(1);
  Tensor loss = empty({N}), lse = empty({N});
  const float* px = logits.f32();
  const int32_t* pt = targets.i32();
  float *ploss = loss.f32(), *plse = lse.f32();
#pragma omp parallel for schedule(static) if (N * V > kParallelGrain)
  for (int64_t n = 0; n < N; ++n) {
    const float* x = px + n * V;
    const float m = vec::max(x, V);
    const float l = m + static_cast<float>(std::log(vec::exp_sum(x, V, m, nullptr)));
    plse[n] = l;
    ploss[n] = pt[n] == ignore ? 0.f : l - x[pt[n]];
  }
  Napi::Object res = result_object(info.Env());
  res.Set("loss", wrap(info.Env(), loss));
  res.Set("lse", wrap(info.Env(), lse));
  return res;
}
RECLIN_EXPORT("crossEntropy", CrossEntropy)

// crossEntropyBackward(dLoss [N], logits, targets, lse, { ignoreIndex }) -> dLogits [N,V]
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Tensor dloss = arg_f32(info, 0, "dLoss");
  Tensor logits = arg_f32(info, 1, "logits");
  Tensor targets = arg_i32(info, 2, "targets");
  Tensor lse = arg_f32(info, 3, "lse");
  const int64_t ignore = ignore_of(arg_object(info, 4, "options"));
  check_targets(logits, targets, ignore);
  const int64_t N = logits.dim(0), V = logits.dim(1);
  expect_shape(dloss, {N}, "dLoss", "[N]");
  expect_shape(lse, {N}, "lse", "[N]");
  Tensor dx = empty({N, V});
  const float *px = logits.f32(), *pg = dloss.f32(), *pl = lse.f32();
  const int32_t* pt = targets.i32();
  float* pdx = dx.f32();
#pragma omp parallel for schedule(static) if (N * V > kParallelGrain)
  for (int64_t n = 0; n < N; ++n) {
    const float* x = px + n * V;
    float* o = pdx + n * V;
    if (pt[n] == ignore) {
      for (int64_t j = 0; j < V; ++j) o[j] = 0.f;
      continue;
    }
    const float g = pg[n], l = pl[n];
    vec::exp_scaled(x, V, l, g, o);
    o[pt[n]] -= g;
  }
  return wrap(info.Env(), dx);
}
RECLIN_EXPORT("crossEntropyBackward", CrossEntropyBackward)

}  // namespace
}  // namespace reclin
