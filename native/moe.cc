// Mixture-of-experts FFN on CPU: the router's top-k selection and the routed SwiGLU experts, forward and
// backward (as transformers' kimi_linear KimiLinearTopkRouter / KimiLinearExperts compute them).
//
//   moeRoute(logits [N,E], bias [E] | null, {topK, numGroups, topkGroup, renormalize, scale, activation})
//       -> { weights [N,k], indices [N,k] i32, scores [N,E] }
//     scores = sigmoid(logits) (or softmax over E); the choice uses scores + bias (bias only selects). Groups:
//     E splits into numGroups equal groups, each scored by the sum of its two best choices; only experts of the
//     topkGroup best groups may be chosen (no restriction when topkGroup == numGroups). Then the topK best experts; weights = their scores (divided by their
//     sum + 1e-20 when renormalize) times scale. Ties go to the lower index; the k slots are in choice order.
//   moeRouteBackward(dWeights [N,k], scores [N,E], indices [N,k], {renormalize, scale, activation}) -> dLogits [N,E]
//   moeExperts(x [N,d], gateUp [E,2I,d], down [E,d,I], indices [N,k] i32, weights [N,k])
//       -> { y [N,d], h [N·k,2I], ye [N·k,d] }
//     y[n] = Σ_j weights[n,j] · down_e(silu(gate_e(x_n)) · up_e(x_n)), e = indices[n,j]; gateUp[e] stacks gate
//     (rows 0..I-1) over up (rows I..2I-1). h and ye are the expert-major rows kept for the backward.
//   moeExpertsBackward(dy, x, gateUp, down, indices, weights, h, ye, {weightGrads = true})
//       -> { dx, dGateUp, dDown, dWeights } (dGateUp and dDown null without weightGrads)
//   gateUp and down may be bf16 (frozen experts kept in bf16): they are only ever the GEMMs' B operand.
//
// Assignments (n, j) are sorted by expert with a stable counting sort, so each expert's rows are one contiguous
// segment and every expert runs one packed GEMM per projection (gemm.h). Per-token sums run in slot order and
// the sort is fixed by the indices, so the results are bit-identical run to run and for any thread count.
// The float64 reference is src/reference/moe.ts. Argument rules: moe_rules.h (shared with cuda/moe.cu).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gemm.h"
#include "moe_rules.h"
#include "op_util.h"
#include "vec_math.h"

