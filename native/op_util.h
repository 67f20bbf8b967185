// Small helpers shared by the op files (argument checks with named errors, shape arithmetic).
#pragma once
#include <string>
#include <vector>

#include "binding.h"
#include "threads.h"

namespace reclin {

inline std::string shape_string(const std::vector<int64_t>& shape) {
  Tensor t;
  t.shape = shape;
  return t.shape_str();
}

inline void expect_cpu(const Tensor& t, const char* name) {
  if (t.device.kind != DeviceKind::CPU)
    throw ArgError(std::string(name) + ": expected a cpu tensor, got one on " + t.device.name());
}

// A tensor argument that must be f32 (or i32) on the CPU.
inline Tensor arg_f32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Tensor t = arg_tensor(info, i, name);
  expect_cpu(t, name);
  expect_dtype(t, DType::F32, name);
  return t;
}
inline Tensor arg_i32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Tensor t = arg_tensor(info, i, name);
  expect_cpu(t, name);
  expect_dtype(t, DType::I32, name);
  return t;
}

// Requires at least `min_ndim` dimensions; `layout` like "[...,D]" for the message.
inline void expect_min_ndim(const Tensor& t, int min_ndim, const char* name, const char* layout) {
  if (t.ndim() < min_ndim)
    throw ArgError(std::string(name) + ": expected at least " + std::to_string(min_ndim) + " dimension(s) " + layout +
                   ", got " + t.shape_str());
}

inline void expect_same_shape(const Tensor& t, const Tensor& ref, const char* name, const char* ref_name) {
  if (t.shape != ref.shape)
    throw ArgError(std::string(name) + ": expected the shape of " + ref_name + " " + ref.shape_str() + ", got " +
                   t.shape_str());
}

// Normalises a possibly negative dimension index; names the argument on error.
inline int norm_dim(int64_t dim, int ndim, const char* name) {
  if (dim < -ndim || dim >= ndim || ndim == 0)
    throw ArgError(std::string(name) + ": dimension " + std::to_string(dim) + " is out of range for a " +
                   std::to_string(ndim) + "-D tensor");
  return static_cast<int>(dim < 0 ? dim + ndim : dim);
}

// Product of all dimensions but the last (the "rows" of a [..., D] tensor).
inline int64_t leading_rows(const Tensor& t) {
  int64_t r = 1;
  for (int i = 0; i + 1 < t.ndim(); ++i) r *= t.shape[i];
  return r;
}

inline std::vector<int64_t> without_last(const std::vector<int64_t>& s) {
  return std::vector<int64_t>(s.begin(), s.end() - (s.empty() ? 0 : 1));
}

// Work below this many elements is not worth waking threads for.
constexpr int64_t kParallelGrain = 1 << 15;

inline Napi::Object result_object(Napi::Env env) { return Napi::Object::New(env); }

}  // namespace reclin
