// The fused AdamW kernel of adamw.cu, in a header of its own so that test/cuda-emu/ can compile it for the CPU
// with real threads per block and check it without a GPU. Included inside `namespace reclin { namespace {`.
#pragma once

constexpr int64_t kChunk = 1 << 16;  // elements per block

struct ChunkDesc {
  float* p;
  const float* g;
  float* m;
  float* v;
  int64_t n;  // elements in this chunk
};

struct Hyper {
  float lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2_sqrt;
};

__device__ __forceinline__ void adamw_one(float& p, float g, float& m, float& v, const Hyper& h) {
  p -= h.lr * h.weight_decay * p;
  m = h.beta1 * m + (1.f - h.beta1) * g;
  v = h.beta2 * v + (1.f - h.beta2) * g * g;
  float denom = sqrtf(v) / h.bias_correction2_sqrt + h.eps;
  p -= (h.lr / h.bias_correction1) * (m / denom);
}

__global__ void adamw_kernel(const ChunkDesc* chunks, Hyper h) {
  ChunkDesc c = chunks[blockIdx.x];
  // float4 path when all four pointers are 16-byte aligned (our allocator aligns tensors; chunk starts are
  // multiples of kChunk elements), scalar tail otherwise.
  bool aligned = ((reinterpret_cast<uintptr_t>(c.p) | reinterpret_cast<uintptr_t>(c.g) | reinterpret_cast<uintptr_t>(c.m) |
                   reinterpret_cast<uintptr_t>(c.v)) & 15) == 0;
  int64_t start = 0;
  if (aligned) {
    int64_t n4 = c.n / 4;
    float4* p4 = reinterpret_cast<float4*>(c.p);
    const float4* g4 = reinterpret_cast<const float4*>(c.g);
    float4* m4 = reinterpret_cast<float4*>(c.m);
    float4* v4 = reinterpret_cast<float4*>(c.v);
    for (int64_t i = threadIdx.x; i < n4; i += blockDim.x) {
      float4 p = p4[i], g = g4[i], m = m4[i], v = v4[i];
      adamw_one(p.x, g.x, m.x, v.x, h);
      adamw_one(p.y, g.y, m.y, v.y, h);
      adamw_one(p.z, g.z, m.z, v.z, h);
      adamw_one(p.w, g.w, m.w, v.w, h);
      p4[i] = p;
      m4[i] = m;
      v4[i] = v;
    }
    start = n4 * 4;
  }
  for (int64_t i = start + threadIdx.x; i < c.n; i += blockDim.x) adamw_one(c.p[i], c.g[i], c.m[i], c.v[i], h);
}
