// Runs the CUDA mixture-of-experts kernels (cuda/moe_kernels.cuh) on the CPU with real threads per block (emu.h), in
// the order cuda/moe.cu queues them: route (+ backward), the counting sort by expert, gather, one GEMM per expert
// segment, SwiGLU, the weighted sums back, and the backward. The expert GEMMs go through a plain loop here (the GEMM
// kernel itself is gemm_emu.cc's). Checked here: the sort against std::stable_sort and the index check protocol.
// With RECLIN_EMU_DUMP=<dir>, every case's inputs and outputs are written to <dir>/<case>.json, and
// test/cuda-emu.test.ts compares them with the CPU ops (native/moe.cc, the reference).
// Usage: moe_emu [threads] [quick]. Exit 1 on a failure.
#include <random>
#include <string>

#include "emu.h"

namespace reclin {
namespace {
#include "acc.cuh"
#include "moe_kernels.cuh"
}  // namespace
}  // namespace reclin
using namespace reclin;
#include "check_flow.h"

static bool ok = true;

struct Case {
  std::string name;
  long N, E, k, G, topkGroup, d, I;
  bool renormalize, softmax, bias;
  float scale;
};

// C[M,N] = op(A)·op(B), packed row-major, as gemm_cuda computes it (float accumulation).
static void host_gemm(const float* A, const float* B, float* C, long M, long N, long K, bool ta, bool tb) {
  for (long i = 0; i < M; ++i)
    for (long j = 0; j < N; ++j) {
      float s = 0.f;
      for (long p = 0; p < K; ++p) s += (ta ? A[p * M + i] : A[i * K + p]) * (tb ? B[j * K + p] : B[p * N + j]);
      C[i * N + j] = s;
    }
}

template <class T>
static void put(FILE* f, const char* key, const std::vector<T>& v, bool last = false) {
  std::fprintf(f, "\"%s\":[", key);
  for (size_t i = 0; i < v.size(); ++i) std::fprintf(f, i ? ",%.9g" : "%.9g", (double)v[i]);
  std::fprintf(f, "]%s\n", last ? "" : ",");
}

struct Sorted {
  std::vector<int32_t> order, pos, offsets;
};

// The counting sort as moe.cu queues it; grids smaller than the work so the grid-stride loops run.
// chunk 0: moe.cu's rule (at least 32 and E assignments per chunk); the small chunks of the default give many
// chunks per expert, so placements run in many columns at once.
static Sorted sort_by_expert(const std::vector<int32_t>& idx, long E, unsigned T, long chunk = 5) {
  if (chunk == 0) chunk = std::max(32L, E);
  const long A = (long)idx.size(), C = (A + chunk - 1) / chunk;
  Sorted s;
  s.order.assign(A, -1), s.pos.assign(A, -1), s.offsets.assign(E + 1, -1);
  std::vector<int32_t> cnt(E * C, 12345);
  emu::launch(2, T, [&] { moe_count_kernel(idx.data(), A, (int)E, C, chunk, cnt.data()); });
  emu::launch(1, T, [&] { moe_scan_kernel(cnt.data(), E * C, s.offsets.data(), (int)E, C, A); });
  emu::launch(2, T, [&] { moe_place_kernel(idx.data(), A, (int)E, C, chunk, cnt.data(), s.order.data(), s.pos.data()); });
  return s;
}

