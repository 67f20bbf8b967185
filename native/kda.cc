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
#include "fused_rules.h"
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

// What the CPU kernels accept (fused_rules.h holds the rules both backends share): f32 only, head dimensions up
// to 4096 (the per-thread scratch), no launch-grid limits.
constexpr KdaLimits kCpuLimits{DeviceKind::CPU, false, 4096, 0, 0};

// Reads and checks q, k, v, g, beta, the options and (backward) dO and dFinalState.
KdaProblem read_problem(const Napi::CallbackInfo& info, const Napi::Object& opts, bool backward, KdaTensors& a) {
  a.q = arg_tensor(info, 0, "q"), a.k = arg_tensor(info, 1, "k"), a.v = arg_tensor(info, 2, "v");
  a.g = arg_tensor(info, 3, "g"), a.beta = arg_tensor(info, 4, "beta");
  a.h0 = opt_tensor(opts, "initialState");
  if (backward) a.dO = arg_tensor(info, 5, "dO"), a.dht = opt_tensor(opts, "dFinalState");
  const KdaDims dm = kda_rules(a, opts, kCpuLimits, backward);
  const int64_t K = dm.K, H = dm.H, T = dm.T;
  const Tensor& g = a.g;
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
      throw ArgError("g: expected log decays <= 0 everywhere, got " + js_number_text(gp[i]) + " at [" +
                     std::to_string(b) + "," + std::to_string(t) + "," + std::to_string(h) + "," + std::to_string(d) +
                     "]");
    }
  }
  KdaProblem P{};
  P.B = static_cast<int>(dm.B), P.T = static_cast<int>(T), P.H = static_cast<int>(H);
  P.K = static_cast<int>(K), P.V = static_cast<int>(dm.V), P.C = static_cast<int>(dm.C);
  P.scale = static_cast<float>(dm.scale);
  P.q = a.q.f32(), P.k = a.k.f32(), P.v = a.v.f32(), P.g = g.f32(), P.beta = a.beta.f32();
  P.h0 = a.h0.defined() ? a.h0.f32() : nullptr;
  P.dO = a.dO.defined() ? a.dO.f32() : nullptr;
  P.dht = a.dht.defined() ? a.dht.f32() : nullptr;
  return P;
}

bool empty_problem(const KdaProblem& P) { return P.B == 0 || P.T == 0 || P.H == 0 || P.K == 0 || P.V == 0; }

Napi::Value KdaForward(const Napi::CallbackInfo& info) {
  Napi::Object opts = arg_object(info, 5, "options");
  KdaTensors keep;
  KdaProblem P = read_problem(info, opts, false, keep);
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
  KdaTensors keep;
  KdaProblem P = read_problem(info, opts, true, keep);
  // The kernels write every element of the gradients (zeros only cover empty problems).
  const bool none = empty_problem(P);
  auto alloc = [none](std::vector<int64_t> shape) { return none ? zeros(shape) : empty(shape); };
  Tensor dq = alloc({P.B, P.T, P.H, P.K}), dk = alloc({P.B, P.T, P.H, P.K}), dg = alloc({P.B, P.T, P.H, P.K});
  Tensor dv = alloc({P.B, P.T, P.H, P.V}), dbeta = alloc({P.B, P.T, P.H});
  Tensor dh0;
  if (P.h0) dh0 = alloc({P.B, P.H, P.K, P.V});
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
