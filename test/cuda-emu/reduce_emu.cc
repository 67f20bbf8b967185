// Runs the CUDA reduction kernels (cuda/reduce_kernels.cuh) on the CPU with real threads per block (emu.h) and
// compares each with a float64 reference at awkward sizes: sum over dims, sum of squares, softmax, argmax,
// RMSNorm / L2 norm (+ backward, weight gradient), cross-entropy (+ backward), the bad-target check
// (device_check.cuh) and gradient clipping by the global norm.
// Grids are smaller than the row count so the grid-stride loops run. Usage: reduce_emu [threads] [quick].
// Prints one line per check; exit 1 on a failure.
#include <random>

#include "emu.h"

namespace reclin {
namespace {
#include "reduce_kernels.cuh"
}  // namespace
}  // namespace reclin
using namespace reclin;
#include "check_flow.h"

static unsigned g_threads = 8;  // a power of two: the tree reductions need it
static bool ok = true;

// RMS(ref − x) / RMS(ref), or over RMS(scale) where given: a gradient that cancels to almost nothing (a norm's
// dx at D = 1) is measured against the size of its terms, as fp32 rounding of those terms is all it can resolve.
static double rms_rel(const std::vector<double>& ref, const float* x, const std::vector<double>* scale) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) num += (ref[i] - x[i]) * (ref[i] - x[i]), den += ref[i] * ref[i];
  if (scale) {
    den = 0;
    for (double e : *scale) den += e * e;
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}
static void check(const char* what, long R, long D, const std::vector<double>& ref, const float* x, double tol = 2e-6,
                  const std::vector<double>* scale = nullptr) {
  const double e = rms_rel(ref, x, scale);
  const bool pass = e <= tol;  // NaN fails
  ok = ok && pass;
  std::printf("%s %s R=%ld D=%ld rmsRel=%.3e\n", pass ? "ok  " : "FAIL", what, R, D, e);
}

