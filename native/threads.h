// Thread count for CPU kernels. Kernels split work with `#pragma omp parallel for schedule(static)` over
// independent items and never reduce across threads in a data-dependent order, so results are bit-identical
// run to run and across thread counts for the same inputs.
//
// Busy machines: a static OpenMP team waits at every barrier for its slowest thread, and on a machine whose
// cores are all taken by other processes some thread of the team is nearly always descheduled. Hundreds of
// ops per training step then each wait a scheduler time slice (measured: 5-25x slower steps at load 8-12 on
// 2 cores). So unless the user fixes a count (setNumThreads, or OMP_NUM_THREADS), the team follows the cores
// other processes leave free: follow_load() (called before every op) re-reads the 1-minute load average
// every 250 ms and sizes the team to the free cores, at least 1, at most the cores we may run on.
#pragma once
#ifdef _OPENMP
#include <omp.h>  // kernels use omp_in_parallel() and friends
#endif

namespace reclin {
int num_threads();           // the team size the next op will use
int max_threads();           // the user's fixed count, or the cores we may run on
bool threads_follow_load();  // false once the user fixed a count
void set_num_threads(int n);  // fixes the count (stops following the load)
void follow_load();          // cheap: a clock read, and a /proc/loadavg read at most every 250 ms
}  // namespace reclin
