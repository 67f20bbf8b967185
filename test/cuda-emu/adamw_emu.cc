// Runs the fused AdamW kernel (cuda/adamw_kernels.cuh) on the CPU with real threads per block (emu.h) for three
// steps and compares parameters and moments with a float64 AdamW (PyTorch's semantics: decoupled weight decay,
// bias correction). Tensors of awkward lengths, one starting off a 16-byte boundary (the scalar path), and chunks
// smaller than the tensors so one tensor spans blocks. Usage: adamw_emu [threads] [quick]. Exit 1 on a failure.
#include <random>

#include "emu.h"

namespace reclin {
namespace {
#include "adamw_kernels.cuh"
}  // namespace
}  // namespace reclin
using namespace reclin;

int main(int argc, char** argv) {
  const unsigned T = argc > 1 ? (unsigned)std::atoi(argv[1]) : 8;
  const std::vector<long> sizes = {1, 37, 130, 5};
  const long chunk = 48;  // elements per block here (kChunk on the GPU)
  std::mt19937 gen(3);
  std::normal_distribution<float> nrm(0.f, 1.f);
  // one buffer per quantity; tensor i starts at offs[i] (tensor 1 one float past an aligned start)
  std::vector<long> offs;
  long total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    total = (total + 3) / 4 * 4 + (i == 1 ? 1 : 0);
    offs.push_back(total);
    total += sizes[i];
  }
  std::vector<float4> pb((total + 3) / 4 + 1), gb(pb.size()), mb(pb.size()), vb(pb.size());
  float *p = &pb[0].x, *g = &gb[0].x, *m = &mb[0].x, *v = &vb[0].x;
  std::vector<double> pr(total), mr(total, 0.0), vr(total, 0.0);
  for (long i = 0; i < total; ++i) pr[i] = p[i] = nrm(gen), m[i] = v[i] = 0.f;
  const double lr = 1e-2, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
  for (int step = 1; step <= 3; ++step) {
    for (long i = 0; i < total; ++i) g[i] = nrm(gen);
    Hyper h{(float)lr, (float)b1, (float)b2, (float)eps, (float)wd, (float)(1 - std::pow(b1, step)),
            (float)std::sqrt(1 - std::pow(b2, step))};
    std::vector<ChunkDesc> cs;
    for (size_t i = 0; i < sizes.size(); ++i)
      for (long o = offs[i]; o < offs[i] + sizes[i]; o += chunk)
        cs.push_back({p + o, g + o, m + o, v + o, std::min(chunk, offs[i] + sizes[i] - o)});
    emu::launch((unsigned)cs.size(), T, [&] { adamw_kernel(cs.data(), h); });
    for (size_t t = 0; t < sizes.size(); ++t)
      for (long i = offs[t]; i < offs[t] + sizes[t]; ++i) {
        pr[i] -= lr * wd * pr[i];
        mr[i] = b1 * mr[i] + (1 - b1) * g[i];
        vr[i] = b2 * vr[i] + (1 - b2) * (double)g[i] * g[i];
        pr[i] -= lr / (1 - std::pow(b1, step)) * mr[i] / (std::sqrt(vr[i]) / std::sqrt(1 - std::pow(b2, step)) + eps);
      }
  }
  bool ok = true;
  auto cmp = [&](const char* what, const std::vector<double>& ref, const float* x) {
    double num = 0, den = 0;
    for (size_t t = 0; t < sizes.size(); ++t)
      for (long i = offs[t]; i < offs[t] + sizes[t]; ++i) num += (ref[i] - x[i]) * (ref[i] - x[i]), den += ref[i] * ref[i];
    const double e = std::sqrt(num / den);
    ok = ok && e <= 1e-5;
    std::printf("%s adamw %s after 3 steps rmsRel=%.3e\n", e <= 1e-5 ? "ok  " : "FAIL", what, e);
  };
  cmp("params", pr, p), cmp("m", mr, m), cmp("v", vr, v);
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