static void run(long R, long D, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nrm(0.f, 1.f);
  std::vector<float> x(R * D), w(D), dy(R * D);
  for (auto& e : x) e = 3.f * nrm(gen);
  for (auto& e : w) e = 1.f + 0.3f * nrm(gen);
  for (auto& e : dy) e = nrm(gen);
  const unsigned grid = (unsigned)std::max<long>(1, R / 3);
  const unsigned T = g_threads;

  // sum over the last dim ([R,D] -> [R]) and over the first ([R,D] -> [D]), mean scale on the first
  {
    Groups g{};
    g.nk = 1, g.nr = 1, g.ks[0] = R, g.kst[0] = D, g.rs[0] = D, g.rst[0] = 1, g.n_out = R, g.n_red = D;
    std::vector<float> out(R, NAN);
    emu::launch(grid, T, [&] { reduce_kernel(x.data(), out.data(), g, 1.0); });
    std::vector<double> ref(R, 0.0);
    for (long r = 0; r < R; ++r)
      for (long j = 0; j < D; ++j) ref[r] += x[r * D + j];
    check("sum(dim=-1)", R, D, ref, out.data());
    Groups h{};
    h.nk = 1, h.nr = 1, h.ks[0] = D, h.kst[0] = 1, h.rs[0] = R, h.rst[0] = D, h.n_out = D, h.n_red = R;
    std::vector<float> out2(D, NAN);
    emu::launch((unsigned)std::max<long>(1, D / 2), T, [&] { reduce_kernel(x.data(), out2.data(), h, 1.0 / R); });
    std::vector<double> ref2(D, 0.0);
    for (long r = 0; r < R; ++r)
      for (long j = 0; j < D; ++j) ref2[j] += (double)x[r * D + j] / R;
    check("mean(dim=0)", R, D, ref2, out2.data());
    // the same through the coalesced column path reduce.cu takes when outputs are contiguous (segments of the
    // reduced range in parallel, then in order); and [A,B,C] -> [A,1,C], two kept groups around a reduced one
    auto cols = [&](const Groups& gg, float scale, std::vector<float>& o) {
      const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(cols_chunk(gg.n_out, gg.n_red), (gg.n_red + 2) / 3));
      const int64_t nch = (gg.n_red + chunk - 1) / chunk;
      std::vector<float> part(nch * gg.n_out, NAN);
      emu::launch(Dim3{(unsigned)((gg.n_out + T - 1) / T), (unsigned)nch, 1}, Dim3{T, 1, 1}, [&] { reduce_cols_partial(x.data(), part.data(), gg, chunk); });
      emu::launch((unsigned)std::max<int64_t>(1, gg.n_out / (2 * T)), T, [&] { reduce_cols_final(part.data(), o.data(), gg.n_out, nch, scale); });
    };
    std::vector<float> out3(D, NAN);
    cols(h, 1.f / R, out3);
    check("mean(dim=0), column segments", R, D, ref2, out3.data());
    if (D % 3 == 0 || D % 5 == 0) {
      const long C3 = D % 3 == 0 ? 3 : 5, B3 = D / C3;  // x as [R, B3, C3], keep R and C3
      Groups k{};
      k.nk = 2, k.nr = 1, k.ks[0] = R, k.kst[0] = D, k.ks[1] = C3, k.kst[1] = 1, k.rs[0] = B3, k.rst[0] = C3;
      k.n_out = R * C3, k.n_red = B3;
      std::vector<float> out4(R * C3, NAN);
      cols(k, 1.f, out4);
      std::vector<double> ref4(R * C3, 0.0);
      for (long r = 0; r < R; ++r)
        for (long b = 0; b < B3; ++b)
          for (long c = 0; c < C3; ++c) ref4[r * C3 + c] += x[r * D + b * C3 + c];
      check("sum(dim=1) of [R,B,C], column segments", R, D, ref4, out4.data());
    }
  }
  // sum of squares: partials per block, then one block sums them in order
  {
    const unsigned nb = 5;
    std::vector<float> part(nb + 1, 0.f);
    emu::launch(nb, T, [&] { sumsq_partial(x.data(), R * D, part.data()); });
    emu::launch(1, T, [&] { sum_in_order(part.data(), nb, part.data() + nb); });
    double ref = 0;
    for (float e : x) ref += (double)e * e;
    const float got = part[nb];
    check("sumSquares", R, D, {ref}, &got);
  }
  // softmax and argmax over the last dim (a tie planted in row 0)
  {
    std::vector<float> y(R * D, NAN);
    emu::launch(grid, T, [&] { softmax_kernel(x.data(), y.data(), R, D); });
    std::vector<double> ref(R * D);
    for (long r = 0; r < R; ++r) {
      double m = -INFINITY, s = 0;
      for (long j = 0; j < D; ++j) m = std::max(m, (double)x[r * D + j]);
      for (long j = 0; j < D; ++j) s += std::exp(x[r * D + j] - m);
      for (long j = 0; j < D; ++j) ref[r * D + j] = std::exp(x[r * D + j] - m) / s;
    }
    check("softmax", R, D, ref, y.data());
    std::vector<float> xt(x);
    if (D > 2) xt[D - 1] = xt[1] = 100.f;
    std::vector<int32_t> am(R, -1);
    emu::launch(grid, T, [&] { argmax_kernel(xt.data(), am.data(), R, D); });
    long bad = 0;
    for (long r = 0; r < R; ++r) {
      long b = 0;
      for (long j = 1; j < D; ++j)
        if (xt[r * D + j] > xt[r * D + b]) b = j;
      bad += am[r] != b;
    }
    ok = ok && bad == 0;
    std::printf("%s argmax R=%ld D=%ld wrong rows=%ld\n", bad ? "FAIL" : "ok  ", R, D, bad);
  }
  // RMSNorm (weighted) and L2 norm, forward and backward, and RMSNorm's weight gradient
  for (int mode = 0; mode < 2; ++mode) {
    const double eps = 1e-6;
    const float* wp = mode == 0 ? w.data() : nullptr;
    std::vector<float> y(R * D, NAN), rs(R, NAN), dx(R * D, NAN);
    emu::launch(grid, T, [&] { norm_kernel(x.data(), wp, y.data(), rs.data(), R, D, eps, mode); });
    emu::launch(grid, T, [&] { norm_bwd_kernel(dy.data(), mode == 0 ? x.data() : y.data(), wp, rs.data(), dx.data(), R, D, mode); });
    std::vector<double> yr(R * D), dxr(R * D), dwr(D, 0.0), terms(R * D);
    for (long r = 0; r < R; ++r) {
      double ss = 0, dot = 0;
      for (long j = 0; j < D; ++j) ss += (double)x[r * D + j] * x[r * D + j];
      const double s = 1.0 / std::sqrt(mode == 0 ? ss / D + eps : ss + eps);
      for (long j = 0; j < D; ++j) {
        const double wj = wp ? w[j] : 1.0;
        yr[r * D + j] = x[r * D + j] * s * wj;
        dot += dy[r * D + j] * wj * x[r * D + j];
        dwr[j] += dy[r * D + j] * x[r * D + j] * s;
      }
      // d/dx of x·s(x)·w: s·(dy·w − x·s²·dot/D) for RMSNorm, s·(dy − x·s²·dot) for the L2 norm
      for (long j = 0; j < D; ++j) {
        dxr[r * D + j] = s * (dy[r * D + j] * (wp ? w[j] : 1.0) - x[r * D + j] * s * s * dot / (mode == 0 ? D : 1));
        terms[r * D + j] = s * dy[r * D + j] * (wp ? w[j] : 1.0);
      }
    }
    check(mode == 0 ? "rmsnorm" : "l2norm", R, D, yr, y.data());
    check(mode == 0 ? "rmsnorm backward dx" : "l2norm backward dx", R, D, dxr, dx.data(), 1e-5, &terms);
    if (mode == 0) {
      const long nch = std::max<long>(1, std::min<long>(R, 4)), chunk = (R + nch - 1) / nch;
      std::vector<float> part(nch * D, NAN);
      std::vector<float> dw(D, NAN);
      emu::launch(Dim3{(unsigned)((D + T - 1) / T), (unsigned)nch, 1}, Dim3{T, 1, 1},
                  [&] { rms_dw_partial(dy.data(), x.data(), rs.data(), part.data(), R, D, chunk); });
      emu::launch((unsigned)((D + T - 1) / T), T, [&] { rms_dw_final(part.data(), dw.data(), D, nch); });
      check("rmsnorm backward dw", R, D, dwr, dw.data(), 1e-5);
    }
  }
  // cross-entropy with ignored rows, its backward, and the bad-target check
  {
    const long ignore = -100;
    std::vector<int32_t> t(R);
    for (long r = 0; r < R; ++r) t[r] = r % 4 == 3 ? ignore : (int32_t)((r * 7 + 3) % D);
    std::vector<float> loss(R, NAN), lse(R, NAN), g(R), dx(R * D, NAN);
    for (auto& e : g) e = nrm(gen);
    emu::launch(grid, T, [&] { ce_kernel(x.data(), t.data(), loss.data(), lse.data(), R, D, ignore); });
    emu::launch(grid, T, [&] { ce_bwd_kernel(g.data(), x.data(), t.data(), lse.data(), dx.data(), R, D, ignore); });
    std::vector<double> lr(R), dxr(R * D);
    for (long r = 0; r < R; ++r) {
      double m = -INFINITY, s = 0;
      for (long j = 0; j < D; ++j) m = std::max(m, (double)x[r * D + j]);
      for (long j = 0; j < D; ++j) s += std::exp(x[r * D + j] - m);
      const double l = m + std::log(s);
      lr[r] = t[r] == ignore ? 0 : l - x[r * D + t[r]];
      for (long j = 0; j < D; ++j)
        dxr[r * D + j] = t[r] == ignore ? 0 : g[r] * (std::exp(x[r * D + j] - l) - (j == t[r]));
    }
    check("crossEntropy", R, D, lr, loss.data());
    check("crossEntropy backward", R, D, dxr, dx.data(), 1e-5);
    std::vector<int32_t> tb(t);
    tb[R - 1] = (int32_t)D;
    if (R > 2) tb[R / 2] = -1;
    const long want = R > 2 ? R / 2 : R - 1;
    CheckRecord rec = fresh_record();
    auto flag = [&](const std::vector<int32_t>& tt) { return [&](unsigned long long* first) { bad_target_kernel(tt.data(), R, D, ignore, first); }; };
    run_check(rec, T, flag(t), kCheckTargetsForward, t.data(), true, CheckDims{{R}, 1}, D, ignore);
    ok = expect_record("targets (good)", rec, kCheckNone, 0, 0) && ok;
    run_check(rec, T, flag(tb), kCheckTargetsForward, tb.data(), true, CheckDims{{R}, 1}, D, ignore);
    ok = expect_record("targets", rec, kCheckTargetsForward, want, tb[want]) && ok;
    // bad targets give NaN losses (and no read out of bounds) until the check is reported
    std::vector<float> lb(R, 0.f);
    emu::launch(grid, T, [&] { ce_kernel(x.data(), tb.data(), lb.data(), lse.data(), R, D, ignore); });
    const bool nan_ok = std::isnan(lb[R - 1]) && std::isnan(lb[want]);
    ok = ok && nan_ok;
    std::printf("%s crossEntropy with bad targets gives NaN there\n", nan_ok ? "ok  " : "FAIL");
  }
  // clipping by the global norm: sqrt of the in-order sum, and the scale applied on the device
  {
    std::vector<float> part(3 + 1, 0.f), norm(1, NAN), gx(x);
    emu::launch(3, T, [&] { sumsq_partial(x.data(), R * D, part.data()); });
    emu::launch(1, T, [&] { sum_in_order(part.data(), 3, part.data() + 3); });
    emu::launch(1, 1, [&] { sqrt_scalar_kernel(part.data() + 3, norm.data()); });
    double ss = 0;
    for (float e : x) ss += (double)e * e;
    const double n = std::sqrt(ss), maxn = n / 2;
    check("clip norm", R, D, {n}, norm.data());
    emu::launch(2, T, [&] { clip_scale_kernel(gx.data(), R * D, norm.data(), (float)maxn); });
    std::vector<double> ref(R * D);
    for (long i = 0; i < R * D; ++i) ref[i] = x[i] * (maxn / (n + 1e-6));
    check("clip scale", R, D, ref, gx.data());
    std::vector<float> same(x);
    emu::launch(2, T, [&] { clip_scale_kernel(same.data(), R * D, norm.data(), (float)(2 * n)); });
    const bool unchanged = same == x;
    ok = ok && unchanged;
    std::printf("%s clip below the limit leaves grads unchanged\n", unchanged ? "ok  " : "FAIL");
  }
}

int main(int argc, char** argv) {
  if (argc > 1) g_threads = (unsigned)std::atoi(argv[1]);
  const bool quick = argc > 2 && std::string(argv[2]) == "quick";
  run(10, 37, 1);
  if (!quick) {
    run(1, 1, 2);
    run(7, 300, 3);
    run(33, 5, 4);
    run(2, 20000, 5);  // long rows: the fp32 compensated sums must stay within the same tolerance
  }
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
