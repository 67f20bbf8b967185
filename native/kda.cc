// KDA (Kimi Delta Attention) on CPU: chunked forward and backward (docs/design/kda.md §3, §4.2).
//   kdaForward(q, k, v, g, beta, { scale, initialState, chunkSize })       -> { o, finalState }
//   kdaBackward(q, k, v, g, beta, dO, { scale, initialState, dFinalState, chunkSize })
//                                                 -> { dq, dk, dv, dg, dbeta, dInitialState (null without h0) }
// Layouts: q, k, g [B,T,H,K]; v, o, dO [B,T,H,V]; beta [B,T,H]; states [B,H,K,V]; all f32 on cpu.
// The kernels live in kda_impl.h and are compiled three times below (AVX-512, AVX2+FMA, portable scalar);
// the widest one this CPU supports is chosen at run time. The float64 recurrent reference is test/kda.test.ts.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "binding.h"
#include "shape_rules.h"
#include "threads.h"

// GCC 12 reports false "may be used uninitialized" warnings inside its own AVX-512 intrinsic headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace reclin {

struct KdaProblem {
  int B, T, H, K, V, C;
  float scale;
  const float *q, *k, *v, *g, *beta, *h0;  // h0 may be null (zero initial state)
  float *o, *ht;                           // forward outputs
  const float *dO, *dht;                   // backward inputs (dht may be null)
  float *dq, *dk, *dv, *dg, *dbeta, *dh0;  // backward outputs (dh0 may be null)
};

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")
#endif
namespace kda_avx512 {
#define KDA_ISA_AVX512 1
#include "kda_simd.h"
#include "kda_impl.h"
#undef KDA_ISA_AVX512
}  // namespace kda_avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace kda_avx2 {
#define KDA_ISA_AVX2 1
#include "kda_simd.h"
#include "kda_impl.h"
#undef KDA_ISA_AVX2
}  // namespace kda_avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace kda_scalar {
#define KDA_ISA_SCALAR 1
#include "kda_simd.h"
#include "kda_impl.h"
#undef KDA_ISA_SCALAR
}  // namespace kda_scalar

namespace {

enum class Isa { AVX512, AVX2, Scalar };

Isa pick_isa() {
  static const Isa isa = [] {
    const char* force = std::getenv("RECLIN_KDA_ISA");  // testing aid: "avx2" or "scalar"
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (force && std::string(force) == "scalar") return Isa::Scalar;
    if (force && std::string(force) == "avx2") return avx2 ? Isa::AVX2 : Isa::Scalar;
    return avx512 ? Isa::AVX512 : avx2 ? Isa::AVX2 : Isa::Scalar;
  }();
  return isa;
}

const char* isa_name(Isa i) { return i == Isa::AVX512 ? "avx512" : i == Isa::AVX2 ? "avx2" : "scalar"; }

void run_forward(const KdaProblem& P) {
  switch (pick_isa()) {
    case Isa::AVX512: kda_avx512::forward(P); break;
    case Isa::AVX2: kda_avx2::forward(P); break;
    default: kda_scalar::forward(P);
  }
}
void run_backward(const KdaProblem& P) {
  switch (pick_isa()) {
    case Isa::AVX512: kda_avx512::backward(P); break;
    case Isa::AVX2: kda_avx2::backward(P); break;
    default: kda_scalar::backward(P);
  }
}

void expect_cpu_f32(const Tensor& t, const char* name) {
  expect_dtype(t, DType::F32, name);
  if (t.device.kind != DeviceKind::CPU)
    throw ArgError(std::string(name) + ": expected a cpu tensor, got " + t.device.name());
}

std::vector<int64_t> dims(std::initializer_list<int64_t> l) { return std::vector<int64_t>(l); }

// Reads and checks q, k, v, g, beta and the options shared by forward and backward.
KdaProblem read_problem(const Napi::CallbackInfo& info, const Napi::Object& opts, Tensor* keep) {
  Tensor q = arg_tensor(info, 0, "q"), k = arg_tensor(info, 1, "k"), v = arg_tensor(info, 2, "v");
  Tensor g = arg_tensor(info, 3, "g"), beta = arg_tensor(info, 4, "beta");
  expect_cpu_f32(q, "q");
  expect_ndim(q, 4, "q", "[B,T,H,K]");
  const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), K = q.dim(3);
  expect_cpu_f32(k, "k");
  expect_shape(k, dims({B, T, H, K}), "k", "[B,T,H,K]");
  expect_cpu_f32(v, "v");
  expect_ndim(v, 4, "v", "[B,T,H,V]");
  const int64_t V = v.dim(3);
  expect_shape(v, dims({B, T, H, V}), "v", "[B,T,H,V]");
  expect_cpu_f32(g, "g");
  expect_shape(g, dims({B, T, H, K}), "g", "[B,T,H,K]");
  expect_cpu_f32(beta, "beta");
  expect_shape(beta, dims({B, T, H}), "beta", "[B,T,H]");
  check_int_dims({{"B", B}, {"T", T}, {"H", H}}, "q");  // the kernels index with int
  if (K > 4096 || V > 4096)
    throw ArgError("q/v: head dimensions K = " + std::to_string(K) + ", V = " + std::to_string(V) +
                   " are above the supported 4096");
  Tensor h0 = opt_tensor(opts, "initialState");
  if (h0.defined()) {
    expect_cpu_f32(h0, "initialState");
    expect_shape(h0, dims({B, H, K, V}), "initialState", "[B,H,K,V]");
  }
  const double scale = opt_number(opts, "scale", K > 0 ? 1.0 / std::sqrt(static_cast<double>(K)) : 1.0);
  if (!std::isfinite(scale)) throw ArgError("scale: expected a finite number, got " + std::to_string(scale));
  const double chunk = opt_number(opts, "chunkSize", 64);
  if (chunk != 64 && chunk != 32) throw ArgError("chunkSize: expected 32 or 64, got " + std::to_string(chunk));
  // The decay factorisation needs non-increasing cumulative gates (docs/design/kda.md §3.1): every g must be <= 0.
  const float* gp = g.f32();
  const int64_t ng = g.numel();
  int64_t first_bad = ng;  // the smallest offending index, whatever the thread count
#pragma omp parallel for schedule(static) reduction(min : first_bad)
  for (int64_t i = 0; i < ng; ++i)
    if (!(gp[i] <= 0.0f) && i < first_bad) first_bad = i;
  {
    const int64_t i = first_bad;
    if (i < ng) {
      int64_t rem = i;
      const int64_t d = rem % K;
      rem /= K;
      const int64_t h = rem % H;
      rem /= H;
      const int64_t t = rem % T, b = rem / T;
      throw ArgError("g: expected log decays <= 0 everywhere, got " + std::to_string(gp[i]) + " at [" +
                     std::to_string(b) + "," + std::to_string(t) + "," + std::to_string(h) + "," + std::to_string(d) +
                     "]");
    }
  }
  keep[0] = q, keep[1] = k, keep[2] = v, keep[3] = g, keep[4] = beta, keep[5] = h0;
  KdaProblem P{};
  P.B = static_cast<int>(B), P.T = static_cast<int>(T), P.H = static_cast<int>(H);
  P.K = static_cast<int>(K), P.V = static_cast<int>(V), P.C = static_cast<int>(chunk);
  P.scale = static_cast<float>(scale);
  P.q = q.f32(), P.k = k.f32(), P.v = v.f32(), P.g = g.f32(), P.beta = beta.f32();
  P.h0 = h0.defined() ? h0.f32() : nullptr;
  return P;
}

