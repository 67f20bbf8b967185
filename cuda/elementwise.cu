// Elementwise ops on CUDA, the twins of native/elementwise.cc and native/activation.cc (same arguments,
// same formulas): broadcasting binary ops, unary maps, copies and in-place updates, sigmoid/SiLU/softplus
// and SwiGLU with their backward. f32; one thread per element in grid-stride loops.
#include <napi.h>

#include <cmath>
#include <string>

#include "cuda_util.cuh"

namespace reclin {

std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b);  // elementwise.cc

namespace {

#include "elementwise_kernels.cuh"

std::vector<int64_t> strides_for(const std::vector<int64_t>& shape, const std::vector<int64_t>& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    const int o = i + static_cast<int>(out.size() - shape.size());
    st[o] = shape[i] == 1 ? 0 : s;
    s *= shape[i];
  }
  return st;
}

Napi::Value BinaryCuda(const Napi::CallbackInfo& info) {
  Tensor a = arg_cuda_f32(info, 0, "a"), b = arg_cuda_f32(info, 1, "b");
  expect_same_device(a, b, "a", "b");
  const std::string kind = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  const int op = kind == "add" ? ADD : kind == "sub" ? SUB : kind == "mul" ? MUL : kind == "div" ? DIV : -1;
  if (op < 0) throw ArgError("op: unknown binary op '" + kind + "' (allowed: add, sub, mul, div)");
  const std::vector<int64_t> shape = broadcast_shapes(a.shape, b.shape);
  Tensor out = empty(shape, DType::F32, a.device);
  const int64_t n = out.numel();
  if (n == 0) return wrap(info.Env(), out);
  const std::vector<int64_t> sa = strides_for(a.shape, shape), sb = strides_for(b.shape, shape);
  Bcast bc{};
  // Coalesce neighbouring dimensions that are contiguous for both inputs (as the CPU op does).
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (bc.nd > 0 && bc.sa[bc.nd - 1] == sa[i] * shape[i] && bc.sb[bc.nd - 1] == sb[i] * shape[i]) {
      bc.dims[bc.nd - 1] *= shape[i];
      bc.sa[bc.nd - 1] = sa[i];
      bc.sb[bc.nd - 1] = sb[i];
    } else {
      if (bc.nd == kMaxDims) throw ArgError("a: more than 12 non-mergeable dimensions are not supported on cuda");
      bc.dims[bc.nd] = shape[i];
      bc.sa[bc.nd] = sa[i];
      bc.sb[bc.nd] = sb[i];
      ++bc.nd;
    }
  }
  if (bc.nd == 0) {
    bc.nd = 1;
    bc.dims[0] = 1;
  }
  cudaStream_t st = stream_for(a.device.index);
  binary_kernel<<<blocks_for(n), 256, 0, st>>>(cf(a), cf(b), mf(out), n, bc, op);
  launch_check("binary_kernel");
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("binaryCuda", BinaryCuda)

Tensor run_unary(const Tensor& x, int op, float s) {
  Tensor y = empty(x.shape, DType::F32, x.device);
  const int64_t n = x.numel();
  if (n) {
    unary_kernel<<<blocks_for(n), 256, 0, stream_for(x.device.index)>>>(cf(x), mf(y), n, op, s);
    launch_check("unary_kernel");
  }
  return y;
}

// unaryCuda(x, kind, s): scale, addScalar, neg, exp, log, sqrt, square, tanh.
Napi::Value UnaryCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x");
  const std::string kind = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  const float s = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().FloatValue() : 0.f;
  const char* names[] = {"scale", "addScalar", "neg", "exp", "log", "sqrt", "square", "tanh"};
  for (int op = 0; op < 8; ++op)
    if (kind == names[op]) return wrap(info.Env(), run_unary(x, op, s));
  throw ArgError("op: unknown unary op '" + kind + "'");
}
RECLIN_EXPORT("unaryCuda", UnaryCuda)

Napi::Value ActivationCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x");
  const std::string kind = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (kind == "sigmoid") return wrap(info.Env(), run_unary(x, SIGMOID, 0.f));
  if (kind == "silu") return wrap(info.Env(), run_unary(x, SILU, 0.f));
  if (kind == "softplus") return wrap(info.Env(), run_unary(x, SOFTPLUS, 0.f));
  throw ArgError("kind: unknown activation '" + kind + "' (allowed: sigmoid, silu, softplus)");
}
RECLIN_EXPORT("activationCuda", ActivationCuda)

Tensor run_map2(const Tensor& a, const Tensor& b, int op) {
  Tensor y = empty(a.shape, DType::F32, a.device);
  const int64_t n = a.numel();
  if (n) {
    map2_kernel<<<blocks_for(n), 256, 0, stream_for(a.device.index)>>>(cf(a), cf(b), mf(y), n, op);
    launch_check("map2_kernel");
  }
  return y;
}


// activationBackwardCuda(dy, t, kind): t is x for silu/softplus and the output y for sigmoid.
Napi::Value ActivationBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dy = arg_cuda_f32(info, 0, "dy");
  const std::string kind = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  const char* tname = kind == "sigmoid" ? "y" : "x";
  Tensor t = arg_cuda_f32(info, 1, tname);
  expect_same(dy, t, "dy", tname);
  if (kind == "sigmoid") return wrap(info.Env(), run_map2(dy, t, 0));
  if (kind == "silu") return wrap(info.Env(), run_map2(dy, t, 1));
  if (kind == "softplus") return wrap(info.Env(), run_map2(dy, t, 2));
  throw ArgError("kind: unknown activation '" + kind + "' (allowed: sigmoid, silu, softplus)");
}
RECLIN_EXPORT("activationBackwardCuda", ActivationBackwardCuda)