namespace reclin {
namespace {


// NaN never wins a comparison, so the ordering stays strict and the selection well defined.
inline float rank_key(float v) { return std::isnan(v) ? -INFINITY : v; }

// The k best of cand (by key, ties to the lower index) written to out in that order.
void top_k(const float* key, std::vector<int32_t>& cand, int64_t k, int32_t* out) {
  auto better = [key](int32_t a, int32_t b) {
    const float ka = rank_key(key[a]), kb = rank_key(key[b]);
    return ka > kb || (ka == kb && a < b);
  };
  std::partial_sort(cand.begin(), cand.begin() + k, cand.end(), better);
  std::copy(cand.begin(), cand.begin() + k, out);
}

Napi::Value MoeRoute(const Napi::CallbackInfo& info) {
  Tensor logits = arg_f32(info, 0, "logits");
  expect_ndim(logits, 2, "logits", "[N,E]");
  const int64_t N = logits.dim(0), E = logits.dim(1);
  Tensor bias;
  if (!arg_is_undefined(info, 1) && !info[1].IsNull()) {
    bias = arg_f32(info, 1, "bias");
    expect_shape(bias, {E}, "bias", "[E]");
  }
  const MoeRouteOpts o = moe_route_opts(arg_object(info, 2, "options"), E, true);
  const int64_t k = o.top_k, G = o.groups, gs = E / G;
  Tensor weights = empty({N, k}), indices = empty({N, k}, DType::I32), scores = empty({N, E});
  const float* pl = logits.f32();
  const float* pb = bias.defined() ? bias.f32() : nullptr;
  float *pw = weights.f32(), *ps = scores.f32();
  int32_t* pi = indices.i32();
#pragma omp parallel if (N * E > kParallelGrain)
  {
    std::vector<float> choice(E), gscore(G);
    std::vector<int32_t> cand, groups(G), chosen_groups(o.topk_group);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* l = pl + n * E;
      float* s = ps + n * E;
      if (!o.softmax) vec::sigmoid(l, E, s);
      else {
        const float mx = vec::max(l, E);
        const double sum = vec::exp_sum(l, E, mx, s);
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t e = 0; e < E; ++e) s[e] *= inv;
      }
      for (int64_t e = 0; e < E; ++e) choice[e] = s[e] + (pb ? pb[e] : 0.f);
      cand.clear();
      if (o.topk_group < G) {
        for (int64_t g = 0; g < G; ++g) {  // a group's score: the sum of its two best choices
          float b1 = -INFINITY, b2 = -INFINITY;
          for (int64_t e = g * gs; e < (g + 1) * gs; ++e) {
            const float c = rank_key(choice[e]);
            if (c > b1) { b2 = b1; b1 = c; }
            else if (c > b2) b2 = c;
          }
          gscore[g] = b1 + b2;
          groups[g] = static_cast<int32_t>(g);
        }
        top_k(gscore.data(), groups, o.topk_group, chosen_groups.data());
        std::sort(chosen_groups.begin(), chosen_groups.end());
        for (int32_t g : chosen_groups)
          for (int64_t e = g * gs; e < (g + 1) * gs; ++e) cand.push_back(static_cast<int32_t>(e));
      } else {
        for (int64_t e = 0; e < E; ++e) cand.push_back(static_cast<int32_t>(e));
      }
      int32_t* idx = pi + n * k;
      top_k(choice.data(), cand, k, idx);
      float* w = pw + n * k;
      float sum = 0.f;
      for (int64_t j = 0; j < k; ++j) {
        w[j] = s[idx[j]];
        sum += w[j];
      }
      const float denom = o.renormalize ? sum + 1e-20f : 1.f;
      for (int64_t j = 0; j < k; ++j) w[j] = w[j] / denom * o.scale;
    }
  }
  Napi::Object res = result_object(info.Env());
  res.Set("weights", wrap(info.Env(), weights));
  res.Set("indices", wrap(info.Env(), indices));
  res.Set("scores", wrap(info.Env(), scores));
  return res;
}
RECLIN_EXPORT("moeRoute", MoeRoute)

void check_indices(const Tensor& indices, int64_t N, int64_t E, const char* name) {
  moe_indices_shape(indices, N);
  const int32_t* p = indices.i32();
  for (int64_t i = 0; i < indices.numel(); ++i)
    if (p[i] < 0 || p[i] >= E)
      throw ArgError(std::string(name) + ": entry " + std::to_string(i) + " is " + std::to_string(p[i]) +
                     ", expected an expert index in 0.." + std::to_string(E - 1));
}

Napi::Value MoeRouteBackward(const Napi::CallbackInfo& info) {
  Tensor dw = arg_f32(info, 0, "dWeights");
  Tensor scores = arg_f32(info, 1, "scores");
  Tensor indices = arg_i32(info, 2, "indices");
  expect_ndim(scores, 2, "scores", "[N,E]");
  const int64_t N = scores.dim(0), E = scores.dim(1);
  check_indices(indices, N, E, "indices");
  const int64_t k = indices.dim(1);
  expect_shape(dw, {N, k}, "dWeights", "[N,k]");
  const MoeRouteOpts o = moe_route_opts(arg_object(info, 3, "options"), E, false);
  Tensor dl = zeros({N, E});
  const float *pdw = dw.f32(), *ps = scores.f32();
  const int32_t* pi = indices.i32();
  float* pdl = dl.f32();
#pragma omp parallel if (N * E > kParallelGrain)
  {
    std::vector<float> ds(E);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* s = ps + n * E;
      const float* g = pdw + n * k;
      const int32_t* idx = pi + n * k;
      // w_j = c·s_j / D with D = Σ s + 1e-20 (renormalised) or D = 1: dL/ds_j = c·(g_j − Σ_i g_i·w_i/c) / D.
      double sum = 0, gs = 0;
      for (int64_t j = 0; j < k; ++j) {
        sum += s[idx[j]];
        gs += static_cast<double>(g[j]) * s[idx[j]];
      }
      const double D = o.renormalize ? sum + 1e-20 : 1.0;
      const double sub = o.renormalize ? gs / D : 0.0;
      std::fill(ds.begin(), ds.end(), 0.f);
      for (int64_t j = 0; j < k; ++j) ds[idx[j]] += static_cast<float>(o.scale * (g[j] - sub) / D);
      float* d = pdl + n * E;
      if (!o.softmax) {
        for (int64_t e = 0; e < E; ++e) d[e] = ds[e] * s[e] * (1.f - s[e]);
      } else {  // softmax: d = s ⊙ (ds − Σ ds⊙s)
        const double dot = vec::dot(ds.data(), s, E);
        for (int64_t e = 0; e < E; ++e) d[e] = static_cast<float>(s[e] * (ds[e] - dot));
      }
    }
  }
  return wrap(info.Env(), dl);
}
RECLIN_EXPORT("moeRouteBackward", MoeRouteBackward)