bool empty_problem(const KdaProblem& P) { return P.B == 0 || P.T == 0 || P.H == 0 || P.K == 0 || P.V == 0; }

Napi::Value KdaForward(const Napi::CallbackInfo& info) {
  Napi::Object opts = arg_object(info, 5, "options");
  Tensor keep[6];
  KdaProblem P = read_problem(info, opts, keep);
  // The kernels write every element of o and finalState (zeros only cover empty problems).
  const bool none = empty_problem(P);
  Tensor o = none ? zeros({P.B, P.T, P.H, P.V}) : empty({P.B, P.T, P.H, P.V});
  Tensor ht = none ? zeros({P.B, P.H, P.K, P.V}) : empty({P.B, P.H, P.K, P.V});
  P.o = o.f32();
  P.ht = ht.f32();
  if (!none) run_forward(P);
  else if (P.h0 && ht.numel()) std::memcpy(ht.f32(), P.h0, ht.nbytes());
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("o", wrap(info.Env(), o));
  out.Set("finalState", wrap(info.Env(), ht));
  return out;
}
RECLIN_EXPORT("kdaForward", KdaForward)

Napi::Value KdaBackward(const Napi::CallbackInfo& info) {
  Napi::Object opts = arg_object(info, 6, "options");
  Tensor keep[6];
  KdaProblem P = read_problem(info, opts, keep);
  Tensor dO = arg_tensor(info, 5, "dO");
  expect_cpu_f32(dO, "dO");
  expect_shape(dO, dims({P.B, P.T, P.H, P.V}), "dO", "[B,T,H,V]");
  Tensor dht = opt_tensor(opts, "dFinalState");
  if (dht.defined()) {
    expect_cpu_f32(dht, "dFinalState");
    expect_shape(dht, dims({P.B, P.H, P.K, P.V}), "dFinalState", "[B,H,K,V]");
  }
  // The kernels write every element of the gradients (zeros only cover empty problems).
  const bool none = empty_problem(P);
  auto alloc = [none](std::vector<int64_t> shape) { return none ? zeros(shape) : empty(shape); };
  Tensor dq = alloc({P.B, P.T, P.H, P.K}), dk = alloc({P.B, P.T, P.H, P.K}), dg = alloc({P.B, P.T, P.H, P.K});
  Tensor dv = alloc({P.B, P.T, P.H, P.V}), dbeta = alloc({P.B, P.T, P.H});
  Tensor dh0;
  if (P.h0) dh0 = alloc({P.B, P.H, P.K, P.V});
  P.dO = dO.f32();
  P.dht = dht.defined() ? dht.f32() : nullptr;
  P.dq = dq.f32(), P.dk = dk.f32(), P.dv = dv.f32(), P.dg = dg.f32(), P.dbeta = dbeta.f32();
  P.dh0 = dh0.defined() ? dh0.f32() : nullptr;
  if (!none) run_backward(P);
  else if (P.dh0 && P.dht && dh0.numel()) std::memcpy(dh0.f32(), P.dht, dh0.nbytes());
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("dq", wrap(env, dq));
  out.Set("dk", wrap(env, dk));
  out.Set("dv", wrap(env, dv));
  out.Set("dg", wrap(env, dg));
  out.Set("dbeta", wrap(env, dbeta));
  out.Set("dInitialState", dh0.defined() ? wrap(env, dh0) : env.Null());
  return out;
}
RECLIN_EXPORT("kdaBackward", KdaBackward)

Napi::Value KdaIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isa_name(pick_isa())); }
RECLIN_EXPORT("kdaIsa", KdaIsa)

}  // namespace
}  // namespace reclin
