// Causal softmax attention without positional encoding (the full-attention layers), forward and backward.
// q holds the last Tq of Tk positions (Tq <= Tk; Tq == Tk is plain causal self-attention, Tq < Tk lets a
// chunk attend to cached keys of earlier positions): query i sits at position Tk - Tq + i and sees keys
// 0 .. Tk - Tq + i.
// Work is split into (batch, head, query block) tasks; each block computes S = scale * Q K^T against the
// keys it may see, a masked softmax (saving lse = log sum exp per query), and O = P V with the packed GEMM.
// The backward recomputes P from lse, per (batch, head), walking query blocks in order so dK and dV
// accumulate in a fixed order.
#include <algorithm>
#include <cmath>

#include "fused_rules.h"
#include "gemm.h"
#include "op_util.h"
#include "vec_math.h"

namespace reclin {
namespace {

constexpr int64_t kBlockQ = 128;

struct Dims {
  int64_t B, Tq, Tk, H, D, Dv;
  float scale;
  int64_t offset() const { return Tk - Tq; }
};

// Shapes, scale, dtypes and devices by the rules shared with cuda/attention.cu (fused_rules.h); the CPU takes
// cached keys (Tk >= Tq) and any head dimension.
Dims check_args(const AttentionTensors& a, const Napi::Object& opts) {
  const AttentionDims d = attention_rules(a, opts, AttentionLimits{DeviceKind::CPU, true, 0});
  return Dims{d.B, d.Tq, d.Tk, d.H, d.D, d.Dv, static_cast<float>(d.scale)};
}

// Row r of a block sees keys 0 .. first + r (inclusive); P = exp(S - lse) there, 0 after (the causal mask).
inline void masked_probs(float* S, int64_t nq, int64_t nk, int64_t first, const float* lse) {
  for (int64_t r = 0; r < nq; ++r) {
    float* s = S + r * nk;
    const int64_t n = first + r + 1;
    vec::exp_scaled(s, n, lse[r], 1.f, s);
    for (int64_t j = n; j < nk; ++j) s[j] = 0.f;
  }
}

std::vector<float>& scratch(int which) {
  static thread_local std::vector<float> buf[2];
  return buf[which];
}

// causalAttention(q [B,Tq,H,D], k [B,Tk,H,D], v [B,Tk,H,Dv], { scale }) -> { o [B,Tq,H,Dv], lse [B,H,Tq] }
Napi::Value CausalAttention(const Napi::CallbackInfo& info) {
  Tensor q = arg_tensor(info, 0, "q"), k = arg_tensor(info, 1, "k"), v = arg_tensor(info, 2, "v");
  const Dims d = check_args({q, k, v, {}, {}, {}}, arg_object(info, 3, "options"));
  const float scale = d.scale;
  Tensor o = empty({d.B, d.Tq, d.H, d.Dv}), lse = empty({d.B, d.H, d.Tq});
  const float *pq = q.f32(), *pk = k.f32(), *pv = v.f32();
  float *po = o.f32(), *pl = lse.f32();
  const int64_t n_blocks = (d.Tq + kBlockQ - 1) / kBlockQ, n_tasks = d.B * d.H * n_blocks;
  const int64_t ldq = d.H * d.D, ldv = d.H * d.Dv;
  // Later blocks cost more; dynamic scheduling balances them without affecting the result.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < n_tasks; ++task) {
    const int64_t blk = n_blocks - 1 - task % n_blocks, bh = task / n_blocks, b = bh / d.H, h = bh % d.H;
    const int64_t i0 = blk * kBlockQ, nq = std::min(kBlockQ, d.Tq - i0);
    const int64_t first = d.offset() + i0, nk = first + nq;  // row r sees keys 0 .. first + r
    std::vector<float>& S = scratch(0);
    S.resize(static_cast<size_t>(nq * nk));
    const float* qb = pq + (b * d.Tq + i0) * ldq + h * d.D;
    const float* kb = pk + b * d.Tk * ldq + h * d.D;
    const float* vb = pv + b * d.Tk * ldv + h * d.Dv;
    gemm_serial(false, true, nq, nk, d.D, scale, qb, ldq, kb, ldq, 0.f, S.data(), nk);
    float* lrow = pl + bh * d.Tq + i0;
    // Row softmax over the visible keys; P overwrites S (zeros past the diagonal).
    for (int64_t r = 0; r < nq; ++r) {
      float* s = S.data() + r * nk;
      const int64_t n = first + r + 1;
      const float m = vec::max(s, n);
      const double sum = vec::exp_sum(s, n, m, s);
      lrow[r] = m + static_cast<float>(std::log(sum));
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n; ++j) s[j] *= inv;
      for (int64_t j = n; j < nk; ++j) s[j] = 0.f;
    }
    gemm_serial(false, false, nq, d.Dv, nk, 1.f, S.data(), nk, vb, ldv, 0.f, po + (b * d.Tq + i0) * ldv + h * d.Dv, ldv);
  }
  Napi::Object res = result_object(info.Env());
  res.Set("o", wrap(info.Env(), o));
  res.Set("lse", wrap(info.Env(), lse));
  return res;
}
RECLIN_EXPORT("causalAttention", CausalAttention)

