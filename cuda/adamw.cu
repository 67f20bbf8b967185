// Fused AdamW on the GPU: every parameter tensor of a call is updated by ONE kernel launch.
// The host cuts the tensors into fixed-size chunks and sends a small chunk table; hyper-parameters are
// kernel arguments, so lr/betas/weight decay/step may change every call without recompiling.
// Semantics are PyTorch's torch.optim.AdamW (decoupled weight decay, bias correction), as in native/adamw.cc.
#include <napi.h>

#include <cmath>
#include <vector>

#include "cuda_util.cuh"
#include "fused_rules.h"

namespace reclin {

namespace {
#include "adamw_kernels.cuh"
}  // namespace

// adamwStepCuda(params, grads, m, v, { lr, beta1, beta2, eps, weightDecay, step })
static Napi::Value AdamwStepCuda(const Napi::CallbackInfo& info) {
  std::vector<Tensor> params = arg_tensor_list(info, 0, "params");
  std::vector<Tensor> grads = arg_tensor_list(info, 1, "grads");
  std::vector<Tensor> ms = arg_tensor_list(info, 2, "m");
  std::vector<Tensor> vs = arg_tensor_list(info, 3, "v");
  Napi::Object opts = arg_object(info, 4, "options");
  // lengths, hyper-parameters, shapes, dtypes, devices and aliasing, as on the CPU (fused_rules.h)
  const AdamwHyper a = adamw_rules(params, grads, ms, vs, opts, DeviceKind::CUDA);
  const double beta1 = a.beta1, beta2 = a.beta2, step = a.step;
  Hyper h;
  h.lr = static_cast<float>(a.lr);
  h.beta1 = static_cast<float>(beta1);
  h.beta2 = static_cast<float>(beta2);
  h.eps = static_cast<float>(a.eps);
  h.weight_decay = static_cast<float>(a.weight_decay);
  h.bias_correction1 = static_cast<float>(1.0 - std::pow(beta1, step));
  h.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, step)));

  std::vector<ChunkDesc> chunks;
  const int device = params.empty() ? 0 : params[0].device.index;
  for (size_t i = 0; i < params.size(); ++i) {
    int64_t n = params[i].numel();
    for (int64_t off = 0; off < n; off += kChunk)
      chunks.push_back({static_cast<float*>(params[i].raw()) + off, static_cast<float*>(grads[i].raw()) + off, static_cast<float*>(ms[i].raw()) + off,
                        static_cast<float*>(vs[i].raw()) + off, std::min(kChunk, n - off)});
  }
  if (chunks.empty()) return info.Env().Undefined();
  cudaStream_t st = stream_for(device);
  size_t table_bytes = chunks.size() * sizeof(ChunkDesc);  // a multiple of 8: stored as i32 words
  Tensor table = empty({static_cast<int64_t>(table_bytes / 4)}, DType::I32, Device{DeviceKind::CUDA, device});
  cuda_check(cudaMemcpyAsync(table.raw(), chunks.data(), table_bytes, cudaMemcpyHostToDevice, st),
             "cudaMemcpyAsync(chunk table)");
  adamw_kernel<<<static_cast<unsigned>(chunks.size()), 512, 0, st>>>(static_cast<const ChunkDesc*>(table.raw()), h);
  launch_check("adamw_kernel");
  // `table` returns to the allocator cache when it goes out of scope; any reuse is queued after this kernel.
  return info.Env().Undefined();
}
RECLIN_EXPORT("adamwStepCuda", AdamwStepCuda)

}  // namespace reclin
