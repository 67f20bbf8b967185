// Causal depthwise short convolution over time (Kimi/fla ShortConvolution without activation):
//   y[b,t,c] = sum_j w[c,j] * x[b, t-W+1+j, c]   (x = 0 before t = 0)
#include <algorithm>

#include "op_util.h"

namespace reclin {
namespace {

void check_conv(const Tensor& x, const Tensor& w) { expect_conv_shapes(x, w); }

// w [C,W] -> wt [W,C] so the inner loops run over contiguous channels.
std::vector<float> transpose_w(const Tensor& w) {
  const int64_t C = w.dim(0), W = w.dim(1);
  std::vector<float> wt(static_cast<size_t>(C * W));
  const float* pw = w.f32();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < W; ++j) wt[j * C + c] = pw[c * W + j];
  return wt;
}

// o[c] += w[c] * x[c] and a[c] += g[c] * x[c] (in double): the inner loops, compiled for AVX-512, AVX2 and
// baseline x86-64 and picked once at load time (GCC target_clones).
__attribute__((target_clones("avx512f", "avx2", "default")))
void mul_add_row(float* o, const float* w, const float* x, int64_t n) {
  for (int64_t c = 0; c < n; ++c) o[c] += w[c] * x[c];
}
__attribute__((target_clones("avx512f", "avx2", "default")))
void mul_add_row_f64(double* a, const float* g, const float* x, int64_t n) {
  for (int64_t c = 0; c < n; ++c) a[c] += static_cast<double>(g[c]) * x[c];
}

// shortConv(x [B,T,C], w [C,W]) -> y [B,T,C]
Napi::Value ShortConv(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x"), w = arg_f32(info, 1, "w");
  check_conv(x, w);
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2), W = w.dim(1);
  std::vector<float> wt = transpose_w(w);
  Tensor y = empty(x.shape);
  const float* px = x.f32();
  float* py = y.f32();
#pragma omp parallel for schedule(static) if (x.numel() * W > kParallelGrain)
  for (int64_t bt = 0; bt < B * T; ++bt) {
    const int64_t b = bt / T, t = bt % T;
    float* o = py + bt * C;
    for (int64_t c = 0; c < C; ++c) o[c] = 0.f;
    for (int64_t j = std::max<int64_t>(0, W - 1 - t); j < W; ++j) {
      const float* xs = px + (b * T + t - W + 1 + j) * C;
      mul_add_row(o, wt.data() + j * C, xs, C);
    }
  }
  return wrap(info.Env(), y);
}
RECLIN_EXPORT("shortConv", ShortConv)

// shortConvBackward(dy, x, w) -> { dx, dw }
//   dx[b,s,c] = sum_j w[c,j] * dy[b, s+W-1-j, c];   dw[c,j] = sum_{b,t} dy[b,t,c] * x[b,t-W+1+j,c]
Napi::Value ShortConvBackward(const Napi::CallbackInfo& info) {
  Tensor dy = arg_f32(info, 0, "dy"), x = arg_f32(info, 1, "x"), w = arg_f32(info, 2, "w");
  check_conv(x, w);
  expect_same_shape(dy, x, "dy", "x");
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2), W = w.dim(1);
  std::vector<float> wt = transpose_w(w);
  Tensor dx = empty(x.shape), dw = empty({C, W});
  const float *px = x.f32(), *pg = dy.f32();
  float *pdx = dx.f32(), *pdw = dw.f32();
#pragma omp parallel for schedule(static) if (x.numel() * W > kParallelGrain)
  for (int64_t bs = 0; bs < B * T; ++bs) {
    const int64_t b = bs / T, s = bs % T;
    float* o = pdx + bs * C;
    for (int64_t c = 0; c < C; ++c) o[c] = 0.f;
    for (int64_t j = 0; j < W; ++j) {
      const int64_t t = s + W - 1 - j;
      if (t >= T) continue;
      mul_add_row(o, wt.data() + j * C, pg + (b * T + t) * C, C);
    }
  }
  // dw: each task owns a slice of channels and sums over (b, t) in order, in double. A channel's sum does not
  // depend on the slicing, so the slice width may follow the thread count.
  const int64_t CB = std::max<int64_t>(16, std::min<int64_t>(256, (C + 2 * num_threads() - 1) / (2 * num_threads())));
  const int64_t n_slices = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (x.numel() * W > kParallelGrain)
  for (int64_t sl = 0; sl < n_slices; ++sl) {
    const int64_t c0 = sl * CB, nc = std::min(CB, C - c0);
    std::vector<double> acc(static_cast<size_t>(W * nc), 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        const float* g = pg + (b * T + t) * C + c0;
        for (int64_t j = std::max<int64_t>(0, W - 1 - t); j < W; ++j)
          mul_add_row_f64(acc.data() + j * nc, g, px + (b * T + t - W + 1 + j) * C + c0, nc);
      }
    for (int64_t c = 0; c < nc; ++c)
      for (int64_t j = 0; j < W; ++j) pdw[(c0 + c) * W + j] = static_cast<float>(acc[j * nc + c]);
  }
  Napi::Object res = result_object(info.Env());
  res.Set("dx", wrap(info.Env(), dx));
  res.Set("dw", wrap(info.Env(), dw));
  return res;
}
RECLIN_EXPORT("shortConvBackward", ShortConvBackward)

}  // namespace
}  // namespace reclin
