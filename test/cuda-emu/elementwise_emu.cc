// Runs the CUDA elementwise kernels (cuda/elementwise_kernels.cuh) on the CPU with real threads per block (emu.h)
// and compares them with float64 formulas: broadcasting add/sub/mul/div, every unary map, the activation
// backwards and SwiGLU (+ backward), the in-place axpy and scale, and the f32 <-> bf16 casts. Grids smaller than the work so the
// grid-stride loops run. Usage: elementwise_emu [threads]. Exit 1 on a failure.
#include <random>

#include "emu.h"

namespace reclin {
namespace {
#include "elementwise_kernels.cuh"
}  // namespace
}  // namespace reclin
using namespace reclin;

static bool ok = true;
static void check(const std::string& what, const std::vector<double>& ref, const std::vector<float>& x, double tol = 2e-6) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) num += (ref[i] - x[i]) * (ref[i] - x[i]), den += ref[i] * ref[i];
  const double e = den == 0 ? std::sqrt(num) : std::sqrt(num / den);  // NaN (an unwritten output) fails
  ok = ok && e <= tol;
  std::printf("%s %s rmsRel=%.3e\n", e <= tol ? "ok  " : "FAIL", what.c_str(), e);
}
static double sig(double x) { return 1 / (1 + std::exp(-x)); }

