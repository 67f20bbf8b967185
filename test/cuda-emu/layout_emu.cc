// Runs the CUDA layout kernels (cuda/layout_kernels.cuh) on the CPU with real threads per block (emu.h) and compares
// them with float64 loops: embedding (+ backward with repeated ids, as a segmented sum over ids sorted), the id range
// check (device_check.cuh), short causal conv (+ dx, dw) and transpose. Grids are smaller than the work so the
// grid-stride loops run. Usage: layout_emu [threads].
// Exit 1 on a failure.
#include <random>

#include "emu.h"

namespace reclin {
namespace {
#include "layout_kernels.cuh"
}  // namespace
}  // namespace reclin
using namespace reclin;
#include "check_flow.h"

static bool ok = true;
static void check(const char* what, const std::vector<double>& ref, const std::vector<float>& x, double tol = 1e-6) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) num += (ref[i] - x[i]) * (ref[i] - x[i]), den += ref[i] * ref[i];
  const double e = den == 0 ? std::sqrt(num) : std::sqrt(num / den);  // NaN (an unwritten output) fails
  ok = ok && e <= tol;
  std::printf("%s %s rmsRel=%.3e\n", e <= tol ? "ok  " : "FAIL", what, e);
}

int main(int argc, char** argv) {
  const unsigned T = argc > 1 ? (unsigned)std::atoi(argv[1]) : 8;
  std::mt19937 gen(5);
  std::normal_distribution<float> nrm(0.f, 1.f);
  auto fill = [&](std::vector<float>& x) {
    for (auto& e : x) e = nrm(gen);
  };
  // embedding: V=11, D=13, 19 ids with repeats; backward as layout.cu runs it: (id, position) pairs sorted by id
  // with a stable sort (CUB's radix sort on the GPU; std::stable_sort here), then embedding_bwd_segments. A grid
  // smaller than the work (x: sorted indices, y: column tiles) makes both grid-stride loops run.
  for (const long D : {13L, 300L}) {
    const long V = 11, n = 19;
    std::vector<float> w(V * D), g(n * D), out(n * D, NAN), dw(V * D, 0.f);
    fill(w), fill(g);
    std::vector<int32_t> ids(n);
    for (long i = 0; i < n; ++i) ids[i] = (int32_t)((i * 5) % 7);
    ids[4] = 10, ids[11] = 10, ids[12] = 10;  // a row used three times, ids 7..9 never
    auto backward = [&](const std::vector<int32_t>& id, std::vector<float>& out_dw) {
      std::vector<int32_t> pos(n), sid(n), spos(n);
      emu::launch(2, T, [&] { iota_kernel(pos.data(), n); });
      std::vector<std::pair<int32_t, int32_t>> pairs(n);
      for (long i = 0; i < n; ++i) pairs[i] = {id[i], pos[i]};
      std::stable_sort(pairs.begin(), pairs.end(), [](auto& a, auto& b) { return a.first < b.first; });
      for (long i = 0; i < n; ++i) sid[i] = pairs[i].first, spos[i] = pairs[i].second;
      emu::launch(Dim3{5, 2, 1}, Dim3{T, 1, 1}, [&] { embedding_bwd_segments(g.data(), sid.data(), spos.data(), out_dw.data(), n, D, V); });
    };
    emu::launch(3, T, [&] { embedding_kernel(w.data(), ids.data(), out.data(), n, D, V); });
    backward(ids, dw);
    std::vector<double> ro(n * D), rdw(V * D, 0.0);
    for (long i = 0; i < n; ++i)
      for (long j = 0; j < D; ++j) ro[i * D + j] = w[ids[i] * D + j], rdw[ids[i] * D + j] += g[i * D + j];
    check(D == 13 ? "embedding D=13" : "embedding D=300", ro, out), check(D == 13 ? "embedding backward D=13" : "embedding backward D=300", rdw, dw);

    // bad ids: the flag reports the first; forward gives zero rows and backward skips them (no read out of bounds)
    std::vector<int32_t> bad(ids);
    bad[n - 2] = (int32_t)V, bad[9] = -1;
    CheckRecord rec = fresh_record();
    auto flag = [&](const std::vector<int32_t>& x) { return [&](unsigned long long* first) { bad_id_kernel(x.data(), n, V, first); }; };
    run_check(rec, T, flag(ids), kCheckIdsForward, ids.data(), true, CheckDims{{n}, 1}, V);
    ok = expect_record("ids (good)", rec, kCheckNone, 0, 0) && ok;
    run_check(rec, T, flag(bad), kCheckIdsForward, bad.data(), true, CheckDims{{n}, 1}, V);
    ok = expect_record("ids", rec, kCheckIdsForward, 9, -1) && ok;
    std::vector<float> out2(n * D, NAN), dw2(V * D, 0.f);
    emu::launch(3, T, [&] { embedding_kernel(w.data(), bad.data(), out2.data(), n, D, V); });
    backward(bad, dw2);
    std::vector<double> ro2(n * D, 0.0), rdw2(V * D, 0.0);
    for (long i = 0; i < n; ++i)
      if (bad[i] >= 0 && bad[i] < V)
        for (long j = 0; j < D; ++j) ro2[i * D + j] = w[bad[i] * D + j], rdw2[bad[i] * D + j] += g[i * D + j];
    check("embedding with bad ids (zero rows)", ro2, out2), check("embedding backward with bad ids (skipped)", rdw2, dw2);
  }
  {  // short conv: B=2, T=9, C=5, W=4
    const long B = 2, TT = 9, C = 5, W = 4;
    std::vector<float> x(B * TT * C), w(C * W), dy(x.size()), y(x.size(), NAN), dx(x.size(), NAN), dw(C * W, NAN);
    fill(x), fill(w), fill(dy);
    emu::launch(3, T, [&] { conv_kernel(x.data(), w.data(), y.data(), B, TT, C, W); });
    emu::launch(3, T, [&] { conv_dx_kernel(dy.data(), w.data(), dx.data(), B, TT, C, W); });
    const long nch = 4, chunk = (B * TT + nch - 1) / nch;  // segments that cut across the batch boundary
    std::vector<float> part(nch * C * W, NAN);
    const unsigned gx = (unsigned)((C * W + T - 1) / T);
    emu::launch(Dim3{gx, (unsigned)nch, 1}, Dim3{T, 1, 1},
                [&] { conv_dw_partial(dy.data(), x.data(), part.data(), B, TT, C, W, chunk); });
    emu::launch(gx, T, [&] { conv_dw_final(part.data(), dw.data(), C * W, nch); });
    std::vector<double> ry(x.size(), 0.0), rdx(x.size(), 0.0), rdw(C * W, 0.0);
    for (long b = 0; b < B; ++b)
      for (long t = 0; t < TT; ++t)
        for (long c = 0; c < C; ++c)
          for (long j = 0; j < W; ++j) {
            const long s = t - W + 1 + j;
            if (s < 0) continue;
            ry[(b * TT + t) * C + c] += (double)w[c * W + j] * x[(b * TT + s) * C + c];
            rdx[(b * TT + s) * C + c] += (double)w[c * W + j] * dy[(b * TT + t) * C + c];
            rdw[c * W + j] += (double)dy[(b * TT + t) * C + c] * x[(b * TT + s) * C + c];
          }
    check("conv", ry, y), check("conv backward dx", rdx, dx), check("conv backward dw", rdw, dw);
  }
  {  // transpose of dims 0 and 2 of a [3,4,5] tensor, f32 and 16-bit elements
    const long A = 3, Bd = 4, Cd = 5, n = A * Bd * Cd;
    std::vector<float> x(n), y(n, NAN);
    fill(x);
    Perm p{};
    p.nd = 3;
    p.oshape[0] = Cd, p.oshape[1] = Bd, p.oshape[2] = A;
    p.istride[0] = 1, p.istride[1] = Cd, p.istride[2] = Bd * Cd;
    emu::launch(2, T, [&] { transpose_kernel<uint32_t>((const uint32_t*)x.data(), (uint32_t*)y.data(), n, p); });
    std::vector<uint16_t> x16(n), y16(n, 0xffff);
    for (long i = 0; i < n; ++i) x16[i] = (uint16_t)(i * 37);
    emu::launch(2, T, [&] { transpose_kernel<uint16_t>(x16.data(), y16.data(), n, p); });
    std::vector<double> ry(n);
    long bad16 = 0;
    for (long a = 0; a < A; ++a)
      for (long b = 0; b < Bd; ++b)
        for (long c = 0; c < Cd; ++c) {
          ry[(c * Bd + b) * A + a] = x[(a * Bd + b) * Cd + c];
          bad16 += y16[(c * Bd + b) * A + a] != x16[(a * Bd + b) * Cd + c];
        }
    check("transpose", ry, y, 0.0);
    ok = ok && bad16 == 0;
    std::printf("%s transpose 16-bit: %ld wrong\n", bad16 ? "FAIL" : "ok  ", bad16);
  }
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
