// KDA (Kimi Delta Attention) on CUDA: chunked forward and backward (docs/design/kda.md §3, §4.2), the GPU twin of
// native/kda.cc with the same arguments and results:
//   kdaForwardCuda(q, k, v, g, beta, { scale, initialState, chunkSize })          -> { o, finalState }
//   kdaBackwardCuda(q, k, v, g, beta, dO, { scale, initialState, dFinalState, chunkSize })
//                                                 -> { dq, dk, dv, dg, dbeta, dInitialState (null without h0) }
// Layouts: q, k, g [B,T,H,K]; v, o, dO [B,T,H,V]; beta [B,T,H]; states [B,H,K,V]; all on one cuda device.
// dtypes: g, initialState, dFinalState f32; q/k (same dtype), v/dO (same dtype) and beta each f32 or bf16, and
// every output is stored like its input (o like v, dq/dk like q, dv like v, dbeta like beta; dg and the states
// f32). Arithmetic, the running state and all scratch are f32 whatever the storage.
//
// This is the clear SIMT version (no tensor cores yet): every quantity is computed element by element with
// grid-stride loops, in the same order of steps as the CPU code, so each kernel can be read beside its formula.
// Every decay factor is exp(Γ_r − Γ_i) with r >= i, taken directly per entry, so no exponent is ever positive
// (docs/design/kda.md §3.1: the diagonal-block rule applied to the whole chunk; the cheaper reference-point
// factorisation into matrix products is the next step together with tensor cores).
//
// Kernels (one block per chunk unless stated):
//   intra      Γ, Qg = s·q⊙γ, K̄ = k⊙γ_C/γ, A, L and X = [W U] = (I+L)⁻¹[β·k⊙γ, β·v] (forward substitution)
//   state_fwd  one block per (b, h, 32-column V tile), sequential over chunks: S0 of every chunk, Ṽ = U − W·S0,
//              S ← diag(γ_C)·S + K̄ᵀ·Ṽ, the final state
//   output     O = Qg·S0 + A·Ṽ
//   dA         dA = tril(dO·Ṽᵀ), dṼ = Aᵀ·dO (intra part)
//   state_bwd  reverse over chunks: dṼ += K̄·dS1, dS0 = diag(γ_C)·dS1 + Qgᵀ·dO − Wᵀ·dṼ
//   bwd_chunk  everything else of §4.2 steps 4–7 for one chunk (inter and intra gradients, WY backward, dg)
// A partial last chunk behaves as if zero padded (q = k = v = β = g = dO = 0 beyond T), as on the CPU.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_util.cuh"
#include "fused_rules.h"

