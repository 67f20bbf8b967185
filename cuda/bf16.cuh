// bf16 storage in the kernel headers: read as raw bits (the high half of an f32), written with round-to-nearest-even
// (NaN stays NaN), as native/tensor.h converts on the CPU. Included inside `namespace reclin { namespace {`.
#pragma once
#include <cstdint>
#include <cstring>

__device__ __forceinline__ float bf16_to_f32(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
__device__ __forceinline__ uint16_t f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
