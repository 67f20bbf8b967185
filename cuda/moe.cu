// Mixture-of-experts FFN on CUDA, the twins of native/moe.cc (same arguments, layouts, formulas and errors; the CPU op
// is the reference): moeRouteCuda, moeRouteBackwardCuda, moeExpertsCuda, moeExpertsBackwardCuda.
// The experts run expert-major as on the CPU: a stable counting sort of the N·k assignments by expert on the device
// (moe_kernels.cuh), a gather of the tokens into that order, one GEMM per expert segment and projection through the
// shared GEMM entry (gemm.cuh: cuBLASLt when loaded, our kernel otherwise), SwiGLU, and the weighted sums back per
// token with one owner per output element (no float atomics, so results are the same run to run).
#include <napi.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cuda_util.cuh"
#include "gemm.cuh"
#include "moe_rules.h"

namespace reclin {

void cuda_copy_to_host(void* dst, const void* src, size_t n, int device);  // runtime.cu (reports device checks)

namespace {

#include "acc.cuh"
#include "device_check.cuh"
#include "moe_kernels.cuh"


void expect_experts_fit(int64_t E) {
  if (E > 0x7fffffffLL) throw ArgError("logits: more than 2^31-1 experts are not supported on cuda");
}

Napi::Value MoeRouteCuda(const Napi::CallbackInfo& info) {
  Tensor logits = arg_cuda_f32(info, 0, "logits");
  expect_ndim(logits, 2, "logits", "[N,E]");
  const int64_t N = logits.dim(0), E = logits.dim(1);
  expect_experts_fit(E);
  Tensor bias;
  if (!arg_is_undefined(info, 1)) {
    bias = arg_cuda_f32(info, 1, "bias");
    expect_same_device(logits, bias, "logits", "bias");
    expect_shape(bias, {E}, "bias", "[E]");
  }
  const MoeRouteOpts o = moe_route_opts(arg_object(info, 2, "options"), E, true);
  const int64_t k = o.top_k;
  Tensor weights = empty({N, k}, DType::F32, logits.device), indices = empty({N, k}, DType::I32, logits.device),
         scores = empty({N, E}, DType::F32, logits.device);
  if (N > 0) {
    moe_route_kernel<<<blocks_for(N, 128), 128, 0, stream_for(logits.device.index)>>>(
        cf(logits), bias.defined() ? cf(bias) : nullptr, mf(scores), mf(weights), mi(indices), N, static_cast<int>(E),
        static_cast<int>(k), static_cast<int>(o.groups), static_cast<int>(o.topk_group), o.renormalize ? 1 : 0, o.scale,
        o.softmax ? 1 : 0);
    launch_check("moe_route_kernel");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("weights", wrap(info.Env(), weights));
  res.Set("indices", wrap(info.Env(), indices));
  res.Set("scores", wrap(info.Env(), scores));
  return res;
}
RECLIN_EXPORT("moeRouteCuda", MoeRouteCuda)

// indices [N,k] with entries in [0, E): the shape on the host, the entries on the device (the first bad entry is
// reported at the next synchronisation; the kernels stay in bounds meanwhile).
void check_indices(const Tensor& indices, int64_t N, int64_t E, CheckCode code) {
  moe_indices_shape(indices, N);
  const int64_t n = indices.numel();
  if (n == 0) return;
  cudaStream_t st = stream_for(indices.device.index);
  CheckRecord* rec = check_slot(indices.device.index);
  moe_bad_index_kernel<<<blocks_for(n), 256, 0, st>>>(ci(indices), n, static_cast<int>(E), &rec->first);
  launch_check("moe_bad_index_kernel");
  finish_check(rec, st, code, indices.raw(), true, check_dims(indices.shape), E);
}

Napi::Value MoeRouteBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dw = arg_cuda_f32(info, 0, "dWeights");
  Tensor scores = arg_cuda_f32(info, 1, "scores");
  Tensor indices = arg_cuda_i32(info, 2, "indices");
  expect_same_device(dw, scores, "dWeights", "scores");
  expect_same_device(dw, indices, "dWeights", "indices");
  expect_ndim(scores, 2, "scores", "[N,E]");
  const int64_t N = scores.dim(0), E = scores.dim(1);
  expect_experts_fit(E);
  check_indices(indices, N, E, kCheckMoeIndicesRouteBackward);
  const int64_t k = indices.dim(1);
  expect_shape(dw, {N, k}, "dWeights", "[N,k]");
  const MoeRouteOpts o = moe_route_opts(arg_object(info, 3, "options"), E, false);
  Tensor dl = empty({N, E}, DType::F32, dw.device);
  if (N > 0 && E > 0) {
    moe_route_bwd_kernel<<<blocks_for(N, 128), 128, 0, stream_for(dw.device.index)>>>(
        cf(dw), cf(scores), ci(indices), mf(dl), N, static_cast<int>(E), static_cast<int>(k), o.renormalize ? 1 : 0,
        o.scale, o.softmax ? 1 : 0);
    launch_check("moe_route_bwd_kernel");
  }
  return wrap(info.Env(), dl);
}
RECLIN_EXPORT("moeRouteBackwardCuda", MoeRouteBackwardCuda)

struct ExpertArgs {
  Tensor x, gate_up, down, indices, weights;
  int64_t N, d, E, I, k;
};

ExpertArgs read_expert_args(const Napi::CallbackInfo& info, size_t first, CheckCode code) {
  ExpertArgs a;
  a.x = arg_cuda_f32(info, first, "x");
  a.gate_up = arg_cuda_f32(info, first + 1, "gateUp");
  a.down = arg_cuda_f32(info, first + 2, "down");
  a.indices = arg_cuda_i32(info, first + 3, "indices");
  a.weights = arg_cuda_f32(info, first + 4, "weights");
  expect_same_device(a.x, a.gate_up, "x", "gateUp");
  expect_same_device(a.x, a.down, "x", "down");
  expect_same_device(a.x, a.indices, "x", "indices");
  expect_same_device(a.x, a.weights, "x", "weights");
  const MoeExpertDims m = moe_experts_shapes(a.x, a.gate_up, a.down, a.indices, a.weights);
  a.N = m.N;
  a.d = m.d;
  a.E = m.E;
  a.I = m.I;
  a.k = m.k;
  expect_experts_fit(a.E);
  check_indices(a.indices, a.N, a.E, code);
  if (a.N * a.k > 0x7fffffffLL)
    throw ArgError("indices: " + std::to_string(a.N * a.k) + " assignments are more than the cuda experts take (2^31-1)");
  return a;
}

// The expert-major order of the A = N·k assignments (moe_kernels.cuh): order[r] = assignment at row r, pos[a] = row
// of assignment a, and the E+1 segment offsets, on the device and on the host.
struct Segments {
  Tensor order, pos;
  std::vector<int32_t> offsets;
};

Segments sort_by_expert(const Tensor& indices, int64_t A, int64_t E) {
  const Device dev = indices.device;
  cudaStream_t st = stream_for(dev.index);
  Segments s;
  s.order = empty({A}, DType::I32, dev);
  s.pos = empty({A}, DType::I32, dev);
  s.offsets.assign(E + 1, 0);
  if (A == 0 || E == 0) return s;
  // Chunks of at least E assignments keep the count table (E × chunks) no bigger than about A entries.
  const int64_t chunk = std::max<int64_t>(32, E), C = (A + chunk - 1) / chunk;
  Tensor cnt = empty({E * C}, DType::I32, dev), offsets = empty({E + 1}, DType::I32, dev);
  moe_count_kernel<<<blocks_for(C, 128), 128, 0, st>>>(ci(indices), A, static_cast<int>(E), C, chunk, mi(cnt));
  launch_check("moe_count_kernel");
  moe_scan_kernel<<<1, kMoeScanThreads, 0, st>>>(mi(cnt), E * C, mi(offsets), static_cast<int>(E), C, A);
  launch_check("moe_scan_kernel");
  moe_place_kernel<<<blocks_for(C, 128), 128, 0, st>>>(ci(indices), A, static_cast<int>(E), C, chunk, mi(cnt), mi(s.order),
                                                        mi(s.pos));
  launch_check("moe_place_kernel");
  // The one host wait of the op: the expert GEMMs take their row counts as host integers (cuBLASLt's shapes and
  // our kernel's grid are set at launch), so the E+1 offsets are read back here. It is also where a bad index
  // found by check_indices is thrown, before any GEMM runs.
  cuda_copy_to_host(s.offsets.data(), offsets.raw(), (E + 1) * sizeof(int32_t), dev.index);
  return s;
}

Napi::Value MoeExpertsCuda(const Napi::CallbackInfo& info) {
  const ExpertArgs a = read_expert_args(info, 0, kCheckMoeIndicesExperts);
  const int64_t N = a.N, d = a.d, E = a.E, I = a.I, k = a.k, A = N * k;
  const Device dev = a.x.device;
  cudaStream_t st = stream_for(dev.index);
  Tensor h = empty({A, 2 * I}, DType::F32, dev), ye = empty({A, d}, DType::F32, dev), y = empty({N, d}, DType::F32, dev);
  Napi::Object res = Napi::Object::New(info.Env());
  if (A > 0 && d > 0) {
    const Segments s = sort_by_expert(a.indices, A, E);
    Tensor xs = empty({A, d}, DType::F32, dev), act = empty({A, I}, DType::F32, dev);
    moe_gather_kernel<<<blocks_for(A * d), 256, 0, st>>>(cf(a.x), ci(s.order), mf(xs), A, d, k);
    launch_check("moe_gather_kernel");
    for (int64_t e = 0; e < E; ++e) {
      const int64_t r0 = s.offsets[e], c = s.offsets[e + 1] - r0;
      if (c > 0) gemm_cuda(cf(xs) + r0 * d, cf(a.gate_up) + e * 2 * I * d, mf(h) + r0 * 2 * I, c, 2 * I, d, false, true, 1.f, dev.index, st);
    }
    if (I > 0) {
      moe_swiglu_kernel<<<blocks_for(A * I), 256, 0, st>>>(cf(h), mf(act), A, I);
      launch_check("moe_swiglu_kernel");
    }
    for (int64_t e = 0; e < E; ++e) {
      const int64_t r0 = s.offsets[e], c = s.offsets[e + 1] - r0;
      if (c > 0) gemm_cuda(cf(act) + r0 * I, cf(a.down) + e * d * I, mf(ye) + r0 * d, c, d, I, false, true, 1.f, dev.index, st);
    }
    moe_combine_kernel<<<blocks_for(N * d), 256, 0, st>>>(cf(ye), ci(s.pos), cf(a.weights), mf(y), N, d, k);
    launch_check("moe_combine_kernel");
  } else if (N * d > 0) {  // k = 0: nothing routed
    cuda_check(cudaMemsetAsync(y.raw(), 0, y.nbytes(), st), "cudaMemsetAsync(y)");
  }
  res.Set("y", wrap(info.Env(), y));
  res.Set("h", wrap(info.Env(), h));
  res.Set("ye", wrap(info.Env(), ye));
  return res;
}
RECLIN_EXPORT("moeExpertsCuda", MoeExpertsCuda)

Napi::Value MoeExpertsBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dy = arg_cuda_f32(info, 0, "dy");
  const ExpertArgs a = read_expert_args(info, 1, kCheckMoeIndicesExpertsBackward);
  const int64_t N = a.N, d = a.d, E = a.E, I = a.I, k = a.k, A = N * k;
  expect_same_device(a.x, dy, "x", "dy");
  Tensor h = arg_cuda_f32(info, 6, "h"), ye = arg_cuda_f32(info, 7, "ye");
  expect_same_device(a.x, h, "x", "h");
  expect_same_device(a.x, ye, "x", "ye");
  moe_experts_backward_shapes({N, d, E, I, k}, dy, h, ye);
  const Device dev = a.x.device;
  cudaStream_t st = stream_for(dev.index);
  Tensor dx = empty({N, d}, DType::F32, dev), dgu = empty(a.gate_up.shape, DType::F32, dev),
         ddown = empty(a.down.shape, DType::F32, dev), dw = empty({N, k}, DType::F32, dev);
  const Segments s = sort_by_expert(a.indices, A, E);
  // Experts without rows get zero gradients; the GEMMs below write the others whole.
  for (int64_t e = 0; e < E; ++e)
    if (s.offsets[e + 1] == s.offsets[e]) {
      if (I * d > 0) {
        cuda_check(cudaMemsetAsync(mf(dgu) + e * 2 * I * d, 0, 2 * I * d * sizeof(float), st), "cudaMemsetAsync(dGateUp)");
        cuda_check(cudaMemsetAsync(mf(ddown) + e * d * I, 0, d * I * sizeof(float), st), "cudaMemsetAsync(dDown)");
      }
    }
  if (A > 0 && d > 0) {
    Tensor xs = empty({A, d}, DType::F32, dev), act = empty({A, I}, DType::F32, dev), dye = empty({A, d}, DType::F32, dev),
           da = empty({A, I}, DType::F32, dev), dh = empty({A, 2 * I}, DType::F32, dev), dxs = empty({A, d}, DType::F32, dev);
    moe_gather_kernel<<<blocks_for(A * d), 256, 0, st>>>(cf(a.x), ci(s.order), mf(xs), A, d, k);
    launch_check("moe_gather_kernel");
    if (I > 0) {
      moe_swiglu_kernel<<<blocks_for(A * I), 256, 0, st>>>(cf(h), mf(act), A, I);
      launch_check("moe_swiglu_kernel");
    }
    moe_dye_kernel<<<blocks_for(A * d), 256, 0, st>>>(cf(dy), cf(a.weights), ci(s.order), mf(dye), A, d, k);
    launch_check("moe_dye_kernel");
    moe_dweights_kernel<<<blocks_for(A, 128), 128, 0, st>>>(cf(dy), cf(ye), ci(s.pos), mf(dw), A, d, k);
    launch_check("moe_dweights_kernel");
    for (int64_t e = 0; e < E; ++e) {
      const int64_t r0 = s.offsets[e], c = s.offsets[e + 1] - r0;
      if (c == 0) continue;
      gemm_cuda(cf(dye) + r0 * d, cf(a.down) + e * d * I, mf(da) + r0 * I, c, I, d, false, false, 1.f, dev.index, st);
      gemm_cuda(cf(dye) + r0 * d, cf(act) + r0 * I, mf(ddown) + e * d * I, d, I, c, true, false, 1.f, dev.index, st);
    }
    if (I > 0) {
      moe_swiglu_bwd_kernel<<<blocks_for(A * I), 256, 0, st>>>(cf(da), cf(h), mf(dh), A, I);
      launch_check("moe_swiglu_bwd_kernel");
    }
    for (int64_t e = 0; e < E; ++e) {
      const int64_t r0 = s.offsets[e], c = s.offsets[e + 1] - r0;
      if (c == 0) continue;
      gemm_cuda(cf(dh) + r0 * 2 * I, cf(xs) + r0 * d, mf(dgu) + e * 2 * I * d, 2 * I, d, c, true, false, 1.f, dev.index, st);
      gemm_cuda(cf(dh) + r0 * 2 * I, cf(a.gate_up) + e * 2 * I * d, mf(dxs) + r0 * d, c, d, 2 * I, false, false, 1.f, dev.index, st);
    }
    moe_combine_kernel<<<blocks_for(N * d), 256, 0, st>>>(cf(dxs), ci(s.pos), nullptr, mf(dx), N, d, k);
    launch_check("moe_combine_kernel");
  } else {
    if (N * d > 0) cuda_check(cudaMemsetAsync(dx.raw(), 0, dx.nbytes(), st), "cudaMemsetAsync(dx)");
    if (A > 0) cuda_check(cudaMemsetAsync(dw.raw(), 0, dw.nbytes(), st), "cudaMemsetAsync(dWeights)");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("dx", wrap(info.Env(), dx));
  res.Set("dGateUp", wrap(info.Env(), dgu));
  res.Set("dDown", wrap(info.Env(), ddown));
  res.Set("dWeights", wrap(info.Env(), dw));
  return res;
}
RECLIN_EXPORT("moeExpertsBackwardCuda", MoeExpertsBackwardCuda)

}  // namespace
}  // namespace reclin
