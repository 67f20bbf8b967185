// matmul(a, b, {transA, transB, alpha}): batched GEMM over the leading dimensions (see src/ops/matmul.ts); b f32 or bf16.
#include "gemm.h"
#include "op_util.h"

namespace reclin {

// b may be bf16 (a frozen weight kept in bf16): the GEMM widens it while packing, a and the result stay f32.
template <class T>
static void matmul_run(const MatmulShape& s, bool ta, bool tb, float alpha, const float* pa, int64_t lda, const T* pb,
                       int64_t ldb, float* pc, float beta = 0.f) {
  const int64_t M = s.M, K = s.K, N = s.N, nbatch = s.nbatch;
  if (s.shared_b && !ta) {  // one tall GEMM: the batch folds into M
    gemm(false, tb, nbatch * M, N, K, alpha, pa, lda, pb, ldb, beta, pc, N);
    return;
  }
  const int64_t sa = M * K, sb = s.shared_b ? 0 : K * N, sc = M * N;
  const double flops_each = 2.0 * M * N * K;
  if (nbatch >= num_threads() && flops_each < 64e6) {  // many small products: one per thread at a time
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nbatch; ++i)
      gemm_serial(ta, tb, M, N, K, alpha, pa + i * sa, lda, pb + i * sb, ldb, beta, pc + i * sc, N);
  } else {
    for (int64_t i = 0; i < nbatch; ++i)
      gemm(ta, tb, M, N, K, alpha, pa + i * sa, lda, pb + i * sb, ldb, beta, pc + i * sc, N);
  }
}

// The arguments matmul and matmulAccumulate share: a (f32), b (f32 or bf16), {transA, transB, alpha} at `at`.
struct MatmulArgs {
  Tensor a, b;
  bool ta, tb;
  float alpha;
  MatmulShape s;
};

static MatmulArgs matmul_args(const Napi::CallbackInfo& info, size_t at) {
  Tensor a = arg_f32(info, at, "a");
  Tensor b = arg_f32_or_bf16(info, at + 1, "b");
  Napi::Object opts = arg_object(info, at + 2, "options");
  const bool ta = opt_bool(opts, "transA", false), tb = opt_bool(opts, "transB", false);
  const float alpha = static_cast<float>(opt_number(opts, "alpha", 1.0));
  const MatmulShape s = matmul_shape(a, b, ta, tb);
  return MatmulArgs{a, b, ta, tb, alpha, s};
}

// c = beta * c + alpha * op(a) op(b), with b's dtype picking the GEMM's B operand.
static void matmul_into(const MatmulArgs& m, const Tensor& c, float beta) {
  const int64_t lda = m.a.dim(-1), ldb = m.b.dim(-1);
  if (m.b.dtype == DType::BF16)
    matmul_run(m.s, m.ta, m.tb, m.alpha, m.a.f32(), lda, static_cast<const uint16_t*>(m.b.raw()), ldb, c.f32(), beta);
  else
    matmul_run(m.s, m.ta, m.tb, m.alpha, m.a.f32(), lda, m.b.f32(), ldb, c.f32(), beta);
}

static Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const MatmulArgs m = matmul_args(info, 0);
  Tensor c = empty(m.s.out);
  matmul_into(m, c, 0.f);
  return wrap(info.Env(), c);
}
RECLIN_EXPORT("matmul", Matmul)

// matmulAccumulate(c, a, b, {transA, transB, alpha}): c += matmul(a, b) in place (c f32, of the product's shape).
// Autograd uses it to add a second gradient into one it already holds (the CPU engine only).
static Napi::Value MatmulAccumulate(const Napi::CallbackInfo& info) {
  Tensor c = arg_f32(info, 0, "c");
  const MatmulArgs m = matmul_args(info, 1);
  if (c.shape != m.s.out) throw ArgError("c: expected the product's shape " + shape_string(m.s.out) + ", got " + c.shape_str());
  if (c.raw() == m.a.raw() || c.raw() == m.b.raw()) throw ArgError("c: must not share storage with a or b");
  matmul_into(m, c, 1.f);
  return info.Env().Undefined();
}
RECLIN_EXPORT("matmulAccumulate", MatmulAccumulate)

static Napi::Value GemmKernel(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), gemm_kernel_name());
}
RECLIN_EXPORT("gemmKernel", GemmKernel)

}  // namespace reclin