// causalAttentionBackward(dO, q, k, v, o, lse, { scale }) -> { dq, dk, dv }
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),  dQ = scale dS K,  dK = scale dS^T Q
Napi::Value CausalAttentionBackward(const Napi::CallbackInfo& info) {
  Tensor dO = arg_tensor(info, 0, "dO"), q = arg_tensor(info, 1, "q"), k = arg_tensor(info, 2, "k"),
         v = arg_tensor(info, 3, "v");
  Tensor o = arg_tensor(info, 4, "o"), lse = arg_tensor(info, 5, "lse");
  const Dims d = check_args({q, k, v, o, dO, lse}, arg_object(info, 6, "options"));
  const float scale = d.scale;
  Tensor dq = empty(q.shape), dk = zeros(k.shape), dv = zeros(v.shape);
  const float *pq = q.f32(), *pk = k.f32(), *pv = v.f32(), *po = o.f32(), *pdo = dO.f32(), *pl = lse.f32();
  float *pdq = dq.f32(), *pdk = dk.f32(), *pdv = dv.f32();
  const int64_t ldq = d.H * d.D, ldv = d.H * d.Dv, n_blocks = (d.Tq + kBlockQ - 1) / kBlockQ;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bh = 0; bh < d.B * d.H; ++bh) {
    const int64_t b = bh / d.H, h = bh % d.H;
    const float* kb = pk + b * d.Tk * ldq + h * d.D;
    const float* vb = pv + b * d.Tk * ldv + h * d.Dv;
    float* dkb = pdk + b * d.Tk * ldq + h * d.D;
    float* dvb = pdv + b * d.Tk * ldv + h * d.Dv;
    std::vector<float>& P = scratch(0);
    std::vector<float>& dS = scratch(1);
    for (int64_t blk = 0; blk < n_blocks; ++blk) {
      const int64_t i0 = blk * kBlockQ, nq = std::min(kBlockQ, d.Tq - i0);
      const int64_t first = d.offset() + i0, nk = first + nq;
      P.resize(static_cast<size_t>(nq * nk));
      dS.resize(static_cast<size_t>(nq * nk));
      const float* qb = pq + (b * d.Tq + i0) * ldq + h * d.D;
      const float* dob = pdo + (b * d.Tq + i0) * ldv + h * d.Dv;
      const float* ob = po + (b * d.Tq + i0) * ldv + h * d.Dv;
      gemm_serial(false, true, nq, nk, d.D, scale, qb, ldq, kb, ldq, 0.f, P.data(), nk);
      masked_probs(P.data(), nq, nk, first, pl + bh * d.Tq + i0);
      gemm_serial(true, false, nk, d.Dv, nq, 1.f, P.data(), nk, dob, ldv, 1.f, dvb, ldv);
      gemm_serial(false, true, nq, nk, d.Dv, 1.f, dob, ldv, vb, ldv, 0.f, dS.data(), nk);
      for (int64_t r = 0; r < nq; ++r) {
        const float dif = static_cast<float>(vec::dot(dob + r * ldv, ob + r * ldv, d.Dv));
        float *ds = dS.data() + r * nk, *p = P.data() + r * nk;
        for (int64_t j = 0; j < nk; ++j) ds[j] = p[j] * (ds[j] - dif);
      }
      gemm_serial(false, false, nq, d.D, nk, scale, dS.data(), nk, kb, ldq, 0.f, pdq + (b * d.Tq + i0) * ldq + h * d.D, ldq);
      gemm_serial(true, false, nk, d.D, nq, scale, dS.data(), nk, qb, ldq, 1.f, dkb, ldq);
    }
  }
  Napi::Object res = result_object(info.Env());
  res.Set("dq", wrap(info.Env(), dq));
  res.Set("dk", wrap(info.Env(), dk));
  res.Set("dv", wrap(info.Env(), dv));
  return res;
}
RECLIN_EXPORT("causalAttentionBackward", CausalAttentionBackward)

}  // namespace
}  // namespace reclin