// The expert-major order of the N·k assignments: offsets[e]..offsets[e+1] are expert e's rows, order[r] is the
// assignment (n·k + j) at row r and pos[a] the row of assignment a. Stable, so rows follow token order.
struct Segments {
  std::vector<int64_t> offsets, order, pos;
};

Segments sort_by_expert(const int32_t* idx, int64_t A, int64_t E) {
  Segments s;
  s.offsets.assign(E + 1, 0);
  s.order.resize(A);
  s.pos.resize(A);
  for (int64_t a = 0; a < A; ++a) s.offsets[idx[a] + 1]++;
  for (int64_t e = 0; e < E; ++e) s.offsets[e + 1] += s.offsets[e];
  std::vector<int64_t> fill(s.offsets.begin(), s.offsets.end() - 1);
  for (int64_t a = 0; a < A; ++a) {
    const int64_t r = fill[idx[a]]++;
    s.order[r] = a;
    s.pos[a] = r;
  }
  return s;
}

// Runs f(e) for every expert with rows (all of one expert's work, so a pass costs one parallel region). Many
// experts: one expert per thread at a time (gemm() then runs on the calling thread). Few experts: one after
// another, each GEMM using every thread.
template <class F>
void for_each_expert(const Segments& s, int64_t E, F f) {
  std::vector<int64_t> active;
  for (int64_t e = 0; e < E; ++e)
    if (s.offsets[e + 1] > s.offsets[e]) active.push_back(e);
  const int64_t na = static_cast<int64_t>(active.size());
  if (na >= 2 * num_threads()) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < na; ++i) f(active[i]);
  } else {
    for (int64_t i = 0; i < na; ++i) f(active[i]);
  }
}

struct ExpertArgs {
  Tensor x, gate_up, down, indices, weights;
  int64_t N, d, E, I, k;
};

// An expert weight stack, f32 or bf16 (frozen experts kept in bf16). It is only ever the B operand of the GEMMs
// below, which widen bf16 while packing, so the results equal those of the f32-widened weights.
struct ExpertWeight {
  const float* f = nullptr;
  const uint16_t* h = nullptr;
  explicit ExpertWeight(const Tensor& t) {
    if (t.dtype == DType::BF16) h = static_cast<const uint16_t*>(t.raw());
    else f = t.f32();
  }
  // C[M,N] = A · op(W[e]) where W[e] starts `off` elements in.
  void gemm(bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, int64_t off, int64_t ldb, float* C,
            int64_t ldc) const {
    if (h) reclin::gemm(false, tb, M, N, K, 1.f, A, lda, h + off, ldb, 0.f, C, ldc);
    else reclin::gemm(false, tb, M, N, K, 1.f, A, lda, f + off, ldb, 0.f, C, ldc);
  }
};

