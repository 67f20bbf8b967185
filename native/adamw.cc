// Fused AdamW: one call updates many f32 tensors in place (params, m, v), with PyTorch's torch.optim.AdamW
// semantics (non-amsgrad, non-maximize):
//   p  = p * (1 - lr*wd)                                (decoupled weight decay, before the Adam update)
//   m  = lerp(m, g, 1-beta1)                            (= beta1*m + (1-beta1)*g)
//   v  = beta2*v + (1-beta2)*g*g
//   denom = sqrt(v) / sqrt(1 - beta2^step) + eps
//   p  = p - (lr / (1 - beta1^step)) * m / denom
// Rounding follows torch's fused CPU kernel (ATen FusedAdamKernel, torch 2.13 with AVX2/AVX-512 vectors), which we
// match bit for bit on this machine: scalar coefficients computed in double and rounded to f32 once;
// m = fma(w', g - m, base) with (w', base) = (w, m) if w = 1-beta1 < 0.5 else (w - 1, g) (ATen's lerp);
// v = fma((1-beta2)*g, g, v*beta2); every other step unfused, in the order written above. The single-tensor
// path (adam.py) computes the same formula with different roundings (it agrees to ~1e-7 relative).
// Only those two FMAs are fused (fp-contract is off below), and the scalar path uses std::fma, so the AVX-512,
// AVX2 and scalar paths give bit-identical results (tails use masked loads/stores, so every element goes through
// the same instructions).
//
// The work is memory-bandwidth bound (7 f32 streams per element), so it is one pass over fixed-size blocks,
// spread over threads with a static schedule. Elementwise with no reduction: results do not depend on the thread
// count at all.
#include <immintrin.h>

#include <cmath>
#include <string>
#include <vector>

#include "binding.h"
#include "fused_rules.h"
#include "threads.h"

// GCC contracts a*b + c into an FMA even across intrinsics (it is allowed to by default, and AVX-512F implies
// FMA). Turn that off for this file so that only the FMAs written out are fused, on every path.
#pragma GCC optimize("fp-contract=off")

namespace reclin {
namespace {

struct AdamWCoeffs {
  float decay;       // 1 - lr*wd
  float lerp_w;
  bool lerp_base_is_g;  // m = fma(lerp_w, g - m, base), base = g if lerp_base_is_g else m
  float beta2, one_minus_beta2;
  float bc2_sqrt;    // sqrt(1 - beta2^step)
  float eps;
  float step_size;   // lr / (1 - beta1^step)
};

// One contiguous run of elements of one tensor.
struct Block {
  float* p;
  const float* g;
  float* m;
  float* v;
  int64_t n;
};

void adamw_scalar(const Block& b, const AdamWCoeffs& c) {
  for (int64_t i = 0; i < b.n; ++i) {
    // Compiled for baseline x86-64 (no FMA), so nothing is contracted: same rounding as the SIMD paths.
    float p = b.p[i] * c.decay;
    float g = b.g[i];
    float m = std::fma(c.lerp_w, g - b.m[i], c.lerp_base_is_g ? g : b.m[i]);
    float v = std::fma(c.one_minus_beta2 * g, g, b.v[i] * c.beta2);
    float denom = std::sqrt(v) / c.bc2_sqrt + c.eps;
    b.m[i] = m;
    b.v[i] = v;
    b.p[i] = p - (c.step_size * m) / denom;
  }
}

// AVX2 has no masked arithmetic, only masked loads/stores; masked-off lanes load as 0 (v = 0 gives denom = eps,
// harmless, and they are never stored).
__attribute__((target("avx2,fma"))) static inline void adamw_avx2_at(const Block& b, const AdamWCoeffs& c, int64_t i,
                                                                     __m256i k) {
  __m256 p = _mm256_maskload_ps(b.p + i, k), g = _mm256_maskload_ps(b.g + i, k);
  __m256 m = _mm256_maskload_ps(b.m + i, k), v = _mm256_maskload_ps(b.v + i, k);
  p = _mm256_mul_ps(p, _mm256_set1_ps(c.decay));
  m = _mm256_fmadd_ps(_mm256_set1_ps(c.lerp_w), _mm256_sub_ps(g, m), c.lerp_base_is_g ? g : m);
  v = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(c.one_minus_beta2), g), g, _mm256_mul_ps(v, _mm256_set1_ps(c.beta2)));
  __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), _mm256_set1_ps(c.bc2_sqrt)), _mm256_set1_ps(c.eps));
  p = _mm256_sub_ps(p, _mm256_div_ps(_mm256_mul_ps(_mm256_set1_ps(c.step_size), m), denom));
  _mm256_maskstore_ps(b.p + i, k, p);
  _mm256_maskstore_ps(b.m + i, k, m);
  _mm256_maskstore_ps(b.v + i, k, v);
}

__attribute__((target("avx2,fma"))) void adamw_avx2(const Block& b, const AdamWCoeffs& c) {
  int64_t i = 0;
  for (; i + 8 <= b.n; i += 8) adamw_avx2_at(b, c, i, _mm256_set1_epi32(-1));
  if (i < b.n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    adamw_avx2_at(b, c, i, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(b.n - i)), lane));
  }
}

#define RECLIN_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

