// Native tensor core: contiguous row-major tensors over refcounted storage.
// Every kernel in native/ works on these; the Node-API layer (napi_tensor.h) wraps them as handles.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace reclin {

enum class DType : int { F32 = 0, I32 = 1, BF16 = 2 };
enum class DeviceKind : int { CPU = 0, CUDA = 1 };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string name() const;  // "cpu" or "cuda:N"
};

size_t dtype_size(DType d);
const char* dtype_name(DType d);  // "f32" | "i32" | "bf16"

// One allocation. Host memory is 64-byte aligned so SIMD kernels may use aligned loads on row starts.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct Tensor {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::F32;
  Device device;
  std::vector<int64_t> shape;

  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape[i < 0 ? i + ndim() : i]; }
  bool defined() const { return static_cast<bool>(storage); }
  float* f32() const;      // throws unless dtype is f32 on cpu
  int32_t* i32() const;    // throws unless dtype is i32 on cpu
  void* raw() const { return storage ? storage->data : nullptr; }
  std::string shape_str() const;  // "[2,3,4]"
  Tensor reshaped(const std::vector<int64_t>& new_shape) const;  // shares storage
};

Tensor empty(const std::vector<int64_t>& shape, DType dtype = DType::F32, Device device = Device{});
Tensor zeros(const std::vector<int64_t>& shape, DType dtype = DType::F32, Device device = Device{});
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);

struct MemoryStats {
  int64_t host_bytes = 0;       // live host storage bytes
  int64_t device_bytes = 0;     // live device storage bytes
  int64_t peak_host_bytes = 0;
  int64_t live_storages = 0;
  int64_t live_handles = 0;     // JS-visible tensor handles not yet disposed/collected
};
MemoryStats memory_stats();
void count_handle(int delta);

// Thrown for bad arguments; the binding turns it into a JS TypeError/RangeError with this message.
struct ArgError : std::invalid_argument {
  explicit ArgError(const std::string& msg) : std::invalid_argument(msg) {}
};

}  // namespace reclin
