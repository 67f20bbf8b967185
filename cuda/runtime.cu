// Device memory for reclin tensors: a caching allocator over cudaMalloc (freed blocks are kept per size
// class and reused, since cudaMalloc/cudaFree synchronise the device), one stream per device, copies.
// tensor.cc calls cuda_alloc/cuda_free/cuda_copy_*; kernels launch on stream_for(device).
#include <napi.h>

#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "binding.h"
#include "runtime.cuh"

namespace reclin {

namespace {
constexpr int kMaxDevices = kMaxCudaDevices;

struct DeviceState {
  cudaStream_t stream = nullptr;
  std::multimap<size_t, void*> free_blocks;  // size class -> block
  std::map<void*, size_t> block_size;        // every block we own -> its size class
  int64_t cached = 0;
};

std::mutex g_mu;
DeviceState g_dev[kMaxDevices];

// Round up so blocks of similar sizes are interchangeable: 512 B granularity below 1 MiB, 2 MiB above.
size_t size_class(size_t n) {
  if (n == 0) n = 1;
  if (n < (size_t(1) << 20)) return (n + 511) & ~size_t(511);
  return (n + (size_t(2) << 20) - 1) & ~((size_t(2) << 20) - 1);
}

DeviceState& state(int device) {
  if (device < 0 || device >= kMaxDevices) throw ArgError("device: cuda:" + std::to_string(device) + " is out of range");
  return g_dev[device];
}

void release_cached(DeviceState& s) {
  for (auto& kv : s.free_blocks) {
    cudaFree(kv.second);
    s.block_size.erase(kv.second);
  }
  s.free_blocks.clear();
  s.cached = 0;
}
}  // namespace

cudaStream_t stream_for(int device) {
  DeviceState& s = state(device);
  cuda_check(cudaSetDevice(device), "cudaSetDevice");
  std::lock_guard<std::mutex> lock(g_mu);
  if (!s.stream) cuda_check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  return s.stream;
}

void* cuda_alloc(size_t bytes, int device) {
  size_t cls = size_class(bytes);
  stream_for(device);  // sets the device and makes sure its stream exists
  std::lock_guard<std::mutex> lock(g_mu);
  DeviceState& s = state(device);
  auto it = s.free_blocks.find(cls);
  if (it != s.free_blocks.end()) {
    void* p = it->second;
    s.free_blocks.erase(it);
    s.cached -= static_cast<int64_t>(cls);
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, cls);
  if (e == cudaErrorMemoryAllocation) {  // give the cache back once and retry before failing
    (void)cudaGetLastError();
    cudaStreamSynchronize(s.stream);
    release_cached(s);
    e = cudaMalloc(&p, cls);
  }
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    throw std::bad_alloc();  // reclin::empty turns it into an error naming the shape and device
  }
  cuda_check(e, "cudaMalloc");
  s.block_size[p] = cls;
  return p;
}

// Blocks return to the cache. All work on a device is queued on its single stream, so a later user of
// the block is ordered after every kernel that used it before.
void cuda_free(void* p, int device) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(g_mu);
  DeviceState& s = state(device);
  auto it = s.block_size.find(p);
  if (it == s.block_size.end()) return;
  s.free_blocks.emplace(it->second, p);
  s.cached += static_cast<int64_t>(it->second);
}

int64_t cached_bytes(int device) {
  std::lock_guard<std::mutex> lock(g_mu);
  return state(device).cached;
}

void empty_cache(int device) {
  cudaStream_t st = stream_for(device);
  cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
  std::lock_guard<std::mutex> lock(g_mu);
  release_cached(state(device));
}

void cuda_copy_to_host(void* dst, const void* src, size_t n, int device) {
  cudaStream_t st = stream_for(device);
  cuda_check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync(D2H)");
  cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
}

void cuda_copy_to_device(void* dst, const void* src, size_t n, int device) {
  cudaStream_t st = stream_for(device);
  cuda_check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, st), "cudaMemcpyAsync(H2D)");
  // The host buffer may be a JS array collected after we return: wait for the copy to finish.
  cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
}

