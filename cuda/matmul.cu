// matmulCuda(a, b, { transA, transB, alpha }): the twin of native/matmul.cc (same shapes, batching and
// errors). cuBLASLt when it was found at run time (cublas.cu; fp32 compute, TF32 only with RECLIN_ALLOW_TF32=1),
// else our own tiled fp32 SIMT GEMM: 64x64 output tiles, k-steps of 16 staged in shared memory, a 4x4 register
// block per thread, fp32 accumulation.
#include <napi.h>

#include <algorithm>
#include <string>

#include "cublas.cuh"
#include "cuda_util.cuh"
#include "gemm.cuh"

namespace reclin {
namespace {

#include "gemm_kernels.cuh"

Napi::Value MatmulCuda(const Napi::CallbackInfo& info) {
  Tensor a = arg_cuda_f32(info, 0, "a");
  Tensor b = arg_cuda_f32(info, 1, "b");
  expect_same_device(a, b, "a", "b");
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
  const CublasGemm lt = fold_shared_b({cf(a), cf(b), mf(c), M, N, K, ta, tb, alpha, nbatch, sa, sb, sc}, shared_b);
  if (cublas_gemm(lt, a.device.index, st)) {
    launch_check("cublasLtMatmul");
    return wrap(info.Env(), c);
  }
  dim3 grid(static_cast<unsigned>((N + BN - 1) / BN), static_cast<unsigned>((M + BM - 1) / BM),
            static_cast<unsigned>(std::min<int64_t>(nbatch, 65535)));
  if (grid.y > 65535) throw ArgError("a: M = " + std::to_string(M) + " is above the 4194240 rows the cuda GEMM supports");
  gemm_kernel<<<grid, 256, 0, st>>>(cf(a), cf(b), mf(c), M, N, K, a.dim(-1), b.dim(-1), ta, tb,
                                                            alpha, sa, sb, sc, nbatch);
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
  gemm_kernel<<<grid, 256, 0, st>>>(A, B, C, M, N, K, ta ? M : K, tb ? K : N, ta, tb, alpha, M * K, K * N, M * N, 1);
  launch_check("gemm_kernel");
}

}  // namespace reclin
