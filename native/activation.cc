// Gate activations and their backward: sigmoid, SiLU, softplus (torch's threshold 20) and SwiGLU.
#include <cmath>

#include "op_util.h"
#include "vec_math.h"

namespace reclin {
namespace {

inline float sigmoid(float x) {
  if (x >= 0.f) return 1.f / (1.f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.f + e);
}
inline float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }

// Runs f(lo, hi) over fixed chunks of [0, n), in parallel when big enough.
template <class F>
void chunked(int64_t n, F f) {
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) f(b * kBlock, std::min(n, (b + 1) * kBlock));
}

template <class F>
Tensor map1(const Tensor& x, F f) {
  Tensor y = empty(x.shape);
  const float* px = x.f32();
  float* py = y.f32();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  return y;
}

template <class F>
Tensor map2(const Tensor& a, const Tensor& b, F f) {
  Tensor y = empty(a.shape);
  const float *pa = a.f32(), *pb = b.f32();
  float* py = y.f32();
  const int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) py[i] = f(pa[i], pb[i]);
  return y;
}

// activation(x, kind): kind = sigmoid | silu | softplus
Napi::Value Activation(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x");
  std::string kind = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  Tensor y;
  if (kind == "sigmoid" || kind == "silu") {
    y = empty(x.shape);
    const float* px = x.f32();
    float* py = y.f32();
    const bool sig = kind == "sigmoid";
    chunked(x.numel(), [&](int64_t lo, int64_t hi) {
      if (sig) vec::sigmoid(px + lo, hi - lo, py + lo);
      else vec::silu(px + lo, hi - lo, py + lo);
    });
  }
  else if (kind == "softplus") y = map1(x, softplus);
  else throw ArgError("kind: unknown activation '" + kind + "' (allowed: sigmoid, silu, softplus)");
  return wrap(info.Env(), y);
}
RECLIN_EXPORT("activation", Activation)

// activationBackward(dy, t, kind): t is x for silu/softplus and the output y for sigmoid.
Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  Tensor dy = arg_f32(info, 0, "dy");
  std::string kind = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  const char* tname = kind == "sigmoid" ? "y" : "x";
  Tensor t = arg_f32(info, 1, tname);
  expect_same_shape(dy, t, "dy", tname);
  Tensor dx;
  if (kind == "sigmoid") dx = map2(dy, t, [](float g, float y) { return g * y * (1.f - y); });
  else if (kind == "silu") {
    dx = empty(dy.shape);
    const float *pg = dy.f32(), *px = t.f32();
    float* pd = dx.f32();
    chunked(dy.numel(), [&](int64_t lo, int64_t hi) { vec::silu_backward(pg + lo, px + lo, hi - lo, pd + lo); });
  }
  else if (kind == "softplus") dx = map2(dy, t, [](float g, float x) { return x > 20.f ? g : g * sigmoid(x); });
  else throw ArgError("kind: unknown activation '" + kind + "' (allowed: sigmoid, silu, softplus)");
  return wrap(info.Env(), dx);
}
RECLIN_EXPORT("activationBackward", ActivationBackward)

// swiglu(gate, up) = silu(gate) * up
Napi::Value Swiglu(const Napi::CallbackInfo& info) {
  Tensor gate = arg_f32(info, 0, "gate"), up = arg_f32(info, 1, "up");
  expect_same_shape(up, gate, "up", "gate");
  Tensor y = empty(gate.shape);
  const float *pg = gate.f32(), *pu = up.f32();
  float* py = y.f32();
  chunked(gate.numel(), [&](int64_t lo, int64_t hi) { vec::swiglu(pg + lo, pu + lo, hi - lo, py + lo); });
  return wrap(info.Env(), y);
}
RECLIN_EXPORT("swiglu", Swiglu)

// swigluBackward(dy, gate, up) -> { dGate = dy * up * silu'(gate), dUp = dy * silu(gate) }
Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  Tensor dy = arg_f32(info, 0, "dy"), gate = arg_f32(info, 1, "gate"), up = arg_f32(info, 2, "up");
  expect_same_shape(gate, dy, "gate", "dy");
  expect_same_shape(up, dy, "up", "dy");
  Tensor dg = empty(dy.shape), du = empty(dy.shape);
  const float *pdy = dy.f32(), *pg = gate.f32(), *pu = up.f32();
  float *pdg = dg.f32(), *pdu = du.f32();
  chunked(dy.numel(), [&](int64_t lo, int64_t hi) {
    vec::swiglu_backward(pdy + lo, pg + lo, pu + lo, hi - lo, pdg + lo, pdu + lo);
  });
  Napi::Object res = result_object(info.Env());
  res.Set("dGate", wrap(info.Env(), dg));
  res.Set("dUp", wrap(info.Env(), du));
  return res;
}
RECLIN_EXPORT("swigluBackward", SwigluBackward)

}  // namespace
}  // namespace reclin
