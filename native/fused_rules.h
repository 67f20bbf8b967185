// Argument rules of the fused ops (KDA, causal attention, AdamW), shared by the CPU entries (native/kda.cc,
// native/attention.cc, native/adamw.cc) and their CUDA twins (cuda/kda.cu, cuda/attention.cu, cuda/adamw.cu), so
// both refuse the same input with the same message. Where the backends really differ (bf16 storage, head-dimension
// limits, cached keys, launch-grid limits) the difference is a field of the backend's limits and the message says
// what that backend allows.
//
// Order inside every rule: shapes, options, limits, dtypes, devices. The device comes last so that a CUDA build
// reaches every other check with cpu tensors, on a machine without a GPU (test/cuda-exports.test.ts).
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "shape_rules.h"

namespace reclin {

// A double as JavaScript prints it (shortest text that reads back the same), so native and TS messages agree.
inline std::string js_number_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

inline const char* device_kind_name(DeviceKind k) { return k == DeviceKind::CUDA ? "cuda" : "cpu"; }

// `t` lives on a device of `kind` and, when `ref` is given, on ref's device.
inline void expect_device(const Tensor& t, DeviceKind kind, const char* name, const Tensor* ref = nullptr,
                          const char* ref_name = nullptr) {
  if (t.device.kind != kind)
    throw ArgError(std::string(name) + ": expected a " + device_kind_name(kind) + " tensor, got one on " +
                   t.device.name());
  if (ref) expect_same_device(*ref, t, ref_name, name);
}

// f32, or with `bf16` also bf16 storage.
inline void expect_storage(const Tensor& t, bool bf16, const char* name) {
  if (t.dtype == DType::F32 || (bf16 && t.dtype == DType::BF16)) return;
  throw ArgError(std::string(name) + ": expected dtype " + (bf16 ? "f32 or bf16" : "f32") + ", got " +
                 dtype_name(t.dtype));
}

inline void expect_same_dtype(const Tensor& t, const Tensor& ref, const char* name, const char* ref_name) {
  if (t.dtype != ref.dtype)
    throw ArgError(std::string(name) + ": expected the dtype of " + ref_name + " (" + dtype_name(ref.dtype) +
                   "), got " + dtype_name(t.dtype));
}

// The softmax / KDA scale: finite, 1/sqrt(D) by default.
inline double opt_scale(const Napi::Object& opts, int64_t D) {
  const double scale = opt_number(opts, "scale", 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(D, 1))));
  if (!std::isfinite(scale)) throw ArgError("scale: expected a finite number, got " + js_number_text(scale));
  return scale;
}

// ---- KDA (docs/design/kda.md) ---------------------------------------------------------------------------------

// What one backend's KDA kernels accept.
struct KdaLimits {
  DeviceKind device;
  bool bf16_storage;        // q/k (one dtype), v/dO (one dtype) and beta may be bf16; g and the states stay f32
  int64_t max_head_dim;     // K and V
  int64_t max_batch_heads;  // B*H, 0 for no limit
  int64_t max_chunks;       // B*H*ceil(T/chunkSize), 0 for no limit
};

// q, k, g [B,T,H,K]; v [B,T,H,V]; beta [B,T,H]; initialState [B,H,K,V] (optional). For the backward also
// dO [B,T,H,V] (required) and dFinalState [B,H,K,V] (optional). Undefined tensors are the absent optional ones.
struct KdaTensors {
  Tensor q, k, v, g, beta, h0, dO, dht;
};

struct KdaDims {
  int64_t B, T, H, K, V, C;
  double scale;
};

