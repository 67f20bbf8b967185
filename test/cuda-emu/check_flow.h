// The device-side check protocol of cuda/device_check.cuh, run as the .cu files queue it: a flagging kernel
// (grid-stride, atomicMin into rec.first), then check_finish on one thread. Include after a kernel header and
// `using namespace reclin;`. expect_record prints one line and returns whether the record is as expected.
#pragma once
#include <cmath>
#include <cstdio>

namespace reclin {
namespace {
#include "device_check.cuh"
}  // namespace
}  // namespace reclin

inline reclin::CheckRecord fresh_record() {
  reclin::CheckRecord r{};
  r.first = reclin::kNoOffender;
  return r;
}

// flag(first) launches the op's flagging kernel body for the current thread.
template <class Flag>
void run_check(reclin::CheckRecord& rec, unsigned threads, Flag flag, int code, const void* data, bool is_int,
               reclin::CheckDims dims, int64_t limit = 0, int64_t extra = 0) {
  emu::launch(3, threads, [&] { flag(&rec.first); });
  emu::launch(2, 3, [&] { reclin::check_finish(&rec, code, data, is_int ? 1 : 0, dims, limit, extra); });
}

inline bool expect_record(const char* what, const reclin::CheckRecord& rec, int code, int64_t index, double value) {
  bool pass = rec.first == reclin::kNoOffender && rec.code == code;  // re-armed after every check
  if (code != reclin::kCheckNone)
    pass = pass && rec.index == index && (std::isnan(value) ? std::isnan(rec.value) : rec.value == value);
  std::printf("%s device check %s: code %d index %lld value %g (expected code %d index %lld value %g)\n", pass ? "ok  " : "FAIL",
              what, rec.code, (long long)rec.index, rec.value, code, (long long)index, value);
  return pass;
}
