// Causal softmax attention without positional encoding (the full-attention layers), forward and backward.
// q holds the last Tq of Tk positions (Tq <= Tk; Tq == Tk is plain causal self-attention, Tq < Tk lets a
// chunk attend to cached keys of earlier positions): query i sits at position Tk - Tq + i and sees keys
// 0 .. Tk - Tq + i.
// Work is split into (batch, head, query block) tasks; each block computes S = scale * Q K^T against the
// keys it may see, a masked softmax (saving lse = log sum exp per query), and O = P V with the packed GEMM.
// The backward takes P as the forward kept it (probsBudget) or recomputes it from lse, per (batch, head),
// walking query blocks in order so dK and dV accumulate in a fixed order. Within a block, the keys before it are one GEMM for all its rows and its own
// (diagonal) keys are done per row sub-block of kSub rows, so the masked triangle is mostly skipped.
#include <algorithm>
#include <cmath>

#include "fused_rules.h"
#include "gemm.h"
#include "op_util.h"
#include "vec_math.h"

namespace reclin {
namespace {

constexpr int64_t kBlockQ = 128;
// Row sub-blocks of a query block: each computes scores only up to its own last key (a multiple of the AVX-512
// kernel's 14-row panel), so the masked triangle costs ~kSub/2 columns per row instead of ~kBlockQ/2.
// (Measured at T = 512, D = 192, Dv = 128, one thread: 28 rows ~8% faster forward and backward than whole
// 128-row blocks; 56 and 84 in between.)
constexpr int64_t kSub = 28;

// S[r, :stair(r)] = alpha * A[r] B[:stair(r)]^T for the nq rows of a block (A [nq x K], B [first + nq x K]).
void row_stairs(int64_t nq, int64_t first, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                int64_t ldb, float* S, int64_t lds) {
  if (first > 0) gemm_serial(false, true, nq, first, K, alpha, A, lda, B, ldb, 0.f, S, lds);
  for (int64_t r0 = 0; r0 < nq; r0 += kSub) {
    const int64_t m = std::min(kSub, nq - r0);
    gemm_serial(false, true, m, r0 + m, K, alpha, A + r0 * lda, lda, B + first * ldb, ldb, 0.f, S + r0 * lds + first, lds);
  }
}

// C[r] = alpha * S[r, :stair(r)] B[:stair(r)] (B [first + nq x N]); S is zero past each row's last visible key.
void reduce_stairs(int64_t nq, int64_t first, int64_t N, float alpha, const float* S, int64_t lds, const float* B,
                   int64_t ldb, float* C, int64_t ldc) {
  if (first > 0) gemm_serial(false, false, nq, N, first, alpha, S, lds, B, ldb, 0.f, C, ldc);
  for (int64_t r0 = 0; r0 < nq; r0 += kSub) {
    const int64_t m = std::min(kSub, nq - r0);
    gemm_serial(false, false, m, N, r0 + m, alpha, S + r0 * lds + first, lds, B + first * ldb, ldb, first > 0 ? 1.f : 0.f,
                C + r0 * ldc, ldc);
  }
}

// Columns of row r of a block (first = keys before the block) that the stairs compute: up to the end of r's sub-block.
inline int64_t stair(int64_t first, int64_t r, int64_t nq) { return first + std::min(nq, (r / kSub + 1) * kSub); }

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

// Saved probabilities (optional forward output): per (b, h), the query blocks' P [nq x nk] one after another
// (nk = keys up to the block's last query), entries past each row's stair unwritten and never read.
// Floats before block blk of one (b, h), and per (b, h).
int64_t probs_block_offset(const Dims& d, int64_t blk) {
  int64_t off = 0;
  for (int64_t j = 0; j < blk; ++j) {
    const int64_t i0 = j * kBlockQ, nq = std::min(kBlockQ, d.Tq - i0);
    off += nq * (d.offset() + i0 + nq);
  }
  return off;
}
int64_t probs_per_head(const Dims& d) { return probs_block_offset(d, (d.Tq + kBlockQ - 1) / kBlockQ); }

// Row r of a block sees keys 0 .. first + r (inclusive); P = exp(S - lse) there, 0 after (the causal mask).
// The forward computes P the same way from the same S, so saved and recomputed P are bit-identical.
inline void masked_probs(float* S, int64_t nq, int64_t nk, int64_t first, const float* lse) {
  for (int64_t r = 0; r < nq; ++r) {
    float* s = S + r * nk;
    const int64_t n = first + r + 1;
    vec::exp_scaled(s, n, lse[r], 1.f, s);
    for (int64_t j = n; j < stair(first, r, nq); ++j) s[j] = 0.f;
  }
}

std::vector<float>& scratch(int which) {
  static thread_local std::vector<float> buf[2];
  return buf[which];
}

// causalAttention(q [B,Tq,H,D], k [B,Tk,H,D], v [B,Tk,H,Dv], { scale, probsBudget })
//   -> { o [B,Tq,H,Dv], lse [B,H,Tq], probs (flat, or null) }
Napi::Value CausalAttention(const Napi::CallbackInfo& info) {
  Tensor q = arg_tensor(info, 0, "q"), k = arg_tensor(info, 1, "k"), v = arg_tensor(info, 2, "v");
  const Napi::Object opts = arg_object(info, 3, "options");
  const Dims d = check_args({q, k, v, {}, {}, {}}, opts);
  const float scale = d.scale;
  Tensor o = empty({d.B, d.Tq, d.H, d.Dv}), lse = empty({d.B, d.H, d.Tq});
  const float *pq = q.f32(), *pk = k.f32(), *pv = v.f32();
  float *po = o.f32(), *pl = lse.f32();
  const int64_t n_blocks = (d.Tq + kBlockQ - 1) / kBlockQ, n_tasks = d.B * d.H * n_blocks;
  const int64_t ldq = d.H * d.D, ldv = d.H * d.Dv;
  // With probsBudget (bytes, default 0) at least the size of P, P is kept for the backward (saves recomputing
  // S = Q K^T and its exp there, ~25% of the backward); else probs is null.
  const double budget = opt_number(opts, "probsBudget", 0.0);
  const int64_t per_head = probs_per_head(d);
  Tensor probs;
  const bool save = static_cast<double>(d.B * d.H * per_head) * sizeof(float) <= budget && d.B * d.H * per_head > 0;
  if (save) probs = empty({d.B * d.H * per_head});
  float* pp = save ? probs.f32() : nullptr;
  // Later blocks cost more; dynamic scheduling balances them without affecting the result.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < n_tasks; ++task) {
    const int64_t blk = n_blocks - 1 - task % n_blocks, bh = task / n_blocks, b = bh / d.H, h = bh % d.H;
    const int64_t i0 = blk * kBlockQ, nq = std::min(kBlockQ, d.Tq - i0);
    const int64_t first = d.offset() + i0, nk = first + nq;  // row r sees keys 0 .. first + r
    std::vector<float>& Sbuf = scratch(0);
    float* S = pp ? pp + bh * per_head + probs_block_offset(d, blk) : nullptr;
    if (!S) {
      Sbuf.resize(static_cast<size_t>(nq * nk));
      S = Sbuf.data();
    }
    const float* qb = pq + (b * d.Tq + i0) * ldq + h * d.D;
    const float* kb = pk + b * d.Tk * ldq + h * d.D;
    const float* vb = pv + b * d.Tk * ldv + h * d.Dv;
    // Scores in row stairs: the keys before the block for all rows at once, then the block's own keys per
    // row sub-block up to its last row (no work on the masked triangle beyond each sub-block's square).
    row_stairs(nq, first, d.D, scale, qb, ldq, kb, ldq, S, nk);
    float* lrow = pl + bh * d.Tq + i0;
    // lse per row, then P = exp(S - lse) in place (as the backward recomputes it).
    for (int64_t r = 0; r < nq; ++r) {
      const float* s = S + r * nk;
      const int64_t n = first + r + 1;
      const float m = vec::max(s, n);
      lrow[r] = m + static_cast<float>(std::log(vec::exp_sum(s, n, m, nullptr)));  // the sum only
    }
    masked_probs(S, nq, nk, first, lrow);
    float* ob = po + (b * d.Tq + i0) * ldv + h * d.Dv;
    reduce_stairs(nq, first, d.Dv, 1.f, S, nk, vb, ldv, ob, ldv);
  }
  Napi::Object res = result_object(info.Env());
  res.Set("o", wrap(info.Env(), o));
  res.Set("lse", wrap(info.Env(), lse));
  res.Set("probs", save ? wrap(info.Env(), probs) : info.Env().Null());
  return res;
}
RECLIN_EXPORT("causalAttention", CausalAttention)

// causalAttentionBackward(dO, q, k, v, o, lse, { scale, probs }) -> { dq, dk, dv }
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),  dQ = scale dS K,  dK = scale dS^T Q
Napi::Value CausalAttentionBackward(const Napi::CallbackInfo& info) {
  Tensor dO = arg_tensor(info, 0, "dO"), q = arg_tensor(info, 1, "q"), k = arg_tensor(info, 2, "k"),
         v = arg_tensor(info, 3, "v");
  Tensor o = arg_tensor(info, 4, "o"), lse = arg_tensor(info, 5, "lse");
  const Napi::Object opts = arg_object(info, 6, "options");
  const Dims d = check_args({q, k, v, o, dO, lse}, opts);
  // probs: the forward's saved P (same inputs), used instead of recomputing it.
  Tensor probs = opt_tensor(opts, "probs");
  const int64_t per_head = probs_per_head(d);
  if (probs.defined()) {
    expect_cpu(probs, "probs");
    expect_dtype(probs, DType::F32, "probs");
    if (probs.ndim() != 1 || probs.shape[0] != d.B * d.H * per_head)
      throw ArgError("probs: expected the forward's saved probabilities [" + std::to_string(d.B * d.H * per_head) + "], got " + probs.shape_str());
  }
  const float* pp = probs.defined() ? probs.f32() : nullptr;
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
      dS.resize(static_cast<size_t>(nq * nk));
      const float* qb = pq + (b * d.Tq + i0) * ldq + h * d.D;
      const float* dob = pdo + (b * d.Tq + i0) * ldv + h * d.Dv;
      const float* ob = po + (b * d.Tq + i0) * ldv + h * d.Dv;
      // Row stairs for P, dP and dQ; column stairs (the transposed shape) for dV and dK. Entries above the
      // diagonal inside a stair are exact zeros of P and dS, so the sums match the full-block ones.
      const float* Pb;
      if (pp) {
        Pb = pp + bh * per_head + probs_block_offset(d, blk);
      } else {
        P.resize(static_cast<size_t>(nq * nk));
        row_stairs(nq, first, d.D, scale, qb, ldq, kb, ldq, P.data(), nk);
        masked_probs(P.data(), nq, nk, first, pl + bh * d.Tq + i0);
        Pb = P.data();
      }
      row_stairs(nq, first, d.Dv, 1.f, dob, ldv, vb, ldv, dS.data(), nk);
      for (int64_t r = 0; r < nq; ++r) {
        const float dif = static_cast<float>(vec::dot(dob + r * ldv, ob + r * ldv, d.Dv));
        float* ds = dS.data() + r * nk;
        const float* p = Pb + r * nk;
        const int64_t w = stair(first, r, nq);
        for (int64_t j = 0; j < w; ++j) ds[j] = p[j] * (ds[j] - dif);
      }
      float* dqb = pdq + (b * d.Tq + i0) * ldq + h * d.D;
      reduce_stairs(nq, first, d.D, scale, dS.data(), nk, kb, ldq, dqb, ldq);
      // keys before the block: every row of the block sees them
      if (first > 0) {
        gemm_serial(true, false, first, d.Dv, nq, 1.f, Pb, nk, dob, ldv, 1.f, dvb, ldv);
        gemm_serial(true, false, first, d.D, nq, scale, dS.data(), nk, qb, ldq, 1.f, dkb, ldq);
      }
      // the block's own keys first + c0 .. : seen by rows c0 .. nq - 1
      for (int64_t c0 = 0; c0 < nq; c0 += kSub) {
        const int64_t n = std::min(kSub, nq - c0), c = first + c0;
        gemm_serial(true, false, n, d.Dv, nq - c0, 1.f, Pb + c0 * nk + c, nk, dob + c0 * ldv, ldv, 1.f, dvb + c * ldv, ldv);
        gemm_serial(true, false, n, d.D, nq - c0, scale, dS.data() + c0 * nk + c, nk, qb + c0 * ldq, ldq, 1.f, dkb + c * ldq, ldq);
      }
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