inline KdaDims kda_rules(const KdaTensors& a, const Napi::Object& opts, const KdaLimits& lim, bool backward) {
  expect_ndim(a.q, 4, "q", "[B,T,H,K]");
  KdaDims d{a.q.dim(0), a.q.dim(1), a.q.dim(2), a.q.dim(3), 0, 0, 0};
  expect_shape(a.k, {d.B, d.T, d.H, d.K}, "k", "[B,T,H,K]");
  expect_ndim(a.v, 4, "v", "[B,T,H,V]");
  d.V = a.v.dim(3);
  expect_shape(a.v, {d.B, d.T, d.H, d.V}, "v", "[B,T,H,V]");
  expect_shape(a.g, {d.B, d.T, d.H, d.K}, "g", "[B,T,H,K]");
  expect_shape(a.beta, {d.B, d.T, d.H}, "beta", "[B,T,H]");
  if (a.h0.defined()) expect_shape(a.h0, {d.B, d.H, d.K, d.V}, "initialState", "[B,H,K,V]");
  if (backward) {
    expect_shape(a.dO, {d.B, d.T, d.H, d.V}, "dO", "[B,T,H,V]");
    if (a.dht.defined()) expect_shape(a.dht, {d.B, d.H, d.K, d.V}, "dFinalState", "[B,H,K,V]");
  }

  d.scale = opt_scale(opts, d.K);
  const double chunk = opt_number(opts, "chunkSize", 64);
  if (chunk != 64 && chunk != 32) throw ArgError("chunkSize: expected 32 or 64, got " + js_number_text(chunk));
  d.C = static_cast<int64_t>(chunk);

  const char* dev = device_kind_name(lim.device);
  check_int_dims({{"B", d.B}, {"T", d.T}, {"H", d.H}}, "q");  // the kernels index with int
  if (d.K > lim.max_head_dim || d.V > lim.max_head_dim)
    throw ArgError("q/v: head dimensions K = " + std::to_string(d.K) + ", V = " + std::to_string(d.V) +
                   " are above the " + std::to_string(lim.max_head_dim) + " the " + dev + " KDA kernels support");
  if (lim.max_batch_heads && d.B * d.H > lim.max_batch_heads)
    throw ArgError("q: B*H = " + std::to_string(d.B * d.H) + " is above the " + std::to_string(lim.max_batch_heads) +
                   " the " + dev + " KDA kernels support");
  if (lim.max_chunks && d.B * d.H * ((d.T + d.C - 1) / d.C) > lim.max_chunks)
    throw ArgError("q: B*H*ceil(T/chunkSize) = " + std::to_string(d.B * d.H * ((d.T + d.C - 1) / d.C)) +
                   " chunks are above the " + std::to_string(lim.max_chunks) + " the " + dev +
                   " KDA kernels launch at once");

  const bool bf = lim.bf16_storage;
  expect_storage(a.q, bf, "q");
  expect_same_dtype(a.k, a.q, "k", "q");
  expect_storage(a.v, bf, "v");
  expect_storage(a.g, false, "g");
  expect_storage(a.beta, bf, "beta");
  if (a.h0.defined()) expect_storage(a.h0, false, "initialState");
  if (backward) {
    expect_same_dtype(a.dO, a.v, "dO", "v");
    if (a.dht.defined()) expect_storage(a.dht, false, "dFinalState");
  }

  expect_device(a.q, lim.device, "q");
  const std::pair<const Tensor*, const char*> rest[] = {{&a.k, "k"},       {&a.v, "v"},   {&a.g, "g"},
                                                        {&a.beta, "beta"}, {&a.h0, "initialState"},
                                                        {&a.dO, "dO"},     {&a.dht, "dFinalState"}};
  for (const auto& [t, name] : rest)
    if (t->defined()) expect_device(*t, lim.device, name, &a.q, "q");
  return d;
}

// ---- causal attention -----------------------------------------------------------------------------------------

struct AttentionLimits {
  DeviceKind device;
  bool cached_keys;      // Tk > Tq allowed (q holds the last Tq of Tk positions)
  int64_t max_head_dim;  // D and Dv, 0 for no limit
};

// q [B,Tq,H,D], k [B,Tk,H,D], v [B,Tk,H,Dv]; for the backward also o, dO [B,Tq,H,Dv] and lse [B,H,Tq]
// (undefined in the forward). All f32.
struct AttentionTensors {
  Tensor q, k, v, o, dO, lse;
};

struct AttentionDims {
  int64_t B, Tq, Tk, H, D, Dv;
  double scale;
};

inline AttentionDims attention_rules(const AttentionTensors& a, const Napi::Object& opts, const AttentionLimits& lim) {
  const bool backward = a.o.defined() || a.dO.defined() || a.lse.defined();
  expect_ndim(a.q, 4, "q", "[B,Tq,H,D]");
  expect_ndim(a.k, 4, "k", "[B,Tk,H,D]");
  AttentionDims d{a.q.dim(0), a.q.dim(1), a.k.dim(1), a.q.dim(2), a.q.dim(3), 0, 0};
  const char* dev = device_kind_name(lim.device);
  const bool tk_ok = lim.cached_keys ? d.Tk >= d.Tq : d.Tk == d.Tq;
  if (a.k.dim(0) != d.B || a.k.dim(2) != d.H || a.k.dim(3) != d.D || !tk_ok)
    throw ArgError("k: expected shape [B,Tk,H,D] with B,H,D = " + std::to_string(d.B) + "," + std::to_string(d.H) +
                   "," + std::to_string(d.D) + (lim.cached_keys ? " and Tk >= Tq = " : " and Tk = Tq = ") +
                   std::to_string(d.Tq) + " (from q " + a.q.shape_str() +
                   (lim.cached_keys ? "" : std::string("; ") + dev + " attention takes no cached keys") + "), got " +
                   a.k.shape_str());
  expect_ndim(a.v, 4, "v", "[B,Tk,H,Dv]");
  if (a.v.dim(0) != d.B || a.v.dim(1) != d.Tk || a.v.dim(2) != d.H)
    throw ArgError("v: expected shape [B,Tk,H,Dv] with B,Tk,H = " + std::to_string(d.B) + "," + std::to_string(d.Tk) +
                   "," + std::to_string(d.H) + ", got " + a.v.shape_str());
  d.Dv = a.v.dim(3);
  if (backward) {
    expect_shape(a.o, {d.B, d.Tq, d.H, d.Dv}, "o", "[B,Tq,H,Dv]");
    expect_shape(a.dO, {d.B, d.Tq, d.H, d.Dv}, "dO", "[B,Tq,H,Dv]");
    expect_shape(a.lse, {d.B, d.H, d.Tq}, "lse", "[B,H,Tq]");
  }

  d.scale = opt_scale(opts, d.D);

  if (lim.max_head_dim && (d.D > lim.max_head_dim || d.Dv > lim.max_head_dim))
    throw ArgError("q/v: head dimensions D = " + std::to_string(d.D) + ", Dv = " + std::to_string(d.Dv) +
                   " are above the " + std::to_string(lim.max_head_dim) + " the " + dev + " attention supports");

  const std::pair<const Tensor*, const char*> all[] = {{&a.q, "q"}, {&a.k, "k"}, {&a.v, "v"},
                                                       {&a.o, "o"}, {&a.dO, "dO"}, {&a.lse, "lse"}};
  for (const auto& [t, name] : all)
    if (t->defined()) expect_storage(*t, false, name);
  for (const auto& [t, name] : all)
    if (t->defined()) expect_device(*t, lim.device, name, t == &a.q ? nullptr : &a.q, "q");
  return d;
}

