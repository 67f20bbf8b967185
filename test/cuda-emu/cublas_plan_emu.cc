// Checks how cublas.cu hands row-major GEMMs to cuBLASLt (cuda/cublas_plan.h) without a GPU or the library: a plain
// column-major GEMM with cuBLASLt's semantics (op(first)[m,k]·op(second)[k,n], leading dimensions, batch strides)
// run on each plan must give the row-major product C = alpha·op(A)·op(B) of a float64 loop, for every transpose,
// batched, shared B (folded into one taller GEMM without transA, stride 0 with it). Usage: cublas_plan_emu. Exit 1
// on a failure.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "cublas_plan.h"

using namespace reclin;

// cuBLASLt's D = alpha·op(X)·op(Y), column-major, element (i,j) of a stored rows×cols matrix at i + j·ld.
static void lt_reference(const LtPlan& p) {
  auto at = [](const LtOperand& o, int64_t z, uint64_t i, uint64_t j) {  // op(o)[i,j]
    return o.trans ? o.p[z * o.stride + j + i * o.ld] : o.p[z * o.stride + i + j * o.ld];
  };
  for (int64_t z = 0; z < p.batch; ++z)
    for (uint64_t i = 0; i < p.m; ++i)
      for (uint64_t j = 0; j < p.n; ++j) {
        double s = 0;
        for (uint64_t l = 0; l < p.k; ++l) s += (double)at(p.first, z, i, l) * at(p.second, z, l, j);
        p.d[z * p.stride_d + i + j * p.ldd] = (float)(p.alpha * s);
      }
}

int main() {
  bool ok = true;
  std::mt19937 gen(3);
  std::normal_distribution<float> nrm(0.f, 1.f);
  struct Case { int64_t batch, M, N, K; bool ta, tb, shared_b; };
  std::vector<Case> cases;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool shared : {false, true}) cases.push_back({3, 5, 7, 4, ta, tb, shared});
  cases.push_back({1, 1, 9, 13, false, true, false});
  cases.push_back({2, 17, 1, 3, true, false, true});
  for (const Case& c : cases) {
    const int64_t M = c.M, N = c.N, K = c.K, nb = c.batch;
    std::vector<float> a(nb * M * K), b((c.shared_b ? 1 : nb) * K * N), out(nb * M * N, NAN);
    for (auto& e : a) e = nrm(gen);
    for (auto& e : b) e = nrm(gen);
    const float alpha = 0.75f;
    const int64_t sa = M * K, sb = c.shared_b ? 0 : K * N, sc = M * N;
    const LtPlan p = lt_plan(fold_shared_b({a.data(), b.data(), out.data(), M, N, K, c.ta, c.tb, alpha, nb, sa, sb, sc}, c.shared_b));
    lt_reference(p);
    double worst = 0;
    for (int64_t z = 0; z < nb; ++z)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double s = 0;  // row-major op(A)[i,l] = A[i,l] or A[l,i]; op(B)[l,j] = B[l,j] or B[j,l]
          for (int64_t l = 0; l < K; ++l) {
            const double x = c.ta ? a[z * sa + l * M + i] : a[z * sa + i * K + l];
            const double y = c.tb ? b[z * sb + j * K + l] : b[z * sb + l * N + j];
            s += x * y;
          }
          worst = std::fmax(worst, std::fabs(alpha * s - out[z * sc + i * N + j]));  // NaN: never written
          if (std::isnan(out[z * sc + i * N + j])) worst = INFINITY;
        }
    const bool pass = worst < 1e-5;
    ok = ok && pass;
    std::printf("%s batch=%lld M=%lld N=%lld K=%lld ta=%d tb=%d sharedB=%d max|err|=%.2e\n", pass ? "ok  " : "FAIL", (long long)nb,
                (long long)M, (long long)N, (long long)K, c.ta, c.tb, c.shared_b, worst);
  }
  {  // the alignment handed to the heuristic: the address (and a batch stride) at most 256 bytes
    alignas(256) static float buf[1024];
    const bool pass = lt_alignment(buf, 0, 1) == 256 && lt_alignment(buf + 1, 0, 1) == 4 && lt_alignment(buf + 4, 0, 1) == 16 &&
                      lt_alignment(buf + 64, 0, 1) == 256 && lt_alignment(buf, 2, 3) == 8 && lt_alignment(buf, 128, 3) == 256 &&
                      lt_alignment(buf, 3, 1) == 256;
    ok = ok && pass;
    std::printf("%s lt_alignment\n", pass ? "ok  " : "FAIL");
  }
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
