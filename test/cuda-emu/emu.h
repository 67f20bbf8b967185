// A CUDA-on-the-CPU shim for checking our kernel headers (cuda/*_kernels.cuh) without a GPU.
// Every block runs with real threads (one std::thread per CUDA thread of the block); __syncthreads() is a real
// barrier across them, `__shared__` memory is one copy that the blocks of a launch use in turn (blocks run one
// after another, all threads of a block at once). Built with -fsanitize=thread, a missing barrier between a
// shared-memory write and another thread's read is a data race that ThreadSanitizer reports.
// RECLIN_EMU_DROP_SYNC=<file>:<line> (environment) turns the __syncthreads() at that place into a no-op, so a test
// can prove that deleting it is caught. Threads that return early leave the block's barrier (as on sm_70+).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline thread_local Dim3 threadIdx{0, 0, 0}, blockIdx{0, 0, 0};
inline Dim3 blockDim, gridDim;  // written before a launch's threads start, read-only while they run

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__

namespace emu {

// The barrier of one block: __syncthreads releases when every thread still in the kernel has arrived.
struct Block {
  std::mutex m;
  std::condition_variable cv;
  unsigned alive = 0, arrived = 0, done = 0, n = 0;
  unsigned long long gen = 0, epoch = 0;  // barrier generation, block number

  void release_locked() {
    arrived = 0;
    ++gen;
    cv.notify_all();
  }
  void sync() {
    std::unique_lock<std::mutex> lk(m);
    const unsigned long long g = gen;
    if (++arrived == alive) return release_locked();
    cv.wait(lk, [&] { return gen != g; });
  }
  // A thread left the kernel: the barrier no longer waits for it. Then wait until the whole block is done.
  void finish() {
    std::unique_lock<std::mutex> lk(m);
    --alive;
    if (alive > 0 && arrived == alive) release_locked();
    const unsigned long long e = epoch;
    if (++done == n) {  // last thread of the block: reset for the next block
      alive = n, done = 0, arrived = 0;
      ++epoch;
      cv.notify_all();
      return;
    }
    cv.wait(lk, [&] { return epoch != e; });
  }
};

inline Block* current = nullptr;

// One warp's exchange for the shuffles: every lane posts its value, a barrier, every lane reads, a barrier.
struct Warp {
  std::mutex m;
  std::condition_variable cv;
  unsigned n = 32, arrived = 0;
  unsigned long long gen = 0;
  uint64_t slot[32] = {};
  void sync() {
    std::unique_lock<std::mutex> lk(m);
    const unsigned long long g = gen;
    if (++arrived == n) {
      arrived = 0, ++gen;
      cv.notify_all();
      return;
    }
    cv.wait(lk, [&] { return gen != g; });
  }
};
inline std::vector<Warp>* warps = nullptr;

// The value lane `src` of this thread's warp holds (all lanes of the warp must call it, as the mask 0xffffffff says).
template <class T>
T shfl(T v, unsigned src) {
  static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
  const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  Warp& w = (*warps)[tid / 32];
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  w.slot[tid % 32] = bits;
  w.sync();
  bits = w.slot[src % w.n];
  w.sync();
  T r;
  std::memcpy(&r, &bits, sizeof(T));
  return r;
}

struct DropSite {
  std::string file;
  int line = -1;
};
inline const DropSite& drop_site() {
  static const DropSite d = [] {
    DropSite s;
    if (const char* e = std::getenv("RECLIN_EMU_DROP_SYNC")) {
      const std::string v(e);
      const size_t c = v.rfind(':');
      if (c != std::string::npos) s.file = v.substr(0, c), s.line = std::atoi(v.c_str() + c + 1);
    }
    return s;
  }();
  return d;
}

inline void syncthreads(const char* file, int line) {
  const DropSite& d = drop_site();
  if (line == d.line && !d.file.empty()) {
    const std::string f(file);
    if (f.size() >= d.file.size() && f.compare(f.size() - d.file.size(), d.file.size(), d.file) == 0) return;
  }
  current->sync();
}

// Runs kernel() on a grid × block launch: blockDim threads, each walking the blocks in order.
template <class F>
void launch(Dim3 grid, Dim3 block, F kernel) {
  gridDim = grid;
  blockDim = block;
  const unsigned n = block.x * block.y * block.z;
  Block b;
  b.n = b.alive = n;
  current = &b;
  std::vector<Warp> ws((n + 31) / 32);
  for (unsigned i = 0; i < ws.size(); ++i) ws[i].n = std::min(32u, n - 32 * i);
  warps = &ws;
  std::vector<std::thread> ts;
  ts.reserve(n);
  for (unsigned t = 0; t < n; ++t)
    ts.emplace_back([&, t] {
      threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
      for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
          for (unsigned x = 0; x < grid.x; ++x) {
            blockIdx = {x, y, z};
            kernel();
            b.finish();
          }
    });
  for (auto& t : ts) t.join();
  current = nullptr;
  warps = nullptr;
}
inline void launch(unsigned grid, unsigned block, const auto& kernel) { launch(Dim3{grid, 1, 1}, Dim3{block, 1, 1}, kernel); }

}  // namespace emu

#define __syncthreads() ::emu::syncthreads(__FILE__, __LINE__)

template <class T>
inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
  const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  return emu::shfl(v, (tid % 32) ^ static_cast<unsigned>(lane_mask));
}
template <class T>
inline T __shfl_sync(unsigned, T v, int src) {
  return emu::shfl(v, static_cast<unsigned>(src));
}

template <class T>
inline T atomicAdd(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_add(v);
}
template <class T>
inline T atomicMin(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T o = a.load();
  while (v < o && !a.compare_exchange_weak(o, v)) {
  }
  return o;
}
template <class T>
inline T atomicMax(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T o = a.load();
  while (v > o && !a.compare_exchange_weak(o, v)) {
  }
  return o;
}
template <class T>
inline T atomicExch(T* p, T v) {
  return std::atomic_ref<T>(*p).exchange(v);
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

using std::max;
using std::min;
inline float __expf(float x) { return std::exp(x); }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }

struct alignas(16) float4 {
  float x, y, z, w;
};
