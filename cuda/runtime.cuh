// CUDA runtime pieces shared by the kernels in cuda/: one stream per device, the caching allocator,
// error checks that throw (the binding trampoline turns them into JS errors).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace reclin {

inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

cudaStream_t stream_for(int device);  // the device's one stream (created on first use); sets the device current
int64_t cached_bytes(int device);     // bytes held by the caching allocator but not in use
void empty_cache(int device);

// Device-side checks (device_check.cuh): the device's CheckRecord (as void*, made on first use; marks that a check
// was queued), and, after the caller synchronised the stream, a DeviceCheckError if one of them failed.
void* check_record(int device);
void raise_device_check(int device);

}  // namespace reclin