int main(int argc, char** argv) {
  const unsigned T = argc > 1 ? (unsigned)std::atoi(argv[1]) : 8;
  std::mt19937 gen(9);
  std::normal_distribution<float> nrm(0.f, 1.f);
  const long n = 61;
  std::vector<float> x(n), y(n), d(n);
  for (long i = 0; i < n; ++i) x[i] = 4.f * nrm(gen), y[i] = nrm(gen), d[i] = nrm(gen);
  x[3] = 25.f;  // above softplus' threshold
  {  // [3,1,5] op [4,1] -> [3,4,5]
    std::vector<float> a(15), b(4);
    for (auto& e : a) e = nrm(gen);
    for (auto& e : b) e = 1.5f + nrm(gen) * 0.1f;
    Bcast bc{};
    bc.nd = 3;
    bc.dims[0] = 3, bc.dims[1] = 4, bc.dims[2] = 5;
    bc.sa[0] = 5, bc.sa[1] = 0, bc.sa[2] = 1;
    bc.sb[0] = 0, bc.sb[1] = 1, bc.sb[2] = 0;
    const char* names[] = {"add", "sub", "mul", "div"};
    for (int op = ADD; op <= DIV; ++op) {
      std::vector<float> o(60, NAN);
      emu::launch(2, T, [&] { binary_kernel(a.data(), b.data(), o.data(), 60, bc, op); });
      std::vector<double> r(60);
      for (long i = 0; i < 3; ++i)
        for (long j = 0; j < 4; ++j)
          for (long k = 0; k < 5; ++k) {
            const double p = a[i * 5 + k], q = b[j];
            r[(i * 4 + j) * 5 + k] = op == ADD ? p + q : op == SUB ? p - q : op == MUL ? p * q : p / q;
          }
      check(std::string("binary ") + names[op] + " broadcast [3,1,5],[4,1]", r, o);
    }
  }
  const char* unames[] = {"scale", "addScalar", "neg", "exp", "log", "sqrt", "square", "tanh", "sigmoid", "silu", "softplus"};
  for (int op = SCALE; op <= SOFTPLUS; ++op) {
    std::vector<float> in(x);
    if (op == LOG || op == SQRT)
      for (auto& e : in) e = std::fabs(e) + 0.1f;
    std::vector<float> o(n, NAN);
    emu::launch(3, T, [&] { unary_kernel(in.data(), o.data(), n, op, 0.7f); });
    std::vector<double> r(n);
    for (long i = 0; i < n; ++i) {
      const double v = in[i];
      const double vals[] = {v * 0.7f, v + 0.7f, -v, std::exp(v), std::log(v), std::sqrt(v), v * v, std::tanh(v),
                             sig(v), v * sig(v), v > 20 ? v : std::log1p(std::exp(v))};
      r[i] = vals[op];
    }
    check(std::string("unary ") + unames[op], r, o);
  }
  {
    std::vector<float> s(n);  // sigmoid outputs for op 0
    for (long i = 0; i < n; ++i) s[i] = (float)sig(x[i]);
    const char* mnames[] = {"sigmoid backward", "silu backward", "softplus backward", "swiglu"};
    for (int op = 0; op < 4; ++op) {
      std::vector<float> o(n, NAN);
      const std::vector<float>& a = op == 3 ? x : d;
      const std::vector<float>& b = op == 0 ? s : op == 3 ? y : x;
      emu::launch(3, T, [&] { map2_kernel(a.data(), b.data(), o.data(), n, op); });
      std::vector<double> r(n);
      for (long i = 0; i < n; ++i) {
        const double g = a[i], t = b[i];
        r[i] = op == 0 ? g * t * (1 - t) : op == 1 ? g * (sig(t) * (1 + t * (1 - sig(t)))) : op == 2 ? (t > 20 ? g : g * sig(t)) : g * sig(g) * t;
      }
      check(mnames[op], r, o);
    }
    std::vector<float> dg(n, NAN), du(n, NAN);
    emu::launch(3, T, [&] { swiglu_bwd_kernel(d.data(), x.data(), y.data(), dg.data(), du.data(), n); });
    std::vector<double> rg(n), ru(n);
    for (long i = 0; i < n; ++i) {
      const double g = x[i], sg = sig(g);
      ru[i] = d[i] * g * sg, rg[i] = d[i] * y[i] * sg * (1 + g * (1 - sg));
    }
    check("swiglu backward dGate", rg, dg), check("swiglu backward dUp", ru, du);
  }
  for (float alpha : {1.f, -0.5f}) {
    std::vector<float> dst(x);
    emu::launch(3, T, [&] { axpy_kernel(dst.data(), y.data(), alpha, n); });
    std::vector<double> r(n);
    for (long i = 0; i < n; ++i) r[i] = x[i] + (double)alpha * y[i];
    check("addInPlace alpha=" + std::to_string(alpha), r, dst);
  }
  {
    std::vector<float> dst(x);
    emu::launch(3, T, [&] { scale_kernel(dst.data(), 0.3f, n); });
    std::vector<double> r(n);
    for (long i = 0; i < n; ++i) r[i] = x[i] * (double)0.3f;
    check("scaleInPlace", r, dst);
  }
  {  // cast f32 -> bf16 -> f32 against the nearest bf16 chosen in double (ties to an even mantissa), specials kept
    std::vector<float> x;
    for (int i = 0; i < 200; ++i) x.push_back(nrm(gen) * std::pow(10.f, (float)(i % 9 - 4)));
    for (uint32_t bits : {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x7f7fffffu, 0x00000001u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00001u}) {
      float f;
      std::memcpy(&f, &bits, 4);
      x.push_back(f);  // exact ties both ways, the largest float (rounds to inf), a denormal, -0, infinities, a NaN
    }
    const int64_t m = (int64_t)x.size();
    std::vector<uint16_t> h(m, 0);
    std::vector<float> back(m, NAN);
    emu::launch(3, T, [&] { to_bf16_kernel(x.data(), h.data(), m); });
    emu::launch(2, T, [&] { from_bf16_kernel(h.data(), back.data(), m); });
    long wrong = 0;
    for (int64_t i = 0; i < m; ++i) {
      uint32_t b;
      std::memcpy(&b, &x[i], 4);
      float want;
      if (std::isnan(x[i])) want = NAN;
      else {
        const uint32_t lo = b & 0xffff0000u, hi = lo + 0x10000u;  // the bf16 neighbours toward and away from zero
        float fl, fh;
        std::memcpy(&fl, &lo, 4);
        std::memcpy(&fh, &hi, 4);
        // past the largest bf16 the upper neighbour is infinity, at distance as if it were 2^128 (IEEE overflow)
        const double dh_at = std::isinf(fh) ? std::copysign(std::ldexp(1.0, 128), (double)fh) : (double)fh;
        const double dl = std::fabs((double)x[i] - fl), dh = std::isinf(fl) ? INFINITY : std::fabs((double)x[i] - dh_at);
        want = dl < dh ? fl : dh < dl ? fh : (((lo >> 16) & 1u) ? fh : fl);
      }
      const bool same = std::isnan(want) ? std::isnan(back[i]) : std::memcmp(&want, &back[i], 4) == 0;
      wrong += !same;
    }
    ok = ok && wrong == 0;
    std::printf("%s cast f32 -> bf16 -> f32: %ld of %ld wrong\n", wrong ? "FAIL" : "ok  ", wrong, (long)m);
  }
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