// An event recorded on `st` (whose device is current, as stream_for leaves it).
static cudaEvent_t record_event(cudaStream_t st) {
  cudaEvent_t e = nullptr;
  cuda_check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
  cuda_check(cudaEventRecord(e, st), "cudaEventRecord");
  return e;
}

void cuda_copy_device_to_device(void* dst, int dst_device, const void* src, int src_device, size_t n) {
  if (dst_device == src_device) {
    cuda_check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream_for(dst_device)), "cudaMemcpyAsync(D2D)");
    return;
  }
  // The copy runs on the destination's stream. Two events order it without a host wait: it starts after the
  // source stream's pending work (which writes src), and the source stream's later work (which may reuse the
  // source block once it is freed to the cache) starts after the copy.
  cudaStream_t src_st = stream_for(src_device);
  const cudaEvent_t ready = record_event(src_st);
  cudaStream_t dst_st = stream_for(dst_device);
  cuda_check(cudaStreamWaitEvent(dst_st, ready, 0), "cudaStreamWaitEvent");
  cuda_check(cudaEventDestroy(ready), "cudaEventDestroy");
  cuda_check(cudaMemcpyPeerAsync(dst, dst_device, src, src_device, n, dst_st), "cudaMemcpyPeerAsync");
  const cudaEvent_t copied = record_event(dst_st);
  cuda_check(cudaStreamWaitEvent(stream_for(src_device), copied, 0), "cudaStreamWaitEvent");
  cuda_check(cudaEventDestroy(copied), "cudaEventDestroy");  // released by the driver once it has fired
}

void cuda_memset_zero(void* p, size_t n, int device) {
  cuda_check(cudaMemsetAsync(p, 0, n, stream_for(device)), "cudaMemsetAsync");
}

// ---- JS exports ------------------------------------------------------------------------------------

static int device_arg(const Napi::CallbackInfo& info, size_t i) {
  return arg_is_undefined(info, i) ? 0 : static_cast<int>(arg_int(info, i, "device"));
}

// cudaProbe(): never throws. { ok, driverVersion, runtimeVersion, devices: [{ name, major, minor, totalMem }], error }
static Napi::Value CudaProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  int driver = 0, runtime = 0, count = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  o.Set("driverVersion", driver);
  o.Set("runtimeVersion", runtime);
  Napi::Array devices = Napi::Array::New(env);
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    o.Set("ok", false);
    o.Set("error", std::string(cudaGetErrorString(e)));
    o.Set("devices", devices);
    return o;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", std::string(p.name));
    d.Set("major", p.major);
    d.Set("minor", p.minor);
    d.Set("totalMem", static_cast<double>(p.totalGlobalMem));
    d.Set("multiProcessors", p.multiProcessorCount);
    devices.Set(static_cast<uint32_t>(i), d);
  }
  o.Set("ok", count > 0);
  o.Set("devices", devices);
  if (count == 0) o.Set("error", "no CUDA device found");
  return o;
}
RECLIN_EXPORT("cudaProbe", CudaProbe)

// The architectures this binary was compiled for (CMAKE_CUDA_ARCHITECTURES, e.g. "90-real;90-virtual").
static Napi::Value CudaArchitectures(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), RECLIN_CUDA_ARCHS);
}
RECLIN_EXPORT("cudaArchitectures", CudaArchitectures)

static Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  cuda_check(cudaStreamSynchronize(stream_for(device_arg(info, 0))), "cudaStreamSynchronize");
  return info.Env().Undefined();
}
RECLIN_EXPORT("cudaSynchronize", CudaSynchronize)

static Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  empty_cache(device_arg(info, 0));
  return info.Env().Undefined();
}
RECLIN_EXPORT("cudaEmptyCache", CudaEmptyCache)

static Napi::Value CudaCachedBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(cached_bytes(device_arg(info, 0))));
}
RECLIN_EXPORT("cudaCachedBytes", CudaCachedBytes)


}  // namespace reclin
