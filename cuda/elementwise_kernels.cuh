// The kernels of elementwise.cu, in a header of their own so that test/cuda-emu/ can compile them for the CPU with
// real threads per block and check them without a GPU. Included inside `namespace reclin { namespace {`.
#pragma once
#include "bf16.cuh"

constexpr int kMaxDims = 12;
// Output dims (coalesced) and the element strides of a and b along them (0 where broadcast).
struct Bcast {
  int nd;
  int64_t dims[kMaxDims], sa[kMaxDims], sb[kMaxDims];
};

enum Op { ADD = 0, SUB, MUL, DIV };
__global__ void binary_kernel(const float* a, const float* b, float* o, int64_t n, Bcast bc, int op) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = bc.nd - 1; d >= 0; --d) {
      const int64_t idx = rem % bc.dims[d];
      rem /= bc.dims[d];
      oa += idx * bc.sa[d];
      ob += idx * bc.sb[d];
    }
    const float x = a[oa], y = b[ob];
    o[i] = op == ADD ? x + y : op == SUB ? x - y : op == MUL ? x * y : x / y;
  }
}

enum Un { SCALE = 0, ADDS, NEG, EXP, LOG, SQRT, SQUARE, TANH, SIGMOID, SILU, SOFTPLUS };
__device__ __forceinline__ float sigmoidf_(float x) {
  if (x >= 0.f) return 1.f / (1.f + expf(-x));
  const float e = expf(x);
  return e / (1.f + e);
}

__global__ void unary_kernel(const float* x, float* y, int64_t n, int op, float s) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    float r;
    switch (op) {
      case SCALE: r = v * s; break;
      case ADDS: r = v + s; break;
      case NEG: r = -v; break;
      case EXP: r = expf(v); break;
      case LOG: r = logf(v); break;
      case SQRT: r = sqrtf(v); break;
      case SQUARE: r = v * v; break;
      case TANH: r = tanhf(v); break;
      case SIGMOID: r = sigmoidf_(v); break;
      case SILU: r = v * sigmoidf_(v); break;
      default: r = v > 20.f ? v : log1pf(expf(v)); break;  // softplus, torch's threshold
    }
    y[i] = r;
  }
}

// op 0: sigmoid (t = y), 1: silu (t = x), 2: softplus (t = x), 3: swiglu forward (a = gate, b = up)
__global__ void map2_kernel(const float* a, const float* b, float* y, int64_t n, int op) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float g = a[i], t = b[i];
    float r;
    if (op == 0) r = g * t * (1.f - t);
    else if (op == 1) {
      const float s = sigmoidf_(t);
      r = g * (s * (1.f + t * (1.f - s)));
    } else if (op == 2) r = t > 20.f ? g : g * sigmoidf_(t);
    else r = g * sigmoidf_(g) * t;
    y[i] = r;
  }
}

__global__ void swiglu_bwd_kernel(const float* dy, const float* gate, const float* up, float* dg, float* du, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float g = gate[i], s = sigmoidf_(g);
    du[i] = dy[i] * g * s;
    dg[i] = dy[i] * up[i] * s * (1.f + g * (1.f - s));
  }
}

__global__ void axpy_kernel(float* d, const float* s, float alpha, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    d[i] = alpha == 1.f ? d[i] + s[i] : fmaf(alpha, s[i], d[i]);
}

__global__ void scale_kernel(float* d, float s, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) d[i] *= s;
}

// dtype conversions for cast(): f32 -> bf16 (round to nearest even) and bf16 -> f32 (exact).
__global__ void to_bf16_kernel(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) y[i] = f32_to_bf16(x[i]);
}
__global__ void from_bf16_kernel(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) y[i] = bf16_to_f32(x[i]);
}
