// matmul(a, b, {transA, transB, alpha}): batched GEMM over the leading dimensions (see src/ops/matmul.ts).
#include "gemm.h"
#include "op_util.h"

namespace reclin {

static Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Tensor a = arg_f32(info, 0, "a");
  Tensor b = arg_f32(info, 1, "b");
  Napi::Object opts = arg_object(info, 2, "options");
  const bool ta = opt_bool(opts, "transA", false), tb = opt_bool(opts, "transB", false);
  const float alpha = static_cast<float>(opt_number(opts, "alpha", 1.0));
  const MatmulShape s = matmul_shape(a, b, ta, tb);
  const int64_t M = s.M, K = s.K, N = s.N, nbatch = s.nbatch;
  const bool shared_b = s.shared_b;
  Tensor c = empty(s.out);
  const float* pa = a.f32();
  const float* pb = b.f32();
  float* pc = c.f32();
  const int64_t lda = a.dim(-1), ldb = b.dim(-1);
  if (shared_b && !ta) {  // one tall GEMM: the batch folds into M
    gemm(false, tb, nbatch * M, N, K, alpha, pa, lda, pb, ldb, 0.f, pc, N);
    return wrap(info.Env(), c);
  }
  const int64_t sa = M * K, sb = shared_b ? 0 : K * N, sc = M * N;
  const double flops_each = 2.0 * M * N * K;
  if (nbatch >= num_threads() && flops_each < 64e6) {  // many small products: one per thread at a time
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nbatch; ++i)
      gemm_serial(ta, tb, M, N, K, alpha, pa + i * sa, lda, pb + i * sb, ldb, 0.f, pc + i * sc, N);
  } else {
    for (int64_t i = 0; i < nbatch; ++i)
      gemm(ta, tb, M, N, K, alpha, pa + i * sa, lda, pb + i * sb, ldb, 0.f, pc + i * sc, N);
  }
  return wrap(info.Env(), c);
}
RECLIN_EXPORT("matmul", Matmul)

static Napi::Value GemmKernel(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), gemm_kernel_name());
}
RECLIN_EXPORT("gemmKernel", GemmKernel)

}  // namespace reclin
