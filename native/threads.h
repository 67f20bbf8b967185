// Thread count for CPU kernels. Kernels split work with `#pragma omp parallel for schedule(static)` over
// independent items and never reduce across threads in a data-dependent order, so results are bit-identical
// run to run for the same inputs and thread count.
#pragma once
#ifdef _OPENMP
#include <omp.h>
#endif

namespace reclin {
inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
inline void set_num_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}
}  // namespace reclin
