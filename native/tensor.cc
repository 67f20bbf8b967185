#include "tensor.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace reclin {

namespace {
std::atomic<int64_t> g_host_bytes{0};
std::atomic<int64_t> g_device_bytes{0};
std::atomic<int64_t> g_peak_host{0};
std::atomic<int64_t> g_storages{0};
std::atomic<int64_t> g_handles{0};

// 64-byte-aligned host blocks from plain malloc, the block's start kept just below the aligned pointer.
// glibc's aligned_alloc asks its heap for size + alignment and keeps only `size`, so the freed block is too
// small for the next request of the same size: a training loop that frees and re-creates the same large
// tensors (the MoE layer's expert gradients, [E,2I,d]) then grows the heap by their size every step and
// page-faults fresh memory (measured: +300 MB RSS and 74k page faults per step at bench shape
// 1,128,768,384,64,8,1). A malloc of size + 64 is reused as is. host_memory.cc keeps such blocks in the heap.
void* host_alloc(size_t bytes) {
  void* raw = std::malloc(bytes + 64);
  if (!raw) return nullptr;
  const uintptr_t aligned = (reinterpret_cast<uintptr_t>(raw) + sizeof(void*) + 63) & ~static_cast<uintptr_t>(63);
  reinterpret_cast<void**>(aligned)[-1] = raw;
  return reinterpret_cast<void*>(aligned);
}

void host_free(void* p) {
  if (p) std::free(static_cast<void**>(p)[-1]);
}
}  // namespace

#if RECLIN_WITH_CUDA
void* cuda_alloc(size_t bytes, int device);  // cuda/runtime.cu
void cuda_free(void* p, int device);
#endif

std::string Device::name() const {
  return kind == DeviceKind::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32: return 4;
    case DType::I32: return 4;
    case DType::BF16: return 2;
  }
  return 0;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "f32";
    case DType::I32: return "i32";
    case DType::BF16: return "bf16";
  }
  return "?";
}

Storage::Storage(size_t n, Device dev) : bytes(n), device(dev) {
  if (dev.kind == DeviceKind::CPU) {
    size_t rounded = ((n + 63) / 64) * 64;
    data = host_alloc(rounded == 0 ? 64 : rounded);
    if (!data) throw std::bad_alloc();
    int64_t now = g_host_bytes.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    int64_t peak = g_peak_host.load();
    while (now > peak && !g_peak_host.compare_exchange_weak(peak, now)) {
    }
  } else {
#if RECLIN_WITH_CUDA
    data = cuda_alloc(n, dev.index);
    g_device_bytes.fetch_add(static_cast<int64_t>(n));
#else
    throw ArgError("this reclin binary was built without CUDA; device '" + dev.name() + "' is unavailable");
#endif
  }
  g_storages.fetch_add(1);
}

Storage::~Storage() {
  if (device.kind == DeviceKind::CPU) {
    host_free(data);
    g_host_bytes.fetch_sub(static_cast<int64_t>(bytes));
  } else {
#if RECLIN_WITH_CUDA
    cuda_free(data, device.index);
    g_device_bytes.fetch_sub(static_cast<int64_t>(bytes));
#endif
  }
  g_storages.fetch_sub(1);
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

float* Tensor::f32() const {
  if (dtype != DType::F32 || device.kind != DeviceKind::CPU)
    throw ArgError(std::string("expected an f32 cpu tensor, got ") + dtype_name(dtype) + " on " + device.name());
  return static_cast<float*>(storage->data);
}

int32_t* Tensor::i32() const {
  if (dtype != DType::I32 || device.kind != DeviceKind::CPU)
    throw ArgError(std::string("expected an i32 cpu tensor, got ") + dtype_name(dtype) + " on " + device.name());
  return static_cast<int32_t*>(storage->data);
}

std::string Tensor::shape_str() const {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
  s << "]";
  return s.str();
}

Tensor Tensor::reshaped(const std::vector<int64_t>& new_shape) const {
  Tensor t = *this;
  t.shape = new_shape;
  if (check_shape(new_shape, dtype) != numel())
    throw ArgError("cannot reshape " + shape_str() + " to " + t.shape_str() + ": element counts differ");
  return t;
}

static std::string shape_text(const std::vector<int64_t>& shape) {
  Tensor t;
  t.shape = shape;
  return t.shape_str();
}

int64_t check_numel(const std::vector<int64_t>& shape, const char* what) {
  int64_t n = 1, nonzero = 1;  // the full product and the product of the non-zero dimensions
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t d = shape[i];
    if (d < 0)
      throw SizeError(std::string(what) + " " + shape_text(shape) + ": dimension " + std::to_string(i) + " is negative");
    if (d == 0) {
      n = 0;
      continue;
    }
    if (__builtin_mul_overflow(nonzero, d, &nonzero) || nonzero > kMaxElements)
      throw SizeError(std::string(what) + " " + shape_text(shape) + " has more than 2^47 elements (the most one tensor may hold; zero dimensions aside)");
  }
  return n == 0 ? 0 : nonzero;
}

int64_t check_shape(const std::vector<int64_t>& shape, DType dtype, const char* what) {
  const int64_t n = check_numel(shape, what);
  const int64_t es = static_cast<int64_t>(dtype_size(dtype));
  int64_t bytes;
  if (__builtin_mul_overflow(n, es, &bytes) || bytes > kMaxBytes)
    throw SizeError(std::string(what) + " " + shape_text(shape) + " of " + dtype_name(dtype) + " needs " +
                    std::to_string(static_cast<double>(n) * es) + " bytes, above the 2^47 bytes (128 TiB) one tensor may hold");
  return n;
}

int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t s;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &s) || s > kMaxElements)
    throw SizeError(std::string(what) + ": " + std::to_string(a) + " + " + std::to_string(b) + " is above 2^47");
  return s;
}

Tensor empty(const std::vector<int64_t>& shape, DType dtype, Device device) {
  Tensor t;
  t.dtype = dtype;
  t.device = device;
  t.shape = shape;
  check_shape(shape, dtype);
  try {
    t.storage = std::make_shared<Storage>(t.nbytes(), device);
  } catch (const std::bad_alloc&) {
    throw AllocError("out of memory allocating " + t.shape_str() + " " + dtype_name(dtype) + " (" +
                     std::to_string(t.nbytes()) + " bytes) on " + device.name());
  }
  return t;
}

Tensor zeros(const std::vector<int64_t>& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.kind == DeviceKind::CPU) std::memset(t.raw(), 0, t.nbytes());
#if RECLIN_WITH_CUDA
  else {
    extern void cuda_memset_zero(void* p, size_t n, int device);
    cuda_memset_zero(t.raw(), t.nbytes(), device.index);
  }
#endif
  return t;
}

Tensor empty_like(const Tensor& t) { return empty(t.shape, t.dtype, t.device); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape, t.dtype, t.device); }

MemoryStats memory_stats() {
  MemoryStats m;
  m.host_bytes = g_host_bytes.load();
  m.device_bytes = g_device_bytes.load();
  m.peak_host_bytes = g_peak_host.load();
  m.live_storages = g_storages.load();
  m.live_handles = g_handles.load();
  return m;
}

void count_handle(int delta) { g_handles.fetch_add(delta); }

}  // namespace reclin
