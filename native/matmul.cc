// matmul(a, b, {transA, transB, alpha}): batched GEMM over the leading dimensions (see src/ops/matmul.ts).
#include "gemm.h"
#include "op_util.h"

namespace reclin {

static bool opt_bool(const Napi::Object& opts, const char* key) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsBoolean()) throw ArgError(std::string(key) + ": expected a boolean");
  return v.As<Napi::Boolean>().Value();
}

static Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Tensor a = arg_f32(info, 0, "a");
  Tensor b = arg_f32(info, 1, "b");
  Napi::Object opts = arg_object(info, 2, "options");
  const bool ta = opt_bool(opts, "transA"), tb = opt_bool(opts, "transB");
  const float alpha = static_cast<float>(opt_number(opts, "alpha", 1.0));
  expect_min_ndim(a, 2, "a", ta ? "[...,K,M] (transA)" : "[...,M,K]");
  expect_min_ndim(b, 2, "b", tb ? "[...,N,K] (transB)" : "[...,K,N]");
  const int64_t M = ta ? a.dim(-1) : a.dim(-2), K = ta ? a.dim(-2) : a.dim(-1);
  const int64_t Kb = tb ? b.dim(-1) : b.dim(-2), N = tb ? b.dim(-2) : b.dim(-1);
  if (Kb != K)
    throw ArgError(std::string("b: expected shape ") + (tb ? "[...,N,K]" : "[...,K,N]") + " with K = " +
                   std::to_string(K) + " (from a " + a.shape_str() + "), got " + b.shape_str());
  std::vector<int64_t> batch(a.shape.begin(), a.shape.end() - 2);
  const bool shared_b = b.ndim() == 2;
  if (!shared_b) {
    std::vector<int64_t> bb(b.shape.begin(), b.shape.end() - 2);
    if (bb != batch)
      throw ArgError("b: batch dimensions " + shape_string(bb) + " must equal a's " + shape_string(batch) +
                     " (or b must be 2-D and shared across the batch)");
  }
  int64_t nbatch = 1;
  for (int64_t d : batch) nbatch *= d;
  std::vector<int64_t> out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor c = empty(out_shape);
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
