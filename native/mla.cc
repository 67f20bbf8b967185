// MLA key/value assembly in one pass (the full-attention layers of Kimi Linear, src/nn/attention.ts):
//   kv [B,S,H,nope+dv] (kv_b_proj's output per head), kr = src[..., ropeStart:] of src [B,S,C] (the shared key
//   part, one head's worth)  ->  k [B,S,H,nope+rope] = [kv[..., :nope], kr] per head,  v [B,S,H,dv] = kv[..., nope:].
// The backward scatters dk / dv back into dkv and sums dk's rope part over the heads into dsrc (zeros before
// ropeStart, so src may be kv_a_proj's whole output [c, kr] without slicing kr out first).
// In place of slice + slice + broadcast add + concat forward and their four backwards (each a full copy).
// Also the latent norm kv_a_layernorm(src[..., :rank]) read in place from kv_a_proj's whole output, its input
// gradient written into src's gradient (no slice copy, no zero-padded gradient and add). Through the same row
// kernels as rmsnorm / rmsnormBackward (rmsnorm_rows.h), so the results are the same bits.
#include <cstring>
#include <vector>

#include "op_util.h"
#include "rmsnorm_rows.h"

namespace reclin {
namespace {

struct MlaDims {
  int64_t B, S, H, nope, dv, C, ropeStart, rope;
};

// kv's shape is [B,S,H,kvLast] (kvLast = nope + dv); src's last dim is C.
MlaDims mla_dims(const std::vector<int64_t>& kv, int64_t C, const Napi::Object& opts) {
  MlaDims d{kv[0], kv[1], kv[2], opt_int(opts, "nope", -1), 0, C, opt_int(opts, "ropeStart", 0), 0};
  if (d.nope < 0 || d.nope > kv[3])
    throw ArgError("nope: expected 0 <= nope <= kv's last dim " + std::to_string(kv[3]) + ", got " + std::to_string(d.nope));
  if (d.ropeStart < 0 || d.ropeStart > C)
    throw ArgError("ropeStart: expected 0 <= ropeStart <= " + std::to_string(C) + ", got " + std::to_string(d.ropeStart));
  d.dv = kv[3] - d.nope;
  d.rope = C - d.ropeStart;
  return d;
}

void expect_f32_cpu(const Tensor& t, const char* name) {
  expect_cpu(t, name);
  expect_dtype(t, DType::F32, name);
}

// mlaKV(kv [B,S,H,nope+dv], src [B,S,C], { nope, ropeStart }) -> { k [B,S,H,nope+rope], v [B,S,H,dv] }
Napi::Value MlaKV(const Napi::CallbackInfo& info) {
  Tensor kv = arg_tensor(info, 0, "kv"), src = arg_tensor(info, 1, "src");
  expect_f32_cpu(kv, "kv");
  expect_f32_cpu(src, "src");
  if (kv.ndim() != 4) throw ArgError("kv: expected [B,S,H,nope+dv], got " + kv.shape_str());
  if (src.ndim() != 3 || src.shape[0] != kv.shape[0] || src.shape[1] != kv.shape[1])
    throw ArgError("src: expected [B,S,C] with B,S of kv " + kv.shape_str() + ", got " + src.shape_str());
  const MlaDims d = mla_dims(kv.shape, src.shape[2], arg_object(info, 2, "options"));
  const int64_t dk = d.nope + d.rope, dkv = d.nope + d.dv, rows = d.B * d.S;
  Tensor k = empty({d.B, d.S, d.H, dk}), v = empty({d.B, d.S, d.H, d.dv});
  const float *pkv = kv.f32(), *ps = src.f32();
  float *pk = k.f32(), *pv = v.f32();
#pragma omp parallel for schedule(static) if (rows * d.H * (dk + d.dv) > kStreamGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const float* kr = ps + r * d.C + d.ropeStart;
    for (int64_t h = 0; h < d.H; ++h) {
      const float* in = pkv + (r * d.H + h) * dkv;
      float* ko = pk + (r * d.H + h) * dk;
      std::memcpy(ko, in, sizeof(float) * d.nope);
      std::memcpy(ko + d.nope, kr, sizeof(float) * d.rope);
      std::memcpy(pv + (r * d.H + h) * d.dv, in + d.nope, sizeof(float) * d.dv);
    }
  }
  Napi::Object res = result_object(info.Env());
  res.Set("k", wrap(info.Env(), k));
  res.Set("v", wrap(info.Env(), v));
  return res;
}
RECLIN_EXPORT("mlaKV", MlaKV)

// mlaKVBackward(dk [B,S,H,nope+rope], dv [B,S,H,dv], { nope, C, ropeStart }) -> { dkv [B,S,H,nope+dv], dsrc [B,S,C] }
// dsrc[..., ropeStart:] sums dk's rope part over heads in head order (h = 0 first); dsrc[..., :ropeStart] = 0.
Napi::Value MlaKVBackward(const Napi::CallbackInfo& info) {
  Tensor gk = arg_tensor(info, 0, "dk"), gv = arg_tensor(info, 1, "dv");
  expect_f32_cpu(gk, "dk");
  expect_f32_cpu(gv, "dv");
  const Napi::Object opts = arg_object(info, 2, "options");
  const int64_t C = opt_int(opts, "C", -1), nope = opt_int(opts, "nope", -1);
  if (gv.ndim() != 4) throw ArgError("dv: expected [B,S,H,dv], got " + gv.shape_str());
  if (gk.ndim() != 4 || gk.shape[0] != gv.shape[0] || gk.shape[1] != gv.shape[1] || gk.shape[2] != gv.shape[2])
    throw ArgError("dk: expected [B,S,H,nope+rope] with B,S,H of dv " + gv.shape_str() + ", got " + gk.shape_str());
  if (C < 0) throw ArgError("C: expected src's last dim (>= 0), got " + std::to_string(C));
  if (nope < 0 || nope > gk.shape[3])
    throw ArgError("nope: expected 0 <= nope <= dk's last dim " + std::to_string(gk.shape[3]) + ", got " + std::to_string(nope));
  // the dims as the forward saw them: kv's last dim is nope + dv
  const MlaDims d = mla_dims({gv.shape[0], gv.shape[1], gv.shape[2], nope + gv.shape[3]}, C, opts);
  if (gk.shape[3] != d.nope + d.rope)
    throw ArgError("dk: expected last dim nope + rope = " + std::to_string(d.nope + d.rope) + ", got " + std::to_string(gk.shape[3]));
  const int64_t dk = d.nope + d.rope, dkv = d.nope + d.dv, rows = d.B * d.S;
  Tensor gkv = empty({d.B, d.S, d.H, dkv}), gs = empty({d.B, d.S, C});
  const float *pgk = gk.f32(), *pgv = gv.f32();
  float *pkv = gkv.f32(), *ps = gs.f32();
#pragma omp parallel for schedule(static) if (rows * d.H * (dk + d.dv) > kStreamGrain)
  for (int64_t r = 0; r < rows; ++r) {
    float* kr = ps + r * C;
    std::memset(kr, 0, sizeof(float) * C);
    kr += d.ropeStart;
    for (int64_t h = 0; h < d.H; ++h) {
      const float* gkh = pgk + (r * d.H + h) * dk;
      float* out = pkv + (r * d.H + h) * dkv;
      std::memcpy(out, gkh, sizeof(float) * d.nope);
      std::memcpy(out + d.nope, pgv + (r * d.H + h) * d.dv, sizeof(float) * d.dv);
      const float* g = gkh + d.nope;
      for (int64_t j = 0; j < d.rope; ++j) kr[j] += g[j];
    }
  }
  Napi::Object res = result_object(info.Env());
  res.Set("dkv", wrap(info.Env(), gkv));
  res.Set("dsrc", wrap(info.Env(), gs));
  return res;
}
RECLIN_EXPORT("mlaKVBackward", MlaKVBackward)

struct LatentDims {
  int64_t R, C, rank;
};

LatentDims latent_dims(const Tensor& src, const Tensor& w, const Napi::Object& opts) {
  expect_f32_cpu(src, "src");
  expect_f32_cpu(w, "weight");
  if (src.ndim() < 1) throw ArgError("src: expected [...,C], got " + src.shape_str());
  const int64_t C = src.dim(-1), rank = opt_int(opts, "rank", -1);
  if (rank < 0 || rank > C) throw ArgError("rank: expected 0 <= rank <= src's last dim " + std::to_string(C) + ", got " + std::to_string(rank));
  if (w.ndim() != 1 || w.shape[0] != rank) throw ArgError("weight: expected [rank] = [" + std::to_string(rank) + "], got " + w.shape_str());
  return LatentDims{leading_rows(src), C, rank};
}

std::vector<int64_t> latent_shape(const Tensor& src, int64_t rank) {
  std::vector<int64_t> s = src.shape;
  s.back() = rank;
  return s;
}

// mlaLatentNorm(src [...,C], weight [rank], { rank, eps }) -> { y [...,rank], rstd [...] }: rmsnorm of src[..., :rank].
Napi::Value MlaLatentNorm(const Napi::CallbackInfo& info) {
  Tensor src = arg_tensor(info, 0, "src"), w = arg_tensor(info, 1, "weight");
  const Napi::Object opts = arg_object(info, 2, "options");
  const LatentDims d = latent_dims(src, w, opts);
  const double eps = opt_number(opts, "eps", -1.0);
  if (!(eps >= 0)) throw ArgError("eps: expected a number >= 0, got " + std::to_string(eps));
  Tensor y = empty(latent_shape(src, d.rank)), rstd = empty(without_last(src.shape));
  rmsnorm_rows(src.f32(), d.C, w.f32(), eps, d.R, d.rank, y.f32(), d.rank, rstd.f32(), d.R * d.rank > kParallelGrain);
  Napi::Object res = result_object(info.Env());
  res.Set("y", wrap(info.Env(), y));
  res.Set("rstd", wrap(info.Env(), rstd));
  return res;
}
RECLIN_EXPORT("mlaLatentNorm", MlaLatentNorm)

// mlaLatentNormBackward(dy [...,rank], src [...,C], weight [rank], rstd [...], { rank, into? })
//   -> { dsrc [...,C] (null with into), dWeight [rank] }
// dsrc[..., :rank] = rmsnorm's dx, the rest 0; with `into` (a gradient of src's shape held already) dx is added
// into its first rank columns in place instead.
Napi::Value MlaLatentNormBackward(const Napi::CallbackInfo& info) {
  Tensor dy = arg_tensor(info, 0, "dy"), src = arg_tensor(info, 1, "src"), w = arg_tensor(info, 2, "weight");
  Tensor rstd = arg_tensor(info, 3, "rstd");
  const Napi::Object opts = arg_object(info, 4, "options");
  const LatentDims d = latent_dims(src, w, opts);
  expect_f32_cpu(dy, "dy");
  expect_f32_cpu(rstd, "rstd");
  if (dy.shape != latent_shape(src, d.rank)) throw ArgError("dy: expected src's shape with last dim rank " + std::to_string(d.rank) + ", got " + dy.shape_str());
  if (rstd.shape != without_last(src.shape)) throw ArgError("rstd: expected src's shape without its last dim, got " + rstd.shape_str());
  Tensor into = opt_tensor(opts, "into");
  if (into.defined()) {
    expect_f32_cpu(into, "into");
    if (into.shape != src.shape) throw ArgError("into: expected src's shape " + src.shape_str() + ", got " + into.shape_str());
    if (into.raw() == src.raw() || into.raw() == dy.raw()) throw ArgError("into: must not share storage with src or dy");
  }
  Tensor out = into.defined() ? into : empty(src.shape);
  const float *pdy = dy.f32(), *ps = src.f32(), *pr = rstd.f32();
  const bool add = into.defined(), parallel = d.R * d.rank > kParallelGrain;
  rmsnorm_backward_rows(pdy, d.rank, ps, d.C, w.f32(), pr, d.R, d.rank, out.f32(), d.C, add, parallel);
  if (!add && d.C > d.rank)  // the columns past the latent (the shared key part) get no gradient from the norm
    for (int64_t r = 0; r < d.R; ++r) std::memset(out.f32() + r * d.C + d.rank, 0, sizeof(float) * (d.C - d.rank));
  Tensor dw = empty({d.rank});
  rmsnorm_weight_grad(pdy, d.rank, ps, d.C, pr, d.R, d.rank, dw.f32(), parallel);
  Napi::Object res = result_object(info.Env());
  res.Set("dsrc", add ? info.Env().Null() : wrap(info.Env(), out));
  res.Set("dWeight", wrap(info.Env(), dw));
  return res;
}
RECLIN_EXPORT("mlaLatentNormBackward", MlaLatentNormBackward)

}  // namespace
}  // namespace reclin
