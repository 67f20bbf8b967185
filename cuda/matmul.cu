// matmulCuda(a, b, { transA, transB, alpha }): the twin of native/matmul.cc (same shapes, batching and
// errors). cuBLASLt when it was found at run time (cublas.cu; fp32 compute, TF32 only with RECLIN_ALLOW_TF32=1),
// else our own tiled fp32 SIMT GEMM: 64x64 output tiles, k-steps of 16 staged in shared memory, a 4x4 register
// block per thread, fp32 accumulation. a and b may both be bf16 (what `--precision bf16` hands it: the autograd
// matmul casts activations and weights): the product is still accumulated in fp32 and returned as f32. The CPU op
// takes f32 only.
#include <napi.h>

#include <algorithm>
#include <string>

#include "cublas.cuh"
#include "cuda_util.cuh"
#include "gemm.cuh"

namespace reclin {
namespace {

#include "gemm_kernels.cuh"

// A matmul operand: a cuda tensor, f32 or bf16.
Tensor arg_cuda_gemm_input(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Tensor t = arg_tensor(info, i, name);
  expect_cuda(t, name);
  if (t.dtype != DType::F32 && t.dtype != DType::BF16)
    throw ArgError(std::string(name) + ": expected dtype f32 or bf16, got " + dtype_name(t.dtype));
  return t;
}

Napi::Value MatmulCuda(const Napi::CallbackInfo& info) {
  Tensor a = arg_cuda_gemm_input(info, 0, "a");
  Tensor b = arg_cuda_gemm_input(info, 1, "b");
  expect_same_device(a, b, "a", "b");
  if (a.dtype != b.dtype)
    throw ArgError(std::string("b: expected dtype ") + dtype_name(a.dtype) + " like a (cast both), got " + dtype_name(b.dtype));
  const bool bf = a.dtype == DType::BF16;
  Napi::Object opts = arg_object(info, 2, "options");
  const bool ta = opt_bool(opts, "transA", false), tb = opt_bool(opts, "transB", false);
  const float alpha = static_cast<float>(opt_number(opts, "alpha", 1.0));
  const MatmulShape s = matmul_shape(a, b, ta, tb);
  const int64_t M = s.M, K = s.K, N = s.N, nbatch = s.nbatch;
  const bool shared_b = s.shared_b;
  Tensor c = empty(s.out, DType::F32, a.device);
  if (c.numel() == 0) return wrap(info.Env(), c);
  const int64_t sa = M * K, sb = shared_b ? 0 : K * N, sc = M * N;
  cudaStream_t st = stream_for(a.device.index);
  // cuBLASLt when it was found at run time (cublas.cu); a shared b without transA is one taller GEMM.
  const CublasGemm lt = fold_shared_b({a.raw(), b.raw(), mf(c), M, N, K, ta, tb, alpha, nbatch, sa, sb, sc,
                                       bf ? GemmInput::BF16 : GemmInput::F32}, shared_b);
  if (cublas_gemm(lt, a.device.index, st)) {
    launch_check("cublasLtMatmul");
    return wrap(info.Env(), c);
  }
  dim3 grid(static_cast<unsigned>((N + BN - 1) / BN), static_cast<unsigned>((M + BM - 1) / BM),
            static_cast<unsigned>(std::min<int64_t>(nbatch, 65535)));
  if (grid.y > 65535) throw ArgError("a: M = " + std::to_string(M) + " is above the 4194240 rows the cuda GEMM supports");
  if (bf)
    gemm_kernel<uint16_t><<<grid, 256, 0, st>>>(static_cast<const uint16_t*>(a.raw()), static_cast<const uint16_t*>(b.raw()),
                                                mf(c), M, N, K, a.dim(-1), b.dim(-1), ta, tb, alpha, sa, sb, sc, nbatch);
  else
    gemm_kernel<float><<<grid, 256, 0, st>>>(cf(a), cf(b), mf(c), M, N, K, a.dim(-1), b.dim(-1), ta, tb, alpha, sa, sb, sc, nbatch);
  launch_check("gemm_kernel");
  return wrap(info.Env(), c);
}
RECLIN_EXPORT("matmulCuda", MatmulCuda)

}  // namespace

void gemm_cuda(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, bool ta, bool tb, float alpha,
               int device, cudaStream_t st) {
  if (M == 0 || N == 0) return;
  if (cublas_gemm({A, B, C, M, N, K, ta, tb, alpha, 1, M * K, K * N, M * N}, device, st)) {
    launch_check("cublasLtMatmul");
    return;
  }
  dim3 grid(static_cast<unsigned>((N + BN - 1) / BN), static_cast<unsigned>((M + BM - 1) / BM), 1);
  if (grid.y > 65535) throw ArgError("gemm: M = " + std::to_string(M) + " is above the 4194240 rows the cuda GEMM supports");
  gemm_kernel<float><<<grid, 256, 0, st>>>(A, B, C, M, N, K, ta ? M : K, tb ? K : N, ta, tb, alpha, M * K, K * N, M * N, 1);
  launch_check("gemm_kernel");
}

}  // namespace reclin
