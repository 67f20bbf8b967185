// Checks how cublas.cu hands row-major GEMMs to cuBLASLt (cuda/cublas_plan.h) without a GPU or the library: a plain
// column-major GEMM with cuBLASLt's semantics (op(first)[m,k]·op(second)[k,n], leading dimensions, batch strides)
// run on each plan must give the row-major product C = alpha·op(A)·op(B) of a float64 loop, for every transpose,
// batched, shared B (folded into one taller GEMM without transA, stride 0 with it). Usage: cublas_plan_emu. Exit 1
// on a failure. Also the plan cache's key and least-recently-used eviction (cuda/cublas_plan_cache.h).
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "cublas_plan.h"
#include "cublas_plan_cache.h"

using namespace reclin;

// cuBLASLt's D = alpha·op(X)·op(Y), column-major, element (i,j) of a stored rows×cols matrix at i + j·ld.
static void lt_reference(const LtPlan& p) {
  auto at = [](const LtOperand& o, int64_t z, uint64_t i, uint64_t j) {  // op(o)[i,j]
    const float* x = static_cast<const float*>(o.p);
    return o.trans ? x[z * o.stride + j + i * o.ld] : x[z * o.stride + i + j * o.ld];
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
                      lt_alignment(buf, 3, 1) == 256 &&
                      // bf16 operands: 2-byte elements
                      lt_alignment(reinterpret_cast<uint16_t*>(buf) + 1, 0, 1, 2) == 2 && lt_alignment(buf, 3, 2, 2) == 2 &&
                      lt_alignment(buf, 64, 2, 2) == 128;
    ok = ok && pass;
    std::printf("%s lt_alignment\n", pass ? "ok  " : "FAIL");
  }
  {  // the plan cache's key: what changes the plan changes the key; what does not (pointers of equal alignment,
     // batch strides of a single matrix) does not
    alignas(256) static float a[4096], b[4096], c[4096];
    auto key = [](const CublasGemm& g, int dev = 0, bool tf32 = false) { return lt_key(lt_plan(g), dev, tf32); };
    const CublasGemm g0{a, b, c, 8, 16, 32, false, true, 1.f, 1, 256, 512, 128};
    CublasGemm same = g0;
    same.a = a + 64, same.b = b + 128, same.c = c + 64, same.sa = 7, same.alpha = 2.f;  // 256-aligned, unbatched
    bool pass = key(g0) == key(same) && LtKeyHash{}(key(g0)) == LtKeyHash{}(key(same));
    std::vector<CublasGemm> differ(12, g0);
    differ[0].M = 9, differ[1].N = 17, differ[2].K = 33, differ[3].ta = true, differ[4].tb = false;
    differ[5].in = GemmInput::BF16, differ[6].a = a + 1, differ[7].c = c + 4, differ[8].batch = 2;
    differ[9].batch = 2, differ[9].sa = 128;  // vs differ[8]: another batch stride
    differ[10].b = b + 8;
    differ[11].batch = 2, differ[11].sc = 4;  // C's batch stride changes its alignment
    std::vector<LtKey> keys = {key(g0)};
    for (const CublasGemm& d : differ) keys.push_back(key(d));
    keys.push_back(key(g0, 1)), keys.push_back(key(g0, 0, true));
    for (size_t i = 0; i < keys.size(); ++i)
      for (size_t j = i + 1; j < keys.size(); ++j)
        if (keys[i] == keys[j]) pass = false, std::printf("FAIL keys %zu and %zu are equal\n", i, j);
    // TF32 does not apply to bf16 inputs: one plan either way
    pass = pass && key(differ[5], 0, true) == key(differ[5], 0, false);
    ok = ok && pass;
    std::printf("%s lt_key\n", pass ? "ok  " : "FAIL");

    // least recently used eviction: capacity 3, every evicted value destroyed exactly once, in LRU order
    LruCache<int> cache(3);
    std::vector<int> evicted;
    auto ev = [&](int& v) { evicted.push_back(v); };
    auto k = [&](int m) { CublasGemm g = g0; g.M = m; return key(g); };
    bool lru = cache.get(k(1)) == nullptr;
    for (int m = 1; m <= 3; ++m) lru = lru && *cache.put(k(m), m * 10, ev) == m * 10;
    lru = lru && cache.size() == 3 && evicted.empty();
    lru = lru && cache.get(k(1)) && *cache.get(k(1)) == 10;  // 1 is now the most recent: 2 goes first
    cache.put(k(4), 40, ev);
    lru = lru && evicted == std::vector<int>{20} && !cache.get(k(2)) && cache.get(k(3)) && cache.get(k(4));
    cache.put(k(5), 50, ev);  // order now 4, 3, 1 (most recent first): 1 goes
    lru = lru && evicted == std::vector<int>{20, 10} && cache.size() == 3 && cache.evictions() == 2;
    cache.clear(ev);
    std::sort(evicted.begin() + 2, evicted.end());
    lru = lru && evicted == std::vector<int>{20, 10, 30, 40, 50} && cache.size() == 0 && !cache.get(k(4));
    // many keys through a small cache: never above capacity, every value destroyed once
    LruCache<int> small(16);
    std::vector<int> gone;
    for (int i = 0; i < 1000; ++i) {
      const int m = 1 + (i * 7919) % 97;  // repeats, in a scattered order
      if (!small.get(k(m))) small.put(k(m), m, [&](int& v) { gone.push_back(v); });
      lru = lru && small.size() <= 16;
    }
    small.clear([&](int& v) { gone.push_back(v); });
    lru = lru && gone.size() == small.evictions() + 16 && small.size() == 0;
    ok = ok && lru;
    std::printf("%s plan cache (LRU)\n", lru ? "ok  " : "FAIL");
  }
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
