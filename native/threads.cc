// The thread policy of threads.h.
#include "threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace reclin {
namespace {

struct Policy {
  int max = 1;       // upper bound for the team
  int team = 1;      // current team size
  bool follow = false;
  std::atomic<int64_t> next_check_ns{0};  // steady-clock time of the next load read
  std::mutex mu;

  Policy() {
#ifdef _OPENMP
    max = std::max(1, omp_get_max_threads());  // OMP_NUM_THREADS, else the cores in our affinity mask
    const char* fixed = std::getenv("OMP_NUM_THREADS");
    const char* off = std::getenv("RECLIN_FOLLOW_LOAD");
    follow = !(fixed && *fixed) && !(off && off[0] == '0');
#endif
    team = max;
  }
};

Policy& policy() {
  static Policy p;
  return p;
}

// The 1-minute load average, or a negative number where there is none to read. RECLIN_LOADAVG names another
// file in /proc/loadavg's format (a testing aid: tests cannot set the machine's load).
double load_average() {
#ifdef __linux__
  static const char* path = std::getenv("RECLIN_LOADAVG") ? std::getenv("RECLIN_LOADAVG") : "/proc/loadavg";
  std::FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  double l = -1;
  if (std::fscanf(f, "%lf", &l) != 1) l = -1;
  std::fclose(f);
  return l;
#else
  return -1;
#endif
}

void apply(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

}  // namespace

int num_threads() { return policy().team; }
int max_threads() { return policy().max; }
bool threads_follow_load() { return policy().follow; }

void set_num_threads(int n) {
  Policy& p = policy();
  std::lock_guard<std::mutex> lock(p.mu);
  p.follow = false;
  p.max = p.team = std::max(1, n);
  apply(p.team);
}

void follow_load() {
  Policy& p = policy();
  if (!p.follow || p.max == 1) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now < p.next_check_ns.load(std::memory_order_relaxed)) return;  // the common case: no lock, no file
  std::lock_guard<std::mutex> lock(p.mu);
  if (now < p.next_check_ns.load(std::memory_order_relaxed)) return;
  p.next_check_ns.store(now + 250'000'000, std::memory_order_relaxed);
  const double load = load_average();
  if (load < 0) return;
  // The load counts our own running team too, so the cores left to us are the cores minus everyone else's
  // share: max - (load - team). Rounded down (a core shared with a busy process is not free), at least 1.
  const int free_cores = static_cast<int>(std::floor(p.max - (load - p.team) + 0.25));
  const int team = std::clamp(free_cores, 1, p.max);
  if (team != p.team) {
    p.team = team;
    apply(team);
  }
}

}  // namespace reclin