Napi::Value SwigluCuda(const Napi::CallbackInfo& info) {
  Tensor gate = arg_cuda_f32(info, 0, "gate"), up = arg_cuda_f32(info, 1, "up");
  expect_same(up, gate, "up", "gate");
  return wrap(info.Env(), run_map2(gate, up, 3));
}
RECLIN_EXPORT("swigluCuda", SwigluCuda)

Napi::Value SwigluBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dy = arg_cuda_f32(info, 0, "dy"), gate = arg_cuda_f32(info, 1, "gate"), up = arg_cuda_f32(info, 2, "up");
  expect_same(gate, dy, "gate", "dy");
  expect_same(up, dy, "up", "dy");
  Tensor dg = empty(dy.shape, DType::F32, dy.device), du = empty(dy.shape, DType::F32, dy.device);
  const int64_t n = dy.numel();
  if (n) {
    swiglu_bwd_kernel<<<blocks_for(n), 256, 0, stream_for(dy.device.index)>>>(cf(dy), cf(gate), cf(up), mf(dg), mf(du), n);
    launch_check("swiglu_bwd_kernel");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("dGate", wrap(info.Env(), dg));
  res.Set("dUp", wrap(info.Env(), du));
  return res;
}
RECLIN_EXPORT("swigluBackwardCuda", SwigluBackwardCuda)

Napi::Value CopyCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_tensor(info, 0, "x");
  expect_cuda(x, "x");
  Tensor out = empty(x.shape, x.dtype, x.device);
  if (x.nbytes())
    cuda_check(cudaMemcpyAsync(out.raw(), x.raw(), x.nbytes(), cudaMemcpyDeviceToDevice, stream_for(x.device.index)),
               "cudaMemcpyAsync");
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("copyCuda", CopyCuda)

// castCuda(x, dtype): f32 <-> bf16 copies on the device.
Napi::Value CastCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_tensor(info, 0, "x");
  expect_cuda(x, "x");
  const std::string d = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (d != "f32" && d != "bf16")
    throw ArgError("dtype: expected \"f32\" or \"bf16\", got " + (info[1].IsString() ? "\"" + d + "\"" : std::string("a non-string")));
  const DType to = d == "f32" ? DType::F32 : DType::BF16;
  if (x.dtype == DType::I32) throw ArgError("x: expected dtype f32 or bf16, got i32");
  Tensor out = empty(x.shape, to, x.device);
  const int64_t n = x.numel();
  cudaStream_t st = stream_for(x.device.index);
  if (n == 0) return wrap(info.Env(), out);
  if (x.dtype == to) {
    cuda_check(cudaMemcpyAsync(out.raw(), x.raw(), x.nbytes(), cudaMemcpyDeviceToDevice, st), "cudaMemcpyAsync");
  } else if (to == DType::BF16) {
    to_bf16_kernel<<<blocks_for(n), 256, 0, st>>>(cf(x), static_cast<uint16_t*>(out.raw()), n);
    launch_check("to_bf16_kernel");
  } else {
    from_bf16_kernel<<<blocks_for(n), 256, 0, st>>>(static_cast<const uint16_t*>(x.raw()), mf(out), n);
    launch_check("from_bf16_kernel");
  }
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("castCuda", CastCuda)

// addInPlaceCuda(dst, src, alpha): dst += alpha * src.
Napi::Value AddInPlaceCuda(const Napi::CallbackInfo& info) {
  Tensor dst = arg_cuda_f32(info, 0, "dst"), src = arg_cuda_f32(info, 1, "src");
  const float alpha = static_cast<float>(arg_number(info, 2, "alpha"));
  expect_same(src, dst, "src", "dst");
  const int64_t n = dst.numel();
  if (n) {
    axpy_kernel<<<blocks_for(n), 256, 0, stream_for(dst.device.index)>>>(mf(dst), cf(src), alpha, n);
    launch_check("axpy_kernel");
  }
  return info.Env().Undefined();
}
RECLIN_EXPORT("addInPlaceCuda", AddInPlaceCuda)

Napi::Value ScaleInPlaceCuda(const Napi::CallbackInfo& info) {
  Tensor dst = arg_cuda_f32(info, 0, "dst");
  const float s = static_cast<float>(arg_number(info, 1, "s"));
  const int64_t n = dst.numel();
  if (n) {
    scale_kernel<<<blocks_for(n), 256, 0, stream_for(dst.device.index)>>>(mf(dst), s, n);
    launch_check("scale_kernel");
  }
  return info.Env().Undefined();
}
RECLIN_EXPORT("scaleInPlaceCuda", ScaleInPlaceCuda)

Napi::Value CopyInPlaceCuda(const Napi::CallbackInfo& info) {
  Tensor dst = arg_tensor(info, 0, "dst"), src = arg_tensor(info, 1, "src");
  expect_cuda(dst, "dst");
  expect_cuda(src, "src");
  expect_dtype(src, dst.dtype, "src");
  expect_same(src, dst, "src", "dst");
  if (dst.nbytes() && dst.raw() != src.raw())
    cuda_check(cudaMemcpyAsync(dst.raw(), src.raw(), dst.nbytes(), cudaMemcpyDeviceToDevice, stream_for(dst.device.index)),
               "cudaMemcpyAsync");
  return info.Env().Undefined();
}
RECLIN_EXPORT("copyInPlaceCuda", CopyInPlaceCuda)

}  // namespace
}  // namespace reclin
