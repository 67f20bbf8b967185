// Creation, copy-out helpers, memory statistics and build information.
#include <cstring>

#include "binding.h"
#include "threads.h"
#include "vec_math.h"

namespace reclin {

static DType parse_dtype(const std::string& s, const char* name) {
  if (s == "f32" || s == "float32") return DType::F32;
  if (s == "i32" || s == "int32") return DType::I32;
  if (s == "bf16" || s == "bfloat16") return DType::BF16;
  throw ArgError(std::string(name) + ": unknown dtype '" + s + "' (allowed: f32, i32, bf16)");
}

static Device parse_device(const std::string& s) {
  if (s == "cpu") return Device{};
  if (s == "cuda") return Device{DeviceKind::CUDA, 0};
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.find_first_not_of("0123456789", 5) == std::string::npos) {
    // Compare as text first: the digits may not fit any integer type.
    const std::string digits = s.substr(5);
    if (digits.size() > 2 || std::stoi(digits) >= kMaxCudaDevices)
      throw ArgError("device: '" + s + "' is out of range (device indices run from 0 to " +
                     std::to_string(kMaxCudaDevices - 1) + ")");
    return Device{DeviceKind::CUDA, std::stoi(digits)};
  }
  throw ArgError("device: unknown device '" + s + "' (allowed: cpu, cuda, cuda:N)");
}

#if RECLIN_WITH_CUDA
void cuda_copy_to_device(void* dst, const void* src, size_t n, int device);  // cuda/runtime.cu
void cuda_copy_to_host(void* dst, const void* src, size_t n, int device);
void cuda_copy_device_to_device(void* dst, int dst_device, const void* src, int src_device, size_t n);
#endif

// fromArray(typedArray, shape, dtype, device): copies a Float32Array (f32/bf16), Int32Array (i32) or Uint16Array
// (bf16 bits, as a checkpoint stores them: copied unchanged).
static Napi::Value FromArray(const Napi::CallbackInfo& info) {
  std::vector<int64_t> shape = arg_shape(info, 1, "shape");
  DType dtype = parse_dtype(info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "f32", "dtype");
  Device device = parse_device(info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "cpu");
  if (!info[0].IsTypedArray()) throw ArgError("data: expected a Float32Array or Int32Array");
  Napi::TypedArray arr = info[0].As<Napi::TypedArray>();
  bool is_i32 = arr.TypedArrayType() == napi_int32_array;
  bool is_f32 = arr.TypedArrayType() == napi_float32_array;
  const bool bf16_bits = dtype == DType::BF16 && arr.TypedArrayType() == napi_uint16_array;
  if (dtype == DType::I32 && !is_i32) throw ArgError("data: dtype i32 needs an Int32Array");
  if (dtype == DType::F32 && !is_f32) throw ArgError("data: dtype f32 needs a Float32Array");
  if (dtype == DType::BF16 && !is_f32 && !bf16_bits) throw ArgError("data: dtype bf16 needs a Float32Array or a Uint16Array of bf16 bits");
  Tensor probe;
  probe.shape = shape;
  if (static_cast<int64_t>(arr.ElementLength()) != probe.numel())
    throw ArgError("data: has " + std::to_string(arr.ElementLength()) + " elements but shape " + probe.shape_str() +
                   " needs " + std::to_string(probe.numel()));
  const uint8_t* src = static_cast<const uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  std::vector<uint16_t> bf;
  size_t n = arr.ElementLength();
  if (dtype == DType::BF16 && !bf16_bits) {  // round to nearest even
    bf.resize(n);
    const float* f = reinterpret_cast<const float*>(src);
    for (size_t i = 0; i < n; ++i) {
      uint32_t b;
      std::memcpy(&b, &f[i], 4);
      bf[i] = f32_to_bf16_bits(b);
    }
    src = reinterpret_cast<const uint8_t*>(bf.data());
  }
  Tensor t = empty(shape, dtype, device);
  if (t.nbytes()) {
    if (device.kind == DeviceKind::CPU) std::memcpy(t.raw(), src, t.nbytes());
#if RECLIN_WITH_CUDA
    else cuda_copy_to_device(t.raw(), src, t.nbytes(), device.index);
#endif
  }
  return wrap(info.Env(), t);
}
RECLIN_EXPORT("fromArray", FromArray)

// zeros(shape, dtype, device)
static Napi::Value Zeros(const Napi::CallbackInfo& info) {
  std::vector<int64_t> shape = arg_shape(info, 0, "shape");
  DType dtype = parse_dtype(info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "f32", "dtype");
  Device device = parse_device(info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "cpu");
  return wrap(info.Env(), zeros(shape, dtype, device));
}
RECLIN_EXPORT("zeros", Zeros)