ExpertArgs read_expert_args(const Napi::CallbackInfo& info, size_t first) {
  ExpertArgs a;
  a.x = arg_f32(info, first, "x");
  a.gate_up = arg_f32_or_bf16(info, first + 1, "gateUp");
  a.down = arg_f32_or_bf16(info, first + 2, "down");
  a.indices = arg_i32(info, first + 3, "indices");
  a.weights = arg_f32(info, first + 4, "weights");
  const MoeExpertDims m = moe_experts_shapes(a.x, a.gate_up, a.down, a.indices, a.weights);
  a.N = m.N;
  a.d = m.d;
  a.E = m.E;
  a.I = m.I;
  a.k = m.k;
  check_indices(a.indices, a.N, a.E, "indices");
  return a;
}

// xs[r] = x[token of row r] for rows r0..r1 (one expert's segment; the GEMMs dominate, so this runs serially)
void gather_rows(const float* x, const Segments& s, int64_t k, int64_t d, int64_t r0, int64_t r1, float* xs) {
  for (int64_t r = r0; r < r1; ++r) std::memcpy(xs + r * d, x + (s.order[r] / k) * d, d * sizeof(float));
}

// act[r] = silu(h[r, :I]) · h[r, I:] for rows r0..r1
void swiglu_rows(const float* h, int64_t r0, int64_t r1, int64_t I, float* act) {
  for (int64_t r = r0; r < r1; ++r) vec::swiglu(h + r * 2 * I, h + r * 2 * I + I, I, act + r * I);
}

Napi::Value MoeExperts(const Napi::CallbackInfo& info) {
  const ExpertArgs a = read_expert_args(info, 0);
  const int64_t N = a.N, d = a.d, E = a.E, I = a.I, k = a.k, A = N * k;
  const Segments s = sort_by_expert(a.indices.i32(), A, E);
  Tensor xs = empty({A, d}), h = empty({A, 2 * I}), act = empty({A, I}), ye = empty({A, d}), y = empty({N, d});
  const ExpertWeight gu(a.gate_up), dn(a.down);
  const float* pw = a.weights.f32();
  float *pxs = xs.f32(), *ph = h.f32(), *pact = act.f32(), *pye = ye.f32(), *py = y.f32();
  const float* px = a.x.f32();
  for_each_expert(s, E, [&](int64_t e) {
    const int64_t r0 = s.offsets[e], r1 = s.offsets[e + 1], c = r1 - r0;
    gather_rows(px, s, k, d, r0, r1, pxs);
    gu.gemm(true, c, 2 * I, d, pxs + r0 * d, d, e * 2 * I * d, d, ph + r0 * 2 * I, 2 * I);
    swiglu_rows(ph, r0, r1, I, pact);
    dn.gemm(true, c, d, I, pact + r0 * I, I, e * d * I, I, pye + r0 * d, d);
  });
#pragma omp parallel for schedule(static) if (N * k * d > kParallelGrain)
  for (int64_t n = 0; n < N; ++n) {
    float* out = py + n * d;
    std::fill(out, out + d, 0.f);
    for (int64_t j = 0; j < k; ++j) {
      const float w = pw[n * k + j];
      const float* src = pye + s.pos[n * k + j] * d;
      for (int64_t i = 0; i < d; ++i) out[i] += w * src[i];
    }
  }
  Napi::Object res = result_object(info.Env());
  res.Set("y", wrap(info.Env(), y));
  res.Set("h", wrap(info.Env(), h));
  res.Set("ye", wrap(info.Env(), ye));
  return res;
}
RECLIN_EXPORT("moeExperts", MoeExperts)