namespace reclin {
namespace {

#include "kda_kernels.cuh"
#include "device_check.cuh"

// ---- host side ----------------------------------------------------------------------------------------------

struct Problem {
  Dims D;
  Device dev;
  Tensor q, k, v, g, beta, h0;
};

// g <= 0 everywhere (NaN fails), checked on the device: the first offender is reported at the next synchronisation.
void check_gates(const Tensor& g, cudaStream_t st, CheckCode code) {
  const long n = static_cast<long>(g.numel());
  if (n == 0) return;
  CheckRecord* rec = check_slot(g.device.index);
  kda_find_positive<<<blocks_for(n), 256, 0, st>>>(cf(g), n, &rec->first);
  launch_check("kda_find_positive");
  finish_check(rec, st, code, g.raw(), false, check_dims(g.shape));
}

// What the CUDA kernels accept (fused_rules.h holds the rules both backends share): bf16 storage of q/k, v/dO and
// beta, head dimensions up to kMaxDim, B*H within one grid dimension and the chunks within one launch.
constexpr KdaLimits kCudaLimits{DeviceKind::CUDA, true, kMaxDim, 65535, 0x7fffffffLL};

Problem read_problem(const Napi::CallbackInfo& info, const Napi::Object& opts, bool backward, KdaTensors& a) {
  a.q = arg_tensor(info, 0, "q"), a.k = arg_tensor(info, 1, "k"), a.v = arg_tensor(info, 2, "v");
  a.g = arg_tensor(info, 3, "g"), a.beta = arg_tensor(info, 4, "beta");
  a.h0 = opt_tensor(opts, "initialState");
  if (backward) a.dO = arg_tensor(info, 5, "dO"), a.dht = opt_tensor(opts, "dFinalState");
  const KdaDims d = kda_rules(a, opts, kCudaLimits, backward);
  Problem P;
  P.dev = a.q.device;
  P.q = a.q, P.k = a.k, P.v = a.v, P.g = a.g, P.beta = a.beta, P.h0 = a.h0;
  P.D.B = static_cast<int>(d.B), P.D.T = static_cast<int>(d.T), P.D.H = static_cast<int>(d.H);
  P.D.K = static_cast<int>(d.K), P.D.V = static_cast<int>(d.V), P.D.C = static_cast<int>(d.C);
  P.D.NT = static_cast<int>((d.T + d.C - 1) / d.C);
  P.D.scale = static_cast<float>(d.scale);
  return P;
}

bool empty_problem(const Dims& D) { return D.B == 0 || D.T == 0 || D.H == 0 || D.K == 0 || D.V == 0; }

// Carves the scratch arrays out of one device allocation (returned to the caching allocator afterwards;
// every later user of the block is queued behind these kernels on the device's one stream).
Tensor make_scratch(const Dims& D, const Device& dev, bool backward, Scratch& s) {
  const long NCh = static_cast<long>(D.B) * D.H * D.NT;
  const long CK = (long)D.C * D.K, CC = (long)D.C * D.C, CX = (long)D.C * (D.K + D.V), CV = (long)D.C * D.V,
             KV = (long)D.K * D.V;
  struct Slot {
    float** p;
    long n;
  } fwd[] = {{&s.Qg, CK}, {&s.Kb, CK}, {&s.A, CC}, {&s.L, CC}, {&s.X, CX}, {&s.Vt, CV}, {&s.S0, KV}},
    bwd[] = {{&s.dA, CC}, {&s.dVt, CV}, {&s.dS1, KV}, {&s.Y, CX}, {&s.dL, CC}, {&s.dGm, CK}, {&s.pb, CK}, {&s.pk, CK}};
  s = Scratch{};
  long total = 2 * CK * NCh;  // Γ first: a pair of floats per entry (the block is 512-byte aligned)
  for (auto& sl : fwd) total += sl.n * NCh;
  if (backward)
    for (auto& sl : bwd) total += sl.n * NCh;
  Tensor mem = empty({total}, DType::F32, dev);
  float* base = mf(mem);
  s.G = reinterpret_cast<Gam*>(base);
  long off = 2 * CK * NCh;
  for (auto& sl : fwd) *sl.p = base + off, off += sl.n * NCh;
  if (backward)
    for (auto& sl : bwd) *sl.p = base + off, off += sl.n * NCh;
  return mem;
}

void run_forward_passes(const Problem& P, const Scratch& s, const Inputs& in, float* ht, cudaStream_t st) {
  const Dims& D = P.D;
  const unsigned nch = static_cast<unsigned>(static_cast<long>(D.B) * D.H * D.NT);
  kda_intra<<<nch, kThreads, 0, st>>>(D, in, s);
  launch_check("kda_intra");
  dim3 sgrid((D.V + kVT - 1) / kVT, D.B * D.H);
  kda_state_fwd<<<sgrid, kThreads, 0, st>>>(D, P.h0.defined() ? cf(P.h0) : nullptr, ht, s);
  launch_check("kda_state_fwd");
}

Inputs inputs_of(const Problem& P) {
  Inputs in{};
  in.q = P.q.raw(), in.k = P.k.raw(), in.v = P.v.raw(), in.beta = P.beta.raw(), in.dO = nullptr, in.g = cf(P.g);
  in.bq = P.q.dtype == DType::BF16, in.bv = P.v.dtype == DType::BF16, in.bb = P.beta.dtype == DType::BF16;
  return in;
}

Napi::Value KdaForwardCuda(const Napi::CallbackInfo& info) {
  Napi::Object opts = arg_object(info, 5, "options");
  KdaTensors args;
  Problem P = read_problem(info, opts, false, args);
  const Dims& D = P.D;
  cudaStream_t st = stream_for(P.dev.index);
  Tensor o = empty({D.B, D.T, D.H, D.V}, P.v.dtype, P.dev);
  Tensor ht = empty({D.B, D.H, D.K, D.V}, DType::F32, P.dev);
  if (empty_problem(D)) {
    if (ht.nbytes()) {
      if (P.h0.defined()) cuda_check(cudaMemcpyAsync(ht.raw(), P.h0.raw(), ht.nbytes(), cudaMemcpyDeviceToDevice, st), "cudaMemcpyAsync");
      else cuda_check(cudaMemsetAsync(ht.raw(), 0, ht.nbytes(), st), "cudaMemsetAsync");
    }
  } else {
    check_gates(P.g, st, kCheckKdaGateForward);
    Scratch s;
    Tensor mem = make_scratch(D, P.dev, false, s);
    const Inputs in = inputs_of(P);
    run_forward_passes(P, s, in, mf(ht), st);
    kda_output<<<static_cast<unsigned>(static_cast<long>(D.B) * D.H * D.NT), kThreads, 0, st>>>(D, s, o.raw(), in.bv);
    launch_check("kda_output");
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("o", wrap(info.Env(), o));
  out.Set("finalState", wrap(info.Env(), ht));
  return out;
}
RECLIN_EXPORT("kdaForwardCuda", KdaForwardCuda)

Napi::Value KdaBackwardCuda(const Napi::CallbackInfo& info) {
  Napi::Object opts = arg_object(info, 6, "options");
  KdaTensors args;
  Problem P = read_problem(info, opts, true, args);
  const Dims& D = P.D;
  const Tensor &dO = args.dO, &dht = args.dht;
  cudaStream_t st = stream_for(P.dev.index);
  // gradients are stored like their inputs (dq, dk like q; dv like v; dbeta like beta); dg and dh0 in f32
  Tensor dq = empty({D.B, D.T, D.H, D.K}, P.q.dtype, P.dev), dk = empty({D.B, D.T, D.H, D.K}, P.q.dtype, P.dev);
  Tensor dg = empty({D.B, D.T, D.H, D.K}, DType::F32, P.dev), dv = empty({D.B, D.T, D.H, D.V}, P.v.dtype, P.dev);
  Tensor dbeta = empty({D.B, D.T, D.H}, P.beta.dtype, P.dev);
  Tensor dh0;
  if (P.h0.defined()) dh0 = empty({D.B, D.H, D.K, D.V}, DType::F32, P.dev);
  if (empty_problem(D)) {
    for (const Tensor* t : {&dq, &dk, &dg, &dv, &dbeta})
      if (t->nbytes()) cuda_check(cudaMemsetAsync(t->raw(), 0, t->nbytes(), st), "cudaMemsetAsync");
    if (dh0.defined() && dh0.nbytes()) {
      if (dht.defined()) cuda_check(cudaMemcpyAsync(dh0.raw(), dht.raw(), dh0.nbytes(), cudaMemcpyDeviceToDevice, st), "cudaMemcpyAsync");
      else cuda_check(cudaMemsetAsync(dh0.raw(), 0, dh0.nbytes(), st), "cudaMemsetAsync");
    }
  } else {
    check_gates(P.g, st, kCheckKdaGateBackward);
    Scratch s;
    Tensor mem = make_scratch(D, P.dev, true, s);
    Inputs in = inputs_of(P);
    in.dO = dO.raw();
    run_forward_passes(P, s, in, nullptr, st);
    const unsigned nch = static_cast<unsigned>(static_cast<long>(D.B) * D.H * D.NT);
    kda_dA<<<nch, kThreads, 0, st>>>(D, in, s);
    launch_check("kda_dA");
    dim3 sgrid((D.V + kVT - 1) / kVT, D.B * D.H);
    kda_state_bwd<<<sgrid, kThreads, 0, st>>>(D, in, dht.defined() ? cf(dht) : nullptr,
                                              dh0.defined() ? mf(dh0) : nullptr, s);
    launch_check("kda_state_bwd");
    kda_bwd_chunk<<<nch, kThreads, 0, st>>>(D, in, s, Grads{dq.raw(), dk.raw(), dv.raw(), dbeta.raw(), mf(dg)});
    launch_check("kda_bwd_chunk");
  }
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("dq", wrap(env, dq));
  out.Set("dk", wrap(env, dk));
  out.Set("dv", wrap(env, dv));
  out.Set("dg", wrap(env, dg));
  out.Set("dbeta", wrap(env, dbeta));
  out.Set("dInitialState", dh0.defined() ? wrap(env, dh0) : env.Null());
  return out;
}
RECLIN_EXPORT("kdaBackwardCuda", KdaBackwardCuda)

}  // namespace
}  // namespace reclin