// toDevice(t, device): a copy of t on "cpu" or "cuda:N" (a CPU-only binary refuses cuda with a clear error).
static Napi::Value ToDevice(const Napi::CallbackInfo& info) {
  Tensor t = arg_tensor(info, 0, "tensor");
  Device dst = parse_device(info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "");
  Tensor out = empty(t.shape, t.dtype, dst);
  size_t n = t.nbytes();
  if (n == 0) return wrap(info.Env(), out);
  bool src_cpu = t.device.kind == DeviceKind::CPU, dst_cpu = dst.kind == DeviceKind::CPU;
  if (src_cpu && dst_cpu) std::memcpy(out.raw(), t.raw(), n);
#if RECLIN_WITH_CUDA
  else if (src_cpu) cuda_copy_to_device(out.raw(), t.raw(), n, dst.index);
  else if (dst_cpu) cuda_copy_to_host(out.raw(), t.raw(), n, t.device.index);
  else cuda_copy_device_to_device(out.raw(), dst.index, t.raw(), t.device.index, n);
#endif
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("toDevice", ToDevice)

// reshape(t, shape): a new handle sharing storage.
static Napi::Value Reshape(const Napi::CallbackInfo& info) {
  Tensor t = arg_tensor(info, 0, "tensor");
  return wrap(info.Env(), t.reshaped(arg_shape(info, 1, "shape")));
}
RECLIN_EXPORT("reshape", Reshape)

// storageShared(t): whether another live handle (a reshape view) shares t's storage. Autograd hands a leaf its
// gradient without a copy only when none does (src/tensor/autograd.ts).
static Napi::Value StorageShared(const Napi::CallbackInfo& info) {
  Tensor t = arg_tensor(info, 0, "tensor");  // this copy plus the handle's own
  return Napi::Boolean::New(info.Env(), t.storage.use_count() > 2);
}
RECLIN_EXPORT("storageShared", StorageShared)

static Napi::Value Memory(const Napi::CallbackInfo& info) {
  MemoryStats m = memory_stats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("hostBytes", static_cast<double>(m.host_bytes));
  o.Set("deviceBytes", static_cast<double>(m.device_bytes));
  o.Set("peakHostBytes", static_cast<double>(m.peak_host_bytes));
  o.Set("liveStorages", static_cast<double>(m.live_storages));
  o.Set("liveTensors", static_cast<double>(m.live_handles));
  return o;
}
RECLIN_EXPORT("memory", Memory)

constexpr int64_t kMaxThreads = 1024;  // a team is created eagerly: an absurd count would exhaust the process

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = arg_int(info, 0, "threads");
  if (n < 1 || n > kMaxThreads)
    throw ArgError("threads: expected an integer from 1 to " + std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}
RECLIN_EXPORT("setNumThreads", SetNumThreads)

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), num_threads());
}
RECLIN_EXPORT("getNumThreads", GetNumThreads)

// threadInfo() -> { threads: the team the next op uses, maxThreads, followsLoad } (the policy in threads.h).
static Napi::Value ThreadInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("threads", static_cast<double>(num_threads()));
  o.Set("maxThreads", static_cast<double>(max_threads()));
  o.Set("followsLoad", Napi::Boolean::New(info.Env(), threads_follow_load()));
  return o;
}
RECLIN_EXPORT("threadInfo", ThreadInfo)

static Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cuda", Napi::Boolean::New(info.Env(), RECLIN_WITH_CUDA != 0));
#ifdef _OPENMP
  o.Set("openmp", Napi::Boolean::New(info.Env(), true));
#else
  o.Set("openmp", Napi::Boolean::New(info.Env(), false));
#endif
  o.Set("compiler", Napi::String::New(info.Env(), __VERSION__));
  return o;
}
RECLIN_EXPORT("buildInfo", BuildInfo)

// vecKernel() -> the row-primitive variant this CPU runs (vec_math.h); gemmKernel() and kdaIsa() report theirs.
static Napi::Value VecKernel(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), vec::kernel_name()); }
RECLIN_EXPORT("vecKernel", VecKernel)

// cpuFeatures() -> { avx2: bool, ... }: the SIMD features the kernels' run-time dispatch tests.
static Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  o.Set("avx2", Napi::Boolean::New(info.Env(), __builtin_cpu_supports("avx2")));
  o.Set("fma", Napi::Boolean::New(info.Env(), __builtin_cpu_supports("fma")));
  o.Set("avx512f", Napi::Boolean::New(info.Env(), __builtin_cpu_supports("avx512f")));
  o.Set("avx512bw", Napi::Boolean::New(info.Env(), __builtin_cpu_supports("avx512bw")));
  o.Set("avx512dq", Napi::Boolean::New(info.Env(), __builtin_cpu_supports("avx512dq")));
  o.Set("avx512vl", Napi::Boolean::New(info.Env(), __builtin_cpu_supports("avx512vl")));
#endif
  return o;
}
RECLIN_EXPORT("cpuFeatures", CpuFeatures)

}  // namespace reclin
