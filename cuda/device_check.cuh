// Checks of tensor data that run on the device without a host wait (the KDA gate sign, cross-entropy targets,
// embedding ids). Each device has one CheckRecord in device memory (runtime.cu owns it). A check is two launches
// on the device's stream: a grid-stride kernel that atomicMin's the flat index of every offender into `first`,
// then check_finish (one thread), which copies the first offender into the record if no earlier check failed
// and re-arms `first`. The host reads the record at the next natural synchronisation (a copy to the host, an
// explicit cudaSynchronize / syncCheck) and throws an error naming the op, the value and the index.
// Kernels that consume checked data must stay in bounds when it is bad (they run before anyone looks).
// Included inside `namespace reclin { namespace {` by the kernel headers and by runtime.cu.
#pragma once
#include <cstdint>

enum CheckCode : int {
  kCheckNone = 0,
  kCheckKdaGateForward = 1,   // g > 0 or NaN in kdaForward (dims: B,T,H,K)
  kCheckKdaGateBackward = 2,  // the same in kdaBackward
  kCheckTargetsForward = 3,   // crossEntropy target outside [0, V) and not ignoreIndex (limit V, extra ignoreIndex)
  kCheckTargetsBackward = 4,  // the same in crossEntropyBackward
  kCheckIdsForward = 5,       // embedding id outside [0, V) (limit V)
  kCheckIdsBackward = 6,      // the same in embeddingBackward
  kCheckMoeIndicesRouteBackward = 7,    // an expert index outside [0, E) in moeRouteBackward (limit E)
  kCheckMoeIndicesExperts = 8,          // the same in moeExperts
  kCheckMoeIndicesExpertsBackward = 9,  // the same in moeExpertsBackward
};

struct CheckDims {
  int64_t d[4];  // the checked tensor's shape (unused trailing entries 0), to name the index as coordinates
  int nd;
};

struct CheckRecord {
  unsigned long long first;  // the check in flight: smallest offending flat index, ~0 when none
  int code;                  // the first failed check (stream order) since the host last read; kCheckNone if none
  int is_int;                // value was read as i32 (else f32)
  int64_t index;             // its first offending flat index
  double value;              // the value found there
  int64_t limit, extra;      // range end (V) and ignoreIndex, as the check needs
  CheckDims dims;
};

constexpr unsigned long long kNoOffender = ~0ull;

__device__ __forceinline__ void check_flag(CheckRecord* rec, int64_t i) {
  atomicMin(&rec->first, static_cast<unsigned long long>(i));
}

// One thread: record the first offender of the check that just ran (unless an earlier check failed) and re-arm.
__global__ void check_finish(CheckRecord* rec, int code, const void* data, int is_int, CheckDims dims, int64_t limit,
                             int64_t extra) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  const unsigned long long i = rec->first;
  if (i == kNoOffender) return;
  rec->first = kNoOffender;
  if (rec->code != kCheckNone) return;
  rec->code = code;
  rec->is_int = is_int;
  rec->index = static_cast<int64_t>(i);
  rec->value = is_int ? static_cast<double>(static_cast<const int32_t*>(data)[i]) : static_cast<double>(static_cast<const float*>(data)[i]);
  rec->limit = limit;
  rec->extra = extra;
  rec->dims = dims;
}

#ifdef __CUDACC__
// Host side, for the .cu files (nvcc): queue check_finish after a flagging kernel that wrote into rec->first.
inline void finish_check(CheckRecord* rec, cudaStream_t st, CheckCode code, const void* data, bool is_int, CheckDims dims,
                         int64_t limit = 0, int64_t extra = 0) {
  check_finish<<<1, 1, 0, st>>>(rec, code, data, is_int ? 1 : 0, dims, limit, extra);
  launch_check("check_finish");
}
inline CheckRecord* check_slot(int device) { return static_cast<CheckRecord*>(check_record(device)); }
inline CheckDims check_dims(const std::vector<int64_t>& shape) {
  CheckDims d{};
  const size_t n = shape.size() < 4 ? shape.size() : 4;  // longer shapes: the leading dims fold into the first
  d.nd = static_cast<int>(n);
  for (size_t i = 0; i < n; ++i) d.d[i] = shape[shape.size() - n + i];
  return d;
}
#endif