RECLIN_AVX512 static inline void adamw_avx512_at(const Block& b, const AdamWCoeffs& c, int64_t i, __mmask16 k) {
  __m512 p = _mm512_maskz_loadu_ps(k, b.p + i), g = _mm512_maskz_loadu_ps(k, b.g + i);
  __m512 m = _mm512_maskz_loadu_ps(k, b.m + i), v = _mm512_maskz_loadu_ps(k, b.v + i);
  p = _mm512_mul_ps(p, _mm512_set1_ps(c.decay));
  m = _mm512_fmadd_ps(_mm512_set1_ps(c.lerp_w), _mm512_sub_ps(g, m), c.lerp_base_is_g ? g : m);
  v = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(c.one_minus_beta2), g), g, _mm512_mul_ps(v, _mm512_set1_ps(c.beta2)));
  __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_maskz_sqrt_ps(k, v), _mm512_set1_ps(c.bc2_sqrt)), _mm512_set1_ps(c.eps));
  p = _mm512_sub_ps(p, _mm512_div_ps(_mm512_mul_ps(_mm512_set1_ps(c.step_size), m), denom));
  _mm512_mask_storeu_ps(b.p + i, k, p);
  _mm512_mask_storeu_ps(b.m + i, k, m);
  _mm512_mask_storeu_ps(b.v + i, k, v);
}

RECLIN_AVX512 void adamw_avx512(const Block& b, const AdamWCoeffs& c) {
  int64_t i = 0;
  for (; i + 16 <= b.n; i += 16) adamw_avx512_at(b, c, i, static_cast<__mmask16>(0xffff));
  if (i < b.n) adamw_avx512_at(b, c, i, static_cast<__mmask16>((1u << (b.n - i)) - 1u));
}

using Kernel = void (*)(const Block&, const AdamWCoeffs&);

Kernel best_kernel() {
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
    return adamw_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return adamw_avx2;
  return adamw_scalar;
}

// Tests pin a path with adamwUseKernel(name) to check that all paths agree bit for bit.
Kernel forced_kernel = nullptr;
Kernel active_kernel() {
  static const Kernel best = best_kernel();
  return forced_kernel ? forced_kernel : best;
}

const char* kernel_name(Kernel k) { return k == adamw_avx512 ? "avx512" : k == adamw_avx2 ? "avx2" : "scalar"; }

// Elements per block: big enough to amortise scheduling, small enough to balance threads across tensors.
constexpr int64_t kBlock = 1 << 15;

// adamwStep(params[], grads[], m[], v[], { lr, beta1, beta2, eps, weightDecay, step })
// The TS wrapper (src/optim/adamw.ts) checks the list lengths and hyper-parameters first, with the same messages;
// this re-checks them and everything that could touch memory wrongly (shapes, dtypes, devices, aliasing).
Napi::Value AdamWStep(const Napi::CallbackInfo& info) {
  std::vector<Tensor> ps = arg_tensor_list(info, 0, "params");
  std::vector<Tensor> gs = arg_tensor_list(info, 1, "grads");
  std::vector<Tensor> ms = arg_tensor_list(info, 2, "m");
  std::vector<Tensor> vs = arg_tensor_list(info, 3, "v");
  Napi::Object opts = arg_object(info, 4, "options");
  const AdamwHyper h = adamw_rules(ps, gs, ms, vs, opts, DeviceKind::CPU);  // fused_rules.h, shared with cuda/adamw.cu
  const double lr = h.lr, beta1 = h.beta1, beta2 = h.beta2, eps = h.eps, wd = h.weight_decay, step = h.step;

  std::vector<Block> blocks;
  for (size_t i = 0; i < ps.size(); ++i) {
    const int64_t n = ps[i].numel();
    for (int64_t s = 0; s < n; s += kBlock)
      blocks.push_back(Block{ps[i].f32() + s, gs[i].f32() + s, ms[i].f32() + s, vs[i].f32() + s, std::min(kBlock, n - s)});
  }

  AdamWCoeffs c;
  c.decay = static_cast<float>(1.0 - lr * wd);
  const float w = static_cast<float>(1.0 - beta1);  // ATen's lerp: small weights step from m, large ones from g
  c.lerp_base_is_g = !(std::fabs(w) < 0.5f);
  c.lerp_w = c.lerp_base_is_g ? w - 1.0f : w;
  c.beta2 = static_cast<float>(beta2);
  c.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  c.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, step)));
  c.eps = static_cast<float>(eps);
  c.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, step)));

  const Kernel kernel = active_kernel();
  const int64_t nb = static_cast<int64_t>(blocks.size());
#pragma omp parallel for schedule(static) if (nb > 1)
  for (int64_t b = 0; b < nb; ++b) kernel(blocks[b], c);
  return info.Env().Undefined();
}
RECLIN_EXPORT("adamwStep", AdamWStep)

// adamwUseKernel(name?): "auto" (the best this CPU supports), "avx512", "avx2" or "scalar"; returns the name of
// the kernel now in use. Asking for a path this CPU lacks is an error, not a crash.
Napi::Value AdamWUseKernel(const Napi::CallbackInfo& info) {
  if (!arg_is_undefined(info, 0)) {
    if (!info[0].IsString()) throw ArgError("kernel: expected a string (auto, avx512, avx2, scalar)");
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    Kernel best = best_kernel();
    if (name == "auto") forced_kernel = nullptr;
    else if (name == "scalar") forced_kernel = adamw_scalar;
    else if (name == "avx2" && best != adamw_scalar) forced_kernel = adamw_avx2;
    else if (name == "avx512" && best == adamw_avx512) forced_kernel = adamw_avx512;
    else throw ArgError("kernel: '" + name + "' is unknown or not supported by this CPU (best: " + kernel_name(best) + ")");
  }
  return Napi::String::New(info.Env(), kernel_name(active_kernel()));
}
RECLIN_EXPORT("adamwUseKernel", AdamWUseKernel)

}  // namespace
}  // namespace reclin
