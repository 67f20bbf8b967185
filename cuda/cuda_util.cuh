// Helpers shared by the CUDA op files: argument checks for device tensors (named errors, like native/op_util.h),
// launch checks and grid sizing. Every kernel launches on stream_for(device) and returns without synchronising.
#pragma once
#include <cstdlib>
#include <string>
#include <vector>

#include "binding.h"
#include "runtime.cuh"
#include "shape_rules.h"

namespace reclin {

inline void expect_cuda(const Tensor& t, const char* name) {
  if (t.device.kind != DeviceKind::CUDA)
    throw ArgError(std::string(name) + ": expected a cuda tensor, got one on " + t.device.name());
}

// A tensor argument that must be f32 (or i32) on a CUDA device.
inline Tensor arg_cuda_f32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Tensor t = arg_tensor(info, i, name);
  expect_cuda(t, name);
  expect_dtype(t, DType::F32, name);
  return t;
}
inline Tensor arg_cuda_i32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Tensor t = arg_tensor(info, i, name);
  expect_cuda(t, name);
  expect_dtype(t, DType::I32, name);
  return t;
}

// Launch errors surface at once; with RECLIN_CUDA_SYNC=1 (scripts/gpu-check.sh sets it for the tests) every
// launch also waits for its kernel, so a fault is reported under the kernel's own name.
inline void launch_check(const char* kernel) {
  cuda_check(cudaGetLastError(), kernel);
  static const bool sync = [] {
    const char* e = std::getenv("RECLIN_CUDA_SYNC");
    return e && std::string(e) == "1";
  }();
  if (sync) cuda_check(cudaDeviceSynchronize(), kernel);
}

// Blocks for a grid-stride loop over n items (capped; the loops stride over the rest).
inline unsigned blocks_for(int64_t n, int threads = 256) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535 * 8) b = 65535 * 8;
  return static_cast<unsigned>(b);
}

inline const float* cf(const Tensor& t) { return static_cast<const float*>(t.raw()); }
inline float* mf(const Tensor& t) { return static_cast<float*>(t.raw()); }
inline const int32_t* ci(const Tensor& t) { return static_cast<const int32_t*>(t.raw()); }
inline int32_t* mi(const Tensor& t) { return static_cast<int32_t*>(t.raw()); }

// Same device as `ref`, then the CPU ops' shape rule (shape_rules.h), so both backends name the same argument.
inline void expect_same(const Tensor& t, const Tensor& ref, const char* name, const char* ref_name) {
  expect_same_device(ref, t, ref_name, name);
  expect_same_shape(t, ref, name, ref_name);
}

}  // namespace reclin
