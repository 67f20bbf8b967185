// Device memory for reclin tensors: a caching allocator over cudaMalloc (freed blocks are kept per size
// class and reused, since cudaMalloc/cudaFree synchronise the device), one stream per device, copies.
// tensor.cc calls cuda_alloc/cuda_free/cuda_copy_*; kernels launch on stream_for(device).
#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "cuda_util.cuh"
#include "staging_ring.h"

namespace reclin {

namespace {
#include "device_check.cuh"

constexpr int kMaxDevices = kMaxCudaDevices;

struct DeviceState {
  cudaStream_t stream = nullptr;
  std::multimap<size_t, void*> free_blocks;  // size class -> block
  std::map<void*, size_t> block_size;        // every block we own -> its size class
  int64_t cached = 0;
  CheckRecord* check = nullptr;          // the device's check record (device_check.cuh), made on first use
  std::atomic<bool> checks_queued{false};  // a check ran since the host last read the record
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
  raise_device_check(device);  // a copy to the host is the natural moment to report a failed device-side check
}

// An event recorded on `st` (whose device is current, as stream_for leaves it).
static cudaEvent_t record_event(cudaStream_t st) {
  cudaEvent_t e = nullptr;
  cuda_check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
  cuda_check(cudaEventRecord(e, st), "cudaEventRecord");
  return e;
}

namespace {
// Pinned staging of host→device uploads (staging_ring.h), one ring per device, made on the first upload. Uploads up
// to a quarter of the ring (batches of token ids, targets, small tensors) go through it and return without waiting
// for the device; larger ones (weights at load time) take the synchronous path.
constexpr size_t kStagingBytes = size_t(16) << 20;
struct Staging {
  std::mutex mu;
  char* base = nullptr;
  bool failed = false;  // cudaHostAlloc refused: every upload is synchronous
  StagingRing<cudaEvent_t> ring{kStagingBytes};
};
Staging g_staging[kMaxDevices];
}  // namespace

// Host→device copy of n bytes from any host memory, queued on the device's stream. What makes returning before the
// copy has run safe:
//  - the host bytes are first copied into a region of pinned staging memory, so the caller's buffer (a JS array the
//    garbage collector may take once we return) is no longer read;
//  - a staging region is reused only after the event recorded behind its copy has completed (StagingRing);
//  - dst is read only by work queued later on the same stream (every kernel and copy of a device runs on its one
//    stream, and a block taken from the allocator cache is ordered after its earlier users the same way), and the
//    host reads it only through cuda_copy_to_host, which synchronises the stream first;
//  - the stream is non-blocking and the source is pinned, so the copy does not wait for the legacy default stream
//    nor (as a pageable-source cudaMemcpyAsync may) for the work already queued on the stream.
// A failed copy surfaces at the next synchronisation of the stream, as a kernel fault does.
void cuda_copy_to_device(void* dst, const void* src, size_t n, int device) {
  cudaStream_t st = stream_for(device);
  Staging& sg = g_staging[device];  // stream_for checked the index
  if (n > 0 && n <= kStagingBytes / 4) {
    std::lock_guard<std::mutex> lock(sg.mu);
    if (!sg.base && !sg.failed) {
      void* p = nullptr;
      if (cudaHostAlloc(&p, kStagingBytes, cudaHostAllocPortable) == cudaSuccess) sg.base = static_cast<char*>(p);
      else (void)cudaGetLastError(), sg.failed = true;
    }
    if (sg.base) {
      const size_t at = sg.ring.reserve(
          n, [](cudaEvent_t e) { return cudaEventQuery(e) == cudaSuccess; },
          [](cudaEvent_t e) { cuda_check(cudaEventSynchronize(e), "cudaEventSynchronize(staging)"); },
          [](cudaEvent_t e) { cudaEventDestroy(e); });
      std::memcpy(sg.base + at, src, n);
      cuda_check(cudaMemcpyAsync(dst, sg.base + at, n, cudaMemcpyHostToDevice, st), "cudaMemcpyAsync(H2D)");
      cudaEvent_t ev = nullptr;
      try {
        ev = record_event(st);
      } catch (...) {  // without an event the region cannot be tracked: let the copy finish before it is reused
        (void)cudaStreamSynchronize(st);
        throw;
      }
      sg.ring.push(at, n, ev);
      return;
    }
  }
  cuda_check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, st), "cudaMemcpyAsync(H2D)");
  // A pageable source may be a JS array collected after we return: wait for the copy to finish.
  cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
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

// ---- device-side checks (device_check.cuh) -------------------------------------------------------------

void* check_record(int device) {
  cudaStream_t st = stream_for(device);
  DeviceState& s = state(device);
  std::lock_guard<std::mutex> lock(g_mu);
  if (!s.check) {
    CheckRecord init{};
    init.first = kNoOffender;
    void* p = nullptr;
    cuda_check(cudaMalloc(&p, sizeof(CheckRecord)), "cudaMalloc(check record)");
    cuda_check(cudaMemcpyAsync(p, &init, sizeof init, cudaMemcpyHostToDevice, st), "cudaMemcpyAsync(check record)");
    cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");  // once per device: `init` is on our stack
    s.check = static_cast<CheckRecord*>(p);
  }
  s.checks_queued = true;
  return s.check;
}

namespace {
std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  std::ostringstream o;
  o.precision(9);
  o << v;
  return o.str();
}
std::string coords(const CheckRecord& r) {
  int64_t rem = r.index;
  std::vector<int64_t> c(static_cast<size_t>(r.dims.nd > 0 ? r.dims.nd : 1));
  for (int d = static_cast<int>(c.size()) - 1; d >= 0; --d) {
    const int64_t n = r.dims.nd > 0 && r.dims.d[d] > 0 ? r.dims.d[d] : 1;
    c[d] = d == 0 ? rem : rem % n;
    rem /= n;
  }
  std::string out = "[";
  for (size_t i = 0; i < c.size(); ++i) out += (i ? "," : "") + std::to_string(c[i]);
  return out + "]";
}
// The JS-facing error text of a failed check, in the words the CPU op uses for the same input.
std::string check_message(const CheckRecord& r, int device) {
  const std::string where = " (cuda:" + std::to_string(device) + "; checked on the device, reported at this synchronisation)";
  const std::string v = number_text(r.value);
  switch (r.code) {
    case kCheckKdaGateForward:
    case kCheckKdaGateBackward:
      return std::string(r.code == kCheckKdaGateForward ? "kdaForward" : "kdaBackward") +
             ": g: expected log decays <= 0 everywhere, got " + v + " at " + coords(r) + where;
    case kCheckTargetsForward:
    case kCheckTargetsBackward:
      return std::string(r.code == kCheckTargetsForward ? "crossEntropy" : "crossEntropyBackward") + ": targets: target " + v +
             " at row " + std::to_string(r.index) + " is out of range [0, " + std::to_string(r.limit) +
             ") and is not ignoreIndex (" + std::to_string(r.extra) + ")" + where;
    case kCheckIdsForward:
    case kCheckIdsBackward:
      return std::string(r.code == kCheckIdsForward ? "embedding" : "embeddingBackward") + ": ids: id " + v + " at position " +
             coords(r) + " is out of range [0, " + std::to_string(r.limit) + ")" + where;
    case kCheckMoeIndicesRouteBackward:
    case kCheckMoeIndicesExperts:
    case kCheckMoeIndicesExpertsBackward:
      return std::string(r.code == kCheckMoeIndicesRouteBackward ? "moeRouteBackward"
                         : r.code == kCheckMoeIndicesExperts     ? "moeExperts"
                                                                 : "moeExpertsBackward") +
             ": indices: entry " + std::to_string(r.index) + " is " + v + ", expected an expert index in 0.." +
             std::to_string(r.limit - 1) + where;
    default:
      return "a device-side check (code " + std::to_string(r.code) + ") failed" + where;
  }
}
}  // namespace

void raise_device_check(int device) {
  DeviceState& s = state(device);
  if (!s.checks_queued.exchange(false) || !s.check) return;
  cudaStream_t st = stream_for(device);
  CheckRecord r;
  cuda_check(cudaMemcpyAsync(&r, s.check, sizeof r, cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync(check record)");
  cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
  if (r.code == kCheckNone) return;
  // Re-arm before throwing, so the next failure is reported too.
  cuda_check(cudaMemsetAsync(&s.check->code, 0, sizeof(int), st), "cudaMemsetAsync(check record)");
  cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
  throw DeviceCheckError(check_message(r, device));
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

// Waits for the device's queued work and throws if a device-side check failed since the last synchronisation.
static Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  const int device = device_arg(info, 0);
  cuda_check(cudaStreamSynchronize(stream_for(device)), "cudaStreamSynchronize");
  raise_device_check(device);
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