static void run_case(const Case& c, unsigned T, std::mt19937& gen, const char* dump) {
  std::normal_distribution<float> nrm(0.f, 1.f);
  const long N = c.N, E = c.E, k = c.k, d = c.d, I = c.I, A = N * k;
  std::vector<float> logits(N * E), bias(c.bias ? E : 0), x(N * d), gu(E * 2 * I * d), down(E * d * I), dy(N * d), dwin(A);
  for (auto& v : logits) v = nrm(gen);
  for (auto& v : bias) v = 0.3f * nrm(gen);
  for (auto& v : x) v = nrm(gen);
  for (auto& v : gu) v = 0.3f * nrm(gen);
  for (auto& v : down) v = 0.3f * nrm(gen);
  for (auto& v : dy) v = nrm(gen);
  for (auto& v : dwin) v = nrm(gen);
  if (c.bias) bias[E - 2] = -100.f;  // expert E-2 is never chosen: an expert with no token
  for (long e = 0; e < E; ++e) logits[2 * E + e] = 0.25f;  // token 2: all scores equal, ties go to the lower index
  if (N > 4) logits[4 * E + 1] = logits[4 * E + 3] = 3.f;  // token 4: a tie for the best expert

  std::vector<float> scores(N * E, NAN), weights(A, NAN), dl(N * E, NAN);
  std::vector<int32_t> indices(A, -7);
  const float* pb = c.bias ? bias.data() : nullptr;
  emu::launch(2, T, [&] {
    moe_route_kernel(logits.data(), pb, scores.data(), weights.data(), indices.data(), N, (int)E, (int)k, (int)c.G,
                     (int)c.topkGroup, c.renormalize, c.scale, c.softmax);
  });
  emu::launch(2, T, [&] {
    moe_route_bwd_kernel(dwin.data(), scores.data(), indices.data(), dl.data(), N, (int)E, (int)k, c.renormalize, c.scale, c.softmax);
  });

  // the sort: a stable permutation by expert, and the segment offsets
  const Sorted s = sort_by_expert(indices, E, T), s2 = sort_by_expert(indices, E, T, 0);
  std::vector<int32_t> ref(A);
  for (long a = 0; a < A; ++a) ref[a] = (int32_t)a;
  std::stable_sort(ref.begin(), ref.end(), [&](int32_t p, int32_t q) { return indices[p] < indices[q]; });
  bool sorted = true;
  for (const Sorted* t : {&s, &s2}) {
    for (long r = 0; r < A; ++r) sorted = sorted && t->order[r] == ref[r] && t->pos[ref[r]] == r;
    for (long e = 0; e <= E; ++e) {
      long first = 0;
      while (first < A && indices[ref[first]] < e) ++first;
      sorted = sorted && t->offsets[e] == first;
    }
  }
  ok = ok && sorted;
  std::printf("%s %s sort by expert\n", sorted ? "ok  " : "FAIL", c.name.c_str());

  // experts forward
  std::vector<float> xs(A * d, NAN), h(A * 2 * I, NAN), act(A * I, NAN), ye(A * d, NAN), y(N * d, NAN);
  emu::launch(3, T, [&] { moe_gather_kernel(x.data(), s.order.data(), xs.data(), A, d, k); });
  for (long e = 0; e < E; ++e) {
    const long r0 = s.offsets[e], n = s.offsets[e + 1] - r0;
    if (n) host_gemm(xs.data() + r0 * d, gu.data() + e * 2 * I * d, h.data() + r0 * 2 * I, n, 2 * I, d, false, true);
  }
  emu::launch(3, T, [&] { moe_swiglu_kernel(h.data(), act.data(), A, I); });
  for (long e = 0; e < E; ++e) {
    const long r0 = s.offsets[e], n = s.offsets[e + 1] - r0;
    if (n) host_gemm(act.data() + r0 * I, down.data() + e * d * I, ye.data() + r0 * d, n, d, I, false, true);
  }
  emu::launch(3, T, [&] { moe_combine_kernel(ye.data(), s.pos.data(), weights.data(), y.data(), N, d, k); });

  // experts backward
  std::vector<float> dye(A * d, NAN), da(A * I, NAN), dh(A * 2 * I, NAN), dxs(A * d, NAN), dx(N * d, NAN),
      dgu(E * 2 * I * d, NAN), ddown(E * d * I, NAN), dw(A, NAN);
  emu::launch(3, T, [&] { moe_swiglu_kernel(h.data(), act.data(), A, I); });
  emu::launch(3, T, [&] { moe_dye_kernel(dy.data(), weights.data(), s.order.data(), dye.data(), A, d, k); });
  emu::launch(2, T, [&] { moe_dweights_kernel(dy.data(), ye.data(), s.pos.data(), dw.data(), A, d, k); });
  for (long e = 0; e < E; ++e) {
    const long r0 = s.offsets[e], n = s.offsets[e + 1] - r0;
    if (!n) {
      std::fill(dgu.begin() + e * 2 * I * d, dgu.begin() + (e + 1) * 2 * I * d, 0.f);
      std::fill(ddown.begin() + e * d * I, ddown.begin() + (e + 1) * d * I, 0.f);
      continue;
    }
    host_gemm(dye.data() + r0 * d, down.data() + e * d * I, da.data() + r0 * I, n, I, d, false, false);
    host_gemm(dye.data() + r0 * d, act.data() + r0 * I, ddown.data() + e * d * I, d, I, n, true, false);
  }
  emu::launch(3, T, [&] { moe_swiglu_bwd_kernel(da.data(), h.data(), dh.data(), A, I); });
  for (long e = 0; e < E; ++e) {
    const long r0 = s.offsets[e], n = s.offsets[e + 1] - r0;
    if (!n) continue;
    host_gemm(dh.data() + r0 * 2 * I, xs.data() + r0 * d, dgu.data() + e * 2 * I * d, 2 * I, d, n, true, false);
    host_gemm(dh.data() + r0 * 2 * I, gu.data() + e * 2 * I * d, dxs.data() + r0 * d, n, d, 2 * I, false, false);
  }
  emu::launch(3, T, [&] { moe_combine_kernel(dxs.data(), s.pos.data(), nullptr, dx.data(), N, d, k); });

  if (!dump) return;
  const std::string path = std::string(dump) + "/" + c.name + ".json";
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::printf("FAIL cannot write %s\n", path.c_str());
    ok = false;
    return;
  }
  std::fprintf(f, "{\"name\":\"%s\",\"N\":%ld,\"E\":%ld,\"k\":%ld,\"d\":%ld,\"I\":%ld,\n", c.name.c_str(), N, E, k, d, I);
  std::fprintf(f, "\"opts\":{\"topK\":%ld,\"numGroups\":%ld,\"topkGroup\":%ld,\"renormalize\":%s,\"scale\":%.9g,\"activation\":\"%s\"},\n",
               k, c.G, c.topkGroup, c.renormalize ? "true" : "false", (double)c.scale, c.softmax ? "softmax" : "sigmoid");
  put(f, "logits", logits), put(f, "bias", bias), put(f, "scores", scores), put(f, "weights", weights);
  put(f, "indices", indices), put(f, "dWeightsIn", dwin), put(f, "dLogits", dl);
  put(f, "x", x), put(f, "gateUp", gu), put(f, "down", down), put(f, "y", y), put(f, "h", h), put(f, "ye", ye);
  put(f, "dy", dy), put(f, "dx", dx), put(f, "dGateUp", dgu), put(f, "dDown", ddown), put(f, "dWeights", dw, true);
  std::fprintf(f, "}\n");
  std::fclose(f);
}

