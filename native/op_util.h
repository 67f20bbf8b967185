// Small helpers shared by the op files (argument checks with named errors, shape arithmetic).
#pragma once
#include <string>
#include <vector>

#include "binding.h"
#include "shape_rules.h"
#include "threads.h"

namespace reclin {

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
// A weight argument on the CPU that may be f32 or bf16 (a frozen weight kept as its checkpoint stores it).
inline Tensor arg_f32_or_bf16(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Tensor t = arg_tensor(info, i, name);
  expect_cpu(t, name);
  if (t.dtype != DType::F32 && t.dtype != DType::BF16)
    throw DTypeError(std::string(name) + ": expected dtype f32 or bf16, got " + dtype_name(t.dtype));
  return t;
}
inline Tensor arg_i32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Tensor t = arg_tensor(info, i, name);
  expect_cpu(t, name);
  expect_dtype(t, DType::I32, name);
  return t;
}

// Work below this many elements is not worth waking threads for.
constexpr int64_t kParallelGrain = 1 << 15;
// The same for memory-bound streams (copies, adds, scales): on the 2-core dev machine a second thread did not
// speed up an add of up to 2M floats (bandwidth-bound), and with OMP_WAIT_POLICY=PASSIVE (set by bench:cpu on
// a busy machine) waking it made adds of 64K-1M floats 10-100% slower (measured 20-45 us per call).
constexpr int64_t kStreamGrain = 1 << 19;

inline Napi::Object result_object(Napi::Env env) { return Napi::Object::New(env); }

}  // namespace reclin
