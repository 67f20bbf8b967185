// Compensated fp32 summation shared by the kernel headers (included inside `namespace reclin { namespace {`).
#pragma once

// A thread's running sum in fp32 with Neumaier compensation (fp64 is slow on most GPUs): the error stays at a
// few fp32 roundings however many terms, and the block's tree of ≤ 256 partials adds only log2(256) more.
struct Acc {
  float s = 0.f, c = 0.f;
  __device__ __forceinline__ void add(float x) {
    const float t = s + x;
    c += fabsf(s) >= fabsf(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  __device__ __forceinline__ float value() const { return s + c; }
};
