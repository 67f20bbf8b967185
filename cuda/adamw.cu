// Fused AdamW on the GPU: every parameter tensor of a call is updated by ONE kernel launch.
// The host cuts the tensors into fixed-size chunks and sends a small chunk table; hyper-parameters are
// kernel arguments, so lr/betas/weight decay/step may change every call without recompiling.
// Semantics are PyTorch's torch.optim.AdamW (decoupled weight decay, bias correction), as in native/adamw.cc.
#include <napi.h>

#include <cmath>
#include <vector>

#include "cuda_util.cuh"

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
  if (grads.size() != params.size() || ms.size() != params.size() || vs.size() != params.size())
    throw ArgError("params, grads, m and v must have the same length");
  double step = opt_number(opts, "step", -1);
  if (step < 1 || step != std::floor(step)) throw ArgError("step: expected an integer >= 1, got " + std::to_string(step));
  double beta1 = opt_number(opts, "beta1", 0.9), beta2 = opt_number(opts, "beta2", 0.999);
  Hyper h;
  h.lr = static_cast<float>(opt_number(opts, "lr", 1e-3));
  h.beta1 = static_cast<float>(beta1);
  h.beta2 = static_cast<float>(beta2);
  h.eps = static_cast<float>(opt_number(opts, "eps", 1e-8));
  h.weight_decay = static_cast<float>(opt_number(opts, "weightDecay", 1e-2));
  h.bias_correction1 = static_cast<float>(1.0 - std::pow(beta1, step));
  h.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, step)));

  std::vector<ChunkDesc> chunks;
  int device = -1;
  for (size_t i = 0; i < params.size(); ++i) {
    const char* names[4] = {"params", "grads", "m", "v"};
    const Tensor* ts[4] = {&params[i], &grads[i], &ms[i], &vs[i]};
    for (int j = 0; j < 4; ++j) {
      std::string nm = std::string(names[j]) + "[" + std::to_string(i) + "]";
      if (ts[j]->device.kind != DeviceKind::CUDA) throw ArgError(nm + ": expected a cuda tensor, got " + ts[j]->device.name());
      expect_dtype(*ts[j], DType::F32, nm.c_str());
      if (ts[j]->shape != params[i].shape)
        throw ArgError(nm + ": expected shape " + params[i].shape_str() + ", got " + ts[j]->shape_str());
      if (device == -1) device = ts[j]->device.index;
      else if (ts[j]->device.index != device) throw ArgError(nm + ": all tensors must be on one device");
    }
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
