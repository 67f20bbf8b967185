// Native tensor core: contiguous row-major tensors over refcounted storage.
// Every kernel in native/ works on these; the Node-API layer (binding.h, TensorHandle) wraps them as handles.
//
// Size invariant: every shape that becomes a tensor passes check_shape() (in empty() and reshaped()), so for
// any live tensor the product of its non-zero dimensions is at most kMaxElements and its bytes at most
// kMaxBytes. Kernels may therefore multiply any subset of a tensor's dimensions in int64 without overflow.
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

// Limits on one tensor: at most 2^47 elements, counting the non-zero dimensions only (so [0, 2^60] is refused
// too: kernels may loop over the rows of an empty tensor), and at most 2^47 bytes, the user address space of
// x86-64 and arm64. Counts then stay exact integers in JS (shapes travel as doubles) and far from int64 overflow.
constexpr int64_t kMaxElements = int64_t(1) << 47;
constexpr int64_t kMaxBytes = int64_t(1) << 47;
constexpr int kMaxCudaDevices = 16;  // device indices 0..15 (cuda/runtime.cu keeps one state per index)

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

// Thrown for a shape that breaks the size invariant above; the binding adds the op name.
struct SizeError : std::invalid_argument {
  explicit SizeError(const std::string& msg) : std::invalid_argument(msg) {}
};
// Thrown when memory for a tensor cannot be had (names shape, dtype, bytes and device).
struct AllocError : std::runtime_error {
  explicit AllocError(const std::string& msg) : std::runtime_error(msg) {}
};

// Checks the element part of the size invariant (dimensions >= 0, non-zero product <= kMaxElements) and
// returns the element count; check_shape adds the byte limit for `dtype`. `what` names the shape in messages.
int64_t check_numel(const std::vector<int64_t>& shape, const char* what = "shape");
int64_t check_shape(const std::vector<int64_t>& shape, DType dtype, const char* what = "shape");
// a + b for dimension arithmetic, refusing results above kMaxElements (negative inputs are refused too).
int64_t checked_add(int64_t a, int64_t b, const char* what);

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

// bf16 <-> f32 bits: bf16 is the high half of an f32; rounding to nearest even, NaN stays NaN (cuda/bf16.cuh agrees).
inline uint16_t f32_to_bf16_bits(uint32_t b) {
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu)) return static_cast<uint16_t>((b >> 16) | 0x40);
  return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

// A check of tensor data that ran on a GPU found bad input (a KDA gate > 0, a target or id out of range); thrown
// at the next synchronisation with the host, naming the op that queued the check (cuda/device_check.cuh).
struct DeviceCheckError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown for bad arguments; the binding turns it into a JS TypeError/RangeError with this message.
struct ArgError : std::invalid_argument {
  explicit ArgError(const std::string& msg) : std::invalid_argument(msg) {}
};
// A tensor whose dtype the op does not take (e.g. a bf16 frozen weight handed to an op that computes in f32 only);
// the binding puts the op's name in front, since such a tensor can reach any op through user code.
struct DTypeError : ArgError {
  using ArgError::ArgError;
};

}  // namespace reclin
