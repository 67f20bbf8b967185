// Runs the CUDA causal attention kernels (cuda/attention_kernels.cuh) on the CPU with their 128 real threads per
// block (emu.h; the warp sums are real shuffles across 32 threads) and compares o, lse, dq, dk and dv with a
// float64 softmax attention. D and Dv above 32 so lanes hold several entries, row counts not a multiple of the
// 4 rows per block. Usage: attention_emu [ignored] [quick]. Exit 1 on a failure.
#include <random>

#include "emu.h"

namespace reclin {
namespace {
#include "attention_kernels.cuh"
}  // namespace
}  // namespace reclin
using namespace reclin;

static bool ok = true;
static void check(const char* what, const Dims& d, const std::vector<double>& ref, const std::vector<float>& x) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) num += (ref[i] - x[i]) * (ref[i] - x[i]), den += ref[i] * ref[i];
  const double e = std::sqrt(num / den);  // NaN (an unwritten output) fails
  const bool pass = e <= 1e-5;
  ok = ok && pass;
  std::printf("%s attention %s B=%ld T=%ld H=%ld D=%ld Dv=%ld rmsRel=%.3e\n", pass ? "ok  " : "FAIL", what, (long)d.B, (long)d.T,
              (long)d.H, (long)d.D, (long)d.Dv, e);
}

static void run(Dims d, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nrm(0.f, 1.f);
  const long B = d.B, T = d.T, H = d.H, D = d.D, Dv = d.Dv;
  std::vector<float> q(B * T * H * D), k(q.size()), v(B * T * H * Dv), dO(v.size());
  for (auto* x : {&q, &k, &v, &dO})
    for (auto& e : *x) e = nrm(gen);
  const float scale = 1.f / std::sqrt((float)D);
  std::vector<float> o(v.size(), NAN), lse(B * H * T, NAN), delta(lse.size(), NAN), dq(q.size(), NAN), dk(q.size(), NAN),
      dv(v.size(), NAN);
  const unsigned grid = (unsigned)((B * H * T + kWarps - 1) / kWarps), threads = 32 * kWarps;
  emu::launch(grid, threads, [&] { attn_fwd_kernel(q.data(), k.data(), v.data(), o.data(), lse.data(), d, scale); });
  emu::launch(grid, threads, [&] { attn_delta_kernel(dO.data(), o.data(), delta.data(), d); });
  emu::launch(grid, threads, [&] { attn_dq_kernel(dO.data(), q.data(), k.data(), v.data(), lse.data(), delta.data(), dq.data(), d, scale); });
  emu::launch(grid, threads, [&] {
    attn_dkv_kernel(dO.data(), q.data(), k.data(), v.data(), lse.data(), delta.data(), dk.data(), dv.data(), d, scale);
  });
  std::vector<double> ro(o.size(), 0.0), rl(lse.size()), rdq(q.size(), 0.0), rdk(q.size(), 0.0), rdv(v.size(), 0.0);
  auto R = [&](long b, long t, long h) { return (b * T + t) * H + h; };
  for (long b = 0; b < B; ++b)
    for (long h = 0; h < H; ++h)
      for (long i = 0; i < T; ++i) {
        std::vector<double> s(i + 1), p(i + 1), dp(i + 1);
        double m = -INFINITY, z = 0, Di = 0;
        for (long j = 0; j <= i; ++j) {
          double x = 0;
          for (long e = 0; e < D; ++e) x += (double)q[R(b, i, h) * D + e] * k[R(b, j, h) * D + e];
          s[j] = scale * x, m = std::max(m, s[j]);
        }
        for (long j = 0; j <= i; ++j) z += std::exp(s[j] - m);
        rl[(b * H + h) * T + i] = m + std::log(z);
        for (long j = 0; j <= i; ++j) {
          p[j] = std::exp(s[j] - m) / z;
          for (long e = 0; e < Dv; ++e) ro[R(b, i, h) * Dv + e] += p[j] * v[R(b, j, h) * Dv + e];
        }
        for (long e = 0; e < Dv; ++e) Di += dO[R(b, i, h) * Dv + e] * ro[R(b, i, h) * Dv + e];
        for (long j = 0; j <= i; ++j) {
          double x = 0;
          for (long e = 0; e < Dv; ++e) x += (double)dO[R(b, i, h) * Dv + e] * v[R(b, j, h) * Dv + e];
          const double ds = p[j] * (x - Di);
          for (long e = 0; e < D; ++e) {
            rdq[R(b, i, h) * D + e] += scale * ds * k[R(b, j, h) * D + e];
            rdk[R(b, j, h) * D + e] += scale * ds * q[R(b, i, h) * D + e];
          }
          for (long e = 0; e < Dv; ++e) rdv[R(b, j, h) * Dv + e] += p[j] * dO[R(b, i, h) * Dv + e];
        }
      }
  check("o", d, ro, o), check("lse", d, rl, lse), check("dq", d, rdq, dq), check("dk", d, rdk, dk), check("dv", d, rdv, dv);
}

int main(int argc, char** argv) {
  const bool quick = argc > 2 && std::string(argv[2]) == "quick";
  run(Dims{1, 13, 2, 40, 33}, 1);
  if (!quick) run(Dims{2, 5, 1, 7, 70}, 2);
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
