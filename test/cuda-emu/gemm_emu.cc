// Runs the CUDA GEMM kernel (cuda/gemm_kernels.cuh) on the CPU with its 256 real threads per block (emu.h) and
// compares it with a float64 product: every transA/transB combination, sizes that are not multiples of the
// 64×64×16 tiles, a batch with and without a shared b, alpha ≠ 1, and K = 0. Grids smaller than the batch
// exercise the batch-stride loop. The bf16-input variant (--precision bf16) runs on the same cases with A and B rounded
// to bf16 (round to nearest even, as cast does) and is compared with the float64 product of those rounded values:
// only the fp32 accumulation may differ, so the same 1e-5 holds. Usage: gemm_emu [ignored] [quick]. Prints one line
// per case; exit 1 on a failure.
#include <random>

#include "emu.h"

namespace reclin {
namespace {
#include "gemm_kernels.cuh"
}  // namespace
}  // namespace reclin
using namespace reclin;

static bool run(long M, long N, long K, long nb, bool ta, bool tb, bool shared_b, unsigned gz, unsigned seed, bool bf16 = false) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nrm(0.f, 1.f);
  std::vector<float> a(nb * M * K), b((shared_b ? 1 : nb) * K * N), c(nb * M * N, NAN);
  for (auto& e : a) e = nrm(gen);
  for (auto& e : b) e = nrm(gen);
  const float alpha = 0.75f;
  const long lda = ta ? M : K, ldb = tb ? K : N, sa = M * K, sb = shared_b ? 0 : K * N, sc = M * N;
  const Dim3 grid{(unsigned)((N + BN - 1) / BN), (unsigned)((M + BM - 1) / BM), gz};
  if (bf16) {
    // the kernel reads the bf16 bits; the reference reads the same values widened back (exact)
    std::vector<uint16_t> a16(a.size()), b16(b.size());
    for (size_t i = 0; i < a.size(); ++i) a16[i] = f32_to_bf16(a[i]), a[i] = bf16_to_f32(a16[i]);
    for (size_t i = 0; i < b.size(); ++i) b16[i] = f32_to_bf16(b[i]), b[i] = bf16_to_f32(b16[i]);
    emu::launch(grid, Dim3{256, 1, 1},
                [&] { gemm_kernel(a16.data(), b16.data(), c.data(), M, N, K, lda, ldb, ta, tb, alpha, sa, sb, sc, nb); });
  } else {
    emu::launch(grid, Dim3{256, 1, 1},
                [&] { gemm_kernel(a.data(), b.data(), c.data(), M, N, K, lda, ldb, ta, tb, alpha, sa, sb, sc, nb); });
  }
  double num = 0, den = 0;
  for (long z = 0; z < nb; ++z)
    for (long i = 0; i < M; ++i)
      for (long j = 0; j < N; ++j) {
        double s = 0;
        for (long k = 0; k < K; ++k)
          s += (double)a[z * sa + (ta ? k * lda + i : i * lda + k)] * b[z * sb + (tb ? j * ldb + k : k * ldb + j)];
        s *= alpha;
        const double d = s - c[z * sc + i * N + j];
        num += d * d, den += s * s;
      }
  const double e = den == 0 ? std::sqrt(num) : std::sqrt(num / den);  // NaN (an unwritten output) fails
  const bool pass = e <= 1e-5;
  std::printf("%s gemm %s M=%ld N=%ld K=%ld batch=%ld transA=%d transB=%d sharedB=%d rmsRel=%.3e\n", pass ? "ok  " : "FAIL",
              bf16 ? "bf16" : "f32", M, N, K, nb, ta, tb, shared_b, e);
  return pass;
}

int main(int argc, char** argv) {
  const bool quick = argc > 2 && std::string(argv[2]) == "quick";
  bool ok = true;
  unsigned seed = 1;
  ok = run(70, 67, 19, 1, false, false, false, 1, seed++) && ok;  // 2×2 tiles, a partial k-step
  for (int t = 1; t < 4 && !quick; ++t) ok = run(21, 66, 19, 1, t & 1, t & 2, false, 1, seed++) && ok;
  if (!quick) {
    ok = run(5, 3, 40, 3, false, false, true, 2, seed++) && ok;
    ok = run(1, 130, 7, 2, true, false, false, 1, seed++) && ok;
    ok = run(9, 4, 0, 1, false, false, false, 1, seed++) && ok;
  }
  // bf16 inputs: every transpose at awkward sizes, batched with a shared b, and a long K
  ok = run(70, 67, 19, 1, false, false, false, 1, seed++, true) && ok;
  if (!quick) {
    for (int t = 1; t < 4; ++t) ok = run(33, 65, 21, 1, t & 1, t & 2, false, 1, seed++, true) && ok;
    ok = run(5, 3, 40, 3, false, true, true, 2, seed++, true) && ok;
    ok = run(3, 130, 7, 2, true, false, false, 1, seed++, true) && ok;
    ok = run(7, 9, 333, 1, false, true, false, 1, seed++, true) && ok;
  }
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