Napi::Value MoeExpertsBackward(const Napi::CallbackInfo& info) {
  Tensor dy = arg_f32(info, 0, "dy");
  const ExpertArgs a = read_expert_args(info, 1);
  const int64_t N = a.N, d = a.d, E = a.E, I = a.I, k = a.k, A = N * k;
  Tensor h = arg_f32(info, 6, "h"), ye = arg_f32(info, 7, "ye");
  moe_experts_backward_shapes({N, d, E, I, k}, dy, h, ye);
  const Segments s = sort_by_expert(a.indices.i32(), A, E);
  Tensor xs = empty({A, d}), act = empty({A, I}), dye = empty({A, d}), da = empty({A, I}), dh = empty({A, 2 * I}),
         dxs = empty({A, d});
  // {weightGrads: false} (frozen experts): no dGateUp / dDown, which would be f32 copies of the weights' size.
  bool weight_grads = true;
  if (info.Length() > 8 && !info[8].IsUndefined()) weight_grads = opt_bool(arg_object(info, 8, "options"), "weightGrads", true);
  Tensor dx = empty({N, d}), dw = empty({N, k}), dgu, ddown;
  if (weight_grads) {
    dgu = empty(a.gate_up.shape);
    ddown = empty(a.down.shape);
  }
  const ExpertWeight gu(a.gate_up), dn(a.down);
  const float *pw = a.weights.f32(), *pdy = dy.f32(), *ph = h.f32(), *pye = ye.f32();
  float *pxs = xs.f32(), *pact = act.f32(), *pdye = dye.f32(), *pda = da.f32(), *pdh = dh.f32(), *pdxs = dxs.f32(),
        *pdx = dx.f32(), *pdw = dw.f32();
  float* pdgu = weight_grads ? dgu.f32() : nullptr;
  float* pddown = weight_grads ? ddown.f32() : nullptr;
  const float* px = a.x.f32();
  for (int64_t e = 0; weight_grads && e < E; ++e)  // experts without rows get zero gradients; the GEMMs below write the others whole
    if (s.offsets[e + 1] == s.offsets[e]) {
      std::fill(pdgu + e * 2 * I * d, pdgu + (e + 1) * 2 * I * d, 0.f);
      std::fill(pddown + e * d * I, pddown + (e + 1) * d * I, 0.f);
    }
  for_each_expert(s, E, [&](int64_t e) {
    const int64_t r0 = s.offsets[e], r1 = s.offsets[e + 1], c = r1 - r0;
    if (weight_grads) {
      gather_rows(px, s, k, d, r0, r1, pxs);
      swiglu_rows(ph, r0, r1, I, pact);
    }
    for (int64_t r = r0; r < r1; ++r) {  // dye[r] = w · dy[token]; dWeights = dy[token] · ye[r]
      const int64_t asg = s.order[r];
      const float* g = pdy + (asg / k) * d;
      const float w = pw[asg];
      for (int64_t i = 0; i < d; ++i) pdye[r * d + i] = w * g[i];
      pdw[asg] = static_cast<float>(vec::dot(g, pye + r * d, d));
    }
    dn.gemm(false, c, I, d, pdye + r0 * d, d, e * d * I, I, pda + r0 * I, I);
    if (weight_grads)
      gemm(true, false, d, I, c, 1.f, pdye + r0 * d, d, pact + r0 * I, I, 0.f, pddown + e * d * I, I);
    for (int64_t r = r0; r < r1; ++r)
      vec::swiglu_backward(pda + r * I, ph + r * 2 * I, ph + r * 2 * I + I, I, pdh + r * 2 * I, pdh + r * 2 * I + I);
    if (weight_grads)
      gemm(true, false, 2 * I, d, c, 1.f, pdh + r0 * 2 * I, 2 * I, pxs + r0 * d, d, 0.f, pdgu + e * 2 * I * d, d);
    gu.gemm(false, c, d, 2 * I, pdh + r0 * 2 * I, 2 * I, e * 2 * I * d, d, pdxs + r0 * d, d);
  });
#pragma omp parallel for schedule(static) if (A * d > kParallelGrain)
  for (int64_t n = 0; n < N; ++n) {
    float* out = pdx + n * d;
    std::fill(out, out + d, 0.f);
    for (int64_t j = 0; j < k; ++j) {
      const float* src = pdxs + s.pos[n * k + j] * d;
      for (int64_t i = 0; i < d; ++i) out[i] += src[i];
    }
  }
  Napi::Object res = result_object(info.Env());
  res.Set("dx", wrap(info.Env(), dx));
  res.Set("dGateUp", wrap(info.Env(), dgu));
  res.Set("dDown", wrap(info.Env(), ddown));
  res.Set("dWeights", wrap(info.Env(), dw));
  return res;
}
RECLIN_EXPORT("moeExpertsBackward", MoeExpertsBackward)

}  // namespace
}  // namespace reclin
