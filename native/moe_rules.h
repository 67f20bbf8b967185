// Argument rules of the mixture-of-experts ops, shared by the CPU entries (native/moe.cc) and their CUDA twins
// (cuda/moe.cu), so both read the same options and refuse the same shapes with the same message. What only one
// backend checks stays with it: the CPU checks expert indices on the host, CUDA on the device (device_check.cuh),
// and CUDA's 32-bit launch limits.
#pragma once
#include <cmath>
#include <string>

#include "shape_rules.h"

namespace reclin {

// The routing options of moeRoute / moeRouteBackward (src/ops/moe.ts MoeRouteOptions).
struct MoeRouteOpts {
  int64_t top_k = 0, groups = 1, topk_group = 1;
  bool renormalize = true;
  float scale = 1.f;
  bool softmax = false;  // scores by softmax over the experts instead of sigmoid
};

inline int64_t moe_int_opt(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw ArgError(std::string(key) + ": expected an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15)
    throw ArgError(std::string(key) + ": expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

// `forward`: also the selection options (topK, numGroups, topkGroup), checked against the E experts.
inline MoeRouteOpts moe_route_opts(const Napi::Object& o, int64_t E, bool forward) {
  MoeRouteOpts r;
  r.renormalize = opt_bool(o, "renormalize", true);
  r.scale = static_cast<float>(opt_number(o, "scale", 1.0));
  Napi::Value act = o.Get("activation");
  const std::string a = act.IsString() ? act.As<Napi::String>().Utf8Value() : "sigmoid";
  if (a == "softmax") r.softmax = true;
  else if (a != "sigmoid") throw ArgError("activation: expected 'sigmoid' or 'softmax', got '" + a + "'");
  if (!forward) return r;
  r.top_k = moe_int_opt(o, "topK", 0);
  r.groups = moe_int_opt(o, "numGroups", 1);
  r.topk_group = moe_int_opt(o, "topkGroup", 1);
  if (r.groups < 1 || E % r.groups != 0)
    throw ArgError("numGroups: expected a divisor of the expert count " + std::to_string(E) + ", got " + std::to_string(r.groups));
  if (r.topk_group < r.groups && E / r.groups < 2)
    throw ArgError("numGroups: each group needs at least 2 experts (a group is scored by its two best), got " +
                   std::to_string(E) + " experts in " + std::to_string(r.groups) + " groups");
  if (r.topk_group < 1 || r.topk_group > r.groups)
    throw ArgError("topkGroup: expected 1.." + std::to_string(r.groups) + ", got " + std::to_string(r.topk_group));
  const int64_t allowed = r.topk_group * (E / r.groups);
  if (r.top_k < 1 || r.top_k > allowed)
    throw ArgError("topK: expected 1.." + std::to_string(allowed) + " (the experts in the topkGroup selected groups), got " +
                   std::to_string(r.top_k));
  return r;
}

// indices [N,k] (the entries are each backend's own check).
inline void moe_indices_shape(const Tensor& indices, int64_t N) {
  expect_ndim(indices, 2, "indices", "[N,k]");
  if (indices.dim(0) != N) throw ArgError("indices: expected " + std::to_string(N) + " rows, got " + indices.shape_str());
}

struct MoeExpertDims {
  int64_t N, d, E, I, k;
};

// x [N,d], gateUp [E,2I,d], down [E,d,I], indices [N,k], weights [N,k].
inline MoeExpertDims moe_experts_shapes(const Tensor& x, const Tensor& gate_up, const Tensor& down, const Tensor& indices,
                                        const Tensor& weights) {
  expect_ndim(x, 2, "x", "[N,d]");
  expect_ndim(gate_up, 3, "gateUp", "[E,2I,d]");
  MoeExpertDims m{x.dim(0), x.dim(1), gate_up.dim(0), 0, 0};
  if (gate_up.dim(1) % 2 != 0 || gate_up.dim(2) != m.d)
    throw ArgError("gateUp: expected [E,2I," + std::to_string(m.d) + "] (gate rows over up rows), got " + gate_up.shape_str());
  m.I = gate_up.dim(1) / 2;
  expect_shape(down, {m.E, m.d, m.I}, "down", "[E,d,I]");
  moe_indices_shape(indices, m.N);
  m.k = indices.dim(1);
  expect_shape(weights, {m.N, m.k}, "weights", "[N,k]");
  return m;
}

// The backward's extra inputs: dy [N,d] and the forward's h [N·k,2I], ye [N·k,d].
inline void moe_experts_backward_shapes(const MoeExpertDims& m, const Tensor& dy, const Tensor& h, const Tensor& ye) {
  const int64_t A = m.N * m.k;
  expect_shape(dy, {m.N, m.d}, "dy", "[N,d]");
  expect_shape(h, {A, 2 * m.I}, "h", "[N·k,2I]");
  expect_shape(ye, {A, m.d}, "ye", "[N·k,d]");
}

}  // namespace reclin
