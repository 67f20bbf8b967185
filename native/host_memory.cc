// Host allocation policy for CPU tensor storage (glibc only).
// glibc serves blocks above its mmap threshold (32 MiB at most by default) with a fresh mmap() and returns
// them with munmap() on free. Ops allocate their outputs anew on every call, so each large tensor then costs
// one page fault per 4 KiB on first touch. Measured (CPU time, busy 2-core dev machine): rmsnorm forward on
// [8192,2048] 45 -> 23 ms, swiglu [8,1024,2048] 46 -> 14 ms, cross-entropy backward [2048,32000] 150 -> 45 ms.
// Raising the mmap and trim thresholds keeps freed blocks in the heap for reuse (at the cost of holding up to
// kTrim bytes of freed memory). Set RECLIN_MALLOC_DEFAULTS=1 to keep glibc's defaults.
#include <cstdlib>  // defines __GLIBC__ on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>

namespace reclin {
namespace {

constexpr int kMmapThreshold = 1 << 30;  // blocks below 1 GiB come from the heap
constexpr int kTrim = 1 << 30;           // keep up to 1 GiB of freed heap before returning it to the OS

struct HostMallocPolicy {
  HostMallocPolicy() {
    const char* keep = std::getenv("RECLIN_MALLOC_DEFAULTS");
    if (keep && keep[0] == '1') return;
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kTrim);
  }
};
const HostMallocPolicy policy;

}  // namespace
}  // namespace reclin
#endif