int main(int argc, char** argv) {
  const unsigned T = argc > 1 ? (unsigned)std::atoi(argv[1]) : 8;
  const bool quick = argc > 2 && std::string(argv[2]) == "quick";
  const char* dump = std::getenv("RECLIN_EMU_DUMP");
  std::mt19937 gen(11);
  // N not a multiple of the block, E not a power of two, topK > 1, grouped routing, an expert without tokens (bias)
  std::vector<Case> cases = {
      {"sigmoid-E7-k3-bias", 37, 7, 3, 1, 1, 12, 10, true, false, true, 2.5f},
      {"softmax-E12-G4-tg2-k4", 29, 12, 4, 4, 2, 9, 6, false, true, false, 1.f},
      {"sigmoid-E6-G3-tg1-k2-bias", 23, 6, 2, 3, 1, 5, 7, true, false, true, 1.f},
      {"softmax-E10-G5-tg3-k5-bias", 19, 10, 5, 5, 3, 8, 4, true, true, true, 0.7f},
      {"sigmoid-E3-k1-N5", 5, 3, 1, 1, 1, 4, 3, true, false, false, 1.f},
  };
  if (quick) cases.resize(1);
  for (const Case& c : cases) run_case(c, T, gen, dump);

  {  // the index check: the first bad entry is recorded; the sort treats bad entries as expert 0 and stays in bounds
    const long E = 5;
    std::vector<int32_t> idx = {0, 4, 2, 3, 1, 2, 4, 0, 3};
    CheckRecord rec = fresh_record();
    auto flag = [&](const std::vector<int32_t>& v) {
      return [&](unsigned long long* first) { moe_bad_index_kernel(v.data(), (int64_t)v.size(), (int)E, first); };
    };
    run_check(rec, T, flag(idx), kCheckMoeIndicesExperts, idx.data(), true, CheckDims{{3, 3}, 2}, E);
    ok = expect_record("moe indices (good)", rec, kCheckNone, 0, 0) && ok;
    std::vector<int32_t> bad(idx);
    bad[7] = -1, bad[5] = 5;
    run_check(rec, T, flag(bad), kCheckMoeIndicesExperts, bad.data(), true, CheckDims{{3, 3}, 2}, E);
    ok = expect_record("moe indices", rec, kCheckMoeIndicesExperts, 5, 5) && ok;
    const Sorted s = sort_by_expert(bad, E, T);
    bool perm = s.offsets[E] == (int32_t)bad.size();
    std::vector<int> seen(bad.size(), 0);
    for (int32_t a : s.order) perm = perm && a >= 0 && a < (int32_t)bad.size() && !seen[a]++;
    ok = ok && perm;
    std::printf("%s sort with bad indices stays a permutation\n", perm ? "ok  " : "FAIL");
  }
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