// ---- AdamW (the update is torch.optim.AdamW's; see native/adamw.cc) -------------------------------------------

struct AdamwHyper {
  double lr, beta1, beta2, eps, weight_decay, step;
};

// Every hyper-parameter is required; the messages are src/optim/adamw.ts's, which checks the same first.
inline AdamwHyper adamw_hyper(const Napi::Object& opts) {
  auto get = [&](const char* key, bool (*ok)(double), const char* allowed) {
    Napi::Value v = opts.Get(key);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!v.IsNumber() || !std::isfinite(d) || !ok(d))
      throw ArgError(std::string(key) + ": expected " + allowed + ", got " +
                     (v.IsNumber() ? js_number_text(d) : v.IsUndefined() ? "undefined" : v.IsString() ? "string"
                                                                       : v.IsBoolean() ? "boolean" : "object"));
    return d;
  };
  auto non_negative = [](double x) { return x >= 0; };
  auto unit = [](double x) { return x >= 0 && x < 1; };
  AdamwHyper h;
  h.lr = get("lr", non_negative, "a finite number >= 0");
  h.beta1 = get("beta1", unit, "a number in [0, 1)");
  h.beta2 = get("beta2", unit, "a number in [0, 1)");
  h.eps = get("eps", non_negative, "a finite number >= 0");
  h.weight_decay = get("weightDecay", non_negative, "a finite number >= 0");
  h.step = get("step", [](double x) { return x >= 1 && x == std::floor(x); }, "an integer >= 1");
  return h;
}

// params[i], grads[i], m[i], v[i]: one of each per parameter, f32, shaped like params[i], all on one device of
// `device`; no storage of params/m/v is written twice in one call and no grads tensor is one of them. The
// hyper-parameters are checked after the list lengths (as in src/optim/adamw.ts) and before the tensors.
inline AdamwHyper adamw_rules(const std::vector<Tensor>& ps, const std::vector<Tensor>& gs,
                              const std::vector<Tensor>& ms, const std::vector<Tensor>& vs, const Napi::Object& opts,
                              DeviceKind device) {
  const char* names[4] = {"params", "grads", "m", "v"};
  const std::vector<Tensor>* lists[4] = {&ps, &gs, &ms, &vs};
  for (int j = 1; j < 4; ++j)
    if (lists[j]->size() != ps.size())
      throw ArgError(std::string(names[j]) + ": expected " + std::to_string(ps.size()) +
                     " tensors (one per param), got " + std::to_string(lists[j]->size()));
  const AdamwHyper h = adamw_hyper(opts);
  auto nm = [&](int j, size_t i) { return std::string(names[j]) + "[" + std::to_string(i) + "]"; };
  for (size_t i = 0; i < ps.size(); ++i)
    for (int j = 0; j < 4; ++j) {
      const Tensor& t = (*lists[j])[i];
      if (j > 0 && t.shape != ps[i].shape)
        throw ArgError(nm(j, i) + ": expected shape " + ps[i].shape_str() + " (the shape of params[" +
                       std::to_string(i) + "]), got " + t.shape_str());
      expect_storage(t, false, nm(j, i).c_str());
    }
  for (size_t i = 0; i < ps.size(); ++i)
    for (int j = 0; j < 4; ++j)
      expect_device((*lists[j])[i], device, nm(j, i).c_str(), i + j ? &ps[0] : nullptr, "params[0]");
  std::set<const void*> written;  // a storage updated twice in one call would be a silent bug
  for (size_t i = 0; i < ps.size(); ++i) {
    if (ps[i].numel() == 0) continue;
    for (int j : {0, 2, 3})
      if (!written.insert((*lists[j])[i].raw()).second)
        throw ArgError(nm(j, i) + ": shares memory with another params/m/v tensor of this call");
  }
  for (size_t i = 0; i < gs.size(); ++i)
    if (gs[i].numel() > 0 && written.count(gs[i].raw()))
      throw ArgError(nm(1, i) + ": shares memory with a params/m/v tensor of this call");
  return h;
}

}  // namespace reclin
