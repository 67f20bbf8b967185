// Reductions and row ops on CUDA, the twins of native/reduce.cc, native/norm.cc and native/loss.cc:
// sum/mean over dimensions, sumToShape, sumSquares, softmax, argmax, RMSNorm, L2 norm and cross-entropy,
// forward and backward. Row sums accumulate in fp32 with Neumaier compensation per thread (reduce_kernels.cuh);
// sumSquares (a device scalar, no host wait) and the RMSNorm weight gradient combine their fp32 partials in order. Every block reduces in a fixed
// tree order (256 threads), so results are the same run to run.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cuda_util.cuh"

namespace reclin {
namespace {

#include "reduce_kernels.cuh"
#include "device_check.cuh"

// ---- sum over dimensions ------------------------------------------------------------------------------------

void reduce_dims(const Tensor& x, const std::vector<bool>& keep, const Tensor& out, double scale) {
  Groups g{};
  std::vector<std::pair<int64_t, int64_t>> kept, red;  // (size, stride), built inner to outer
  bool have_last = false, last_kept = false;
  int64_t stride = 1;
  for (int i = x.ndim() - 1; i >= 0; --i) {
    const int64_t s = x.shape[i];
    if (s != 1) {
      auto& v = keep[i] ? kept : red;
      if (have_last && last_kept == keep[i]) v.back().first *= s;
      else v.push_back({s, stride});
      have_last = true;
      last_kept = keep[i];
    }
    stride *= s;
  }
  if (kept.size() > kMaxDims || red.size() > kMaxDims) throw ArgError("x: too many dimensions for the cuda reduction");
  g.nk = static_cast<int>(kept.size());
  g.nr = static_cast<int>(red.size());
  g.n_out = 1;
  g.n_red = 1;
  for (int i = 0; i < g.nk; ++i) {  // outer to inner
    g.ks[i] = kept[g.nk - 1 - i].first;
    g.kst[i] = kept[g.nk - 1 - i].second;
    g.n_out *= g.ks[i];
  }
  for (int i = 0; i < g.nr; ++i) {
    g.rs[i] = red[g.nr - 1 - i].first;
    g.rst[i] = red[g.nr - 1 - i].second;
    g.n_red *= g.rs[i];
  }
  if (g.n_out == 0 || out.numel() == 0) return;
  cudaStream_t st = stream_for(x.device.index);
  if (x.numel() == 0) {  // nothing to sum: zeros (as the CPU op)
    cuda_check(cudaMemsetAsync(out.raw(), 0, out.nbytes(), st), "cudaMemsetAsync");
    return;
  }
  if (g.nk > 0 && g.kst[g.nk - 1] == 1 && g.n_red > 1) {  // contiguous outputs: coalesced column segments
    const int64_t chunk = cols_chunk(g.n_out, g.n_red), nchunks = (g.n_red + chunk - 1) / chunk;
    Tensor part = empty({nchunks, g.n_out}, DType::F32, x.device);
    const dim3 grid(static_cast<unsigned>((g.n_out + kT - 1) / kT), static_cast<unsigned>(nchunks));
    reduce_cols_partial<<<grid, kT, 0, st>>>(cf(x), mf(part), g, chunk);
    launch_check("reduce_cols_partial");
    reduce_cols_final<<<blocks_for(g.n_out), kT, 0, st>>>(cf(part), mf(out), g.n_out, nchunks, static_cast<float>(scale));
    launch_check("reduce_cols_final");
    return;
  }
  reduce_kernel<<<blocks_for(g.n_out * kT, kT), kT, 0, st>>>(cf(x), mf(out), g, scale);
  launch_check("reduce_kernel");
}

Napi::Value SumDimsCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x");
  std::vector<bool> keep(x.ndim(), true);
  if (!info[1].IsArray()) throw ArgError("dim: expected an array of dimensions");
  Napi::Array dims = info[1].As<Napi::Array>();
  if (dims.Length() == 0) std::fill(keep.begin(), keep.end(), false);
  for (uint32_t i = 0; i < dims.Length(); ++i) {
    Napi::Value v = dims.Get(i);
    keep[norm_dim(int_value(v, "dim"), x.ndim(), "dim")] = false;
  }
  const bool keep_dim = arg_bool(info, 2, "keepDim"), mean = arg_bool(info, 3, "mean");
  std::vector<int64_t> shape;
  int64_t count = 1;
  for (int i = 0; i < x.ndim(); ++i) {
    if (keep[i]) shape.push_back(x.shape[i]);
    else {
      count *= x.shape[i];
      if (keep_dim) shape.push_back(1);
    }
  }
  Tensor out = empty(shape, DType::F32, x.device);
  reduce_dims(x, keep, out, mean ? (count ? 1.0 / static_cast<double>(count) : NAN) : 1.0);
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("sumDimsCuda", SumDimsCuda)

Napi::Value SumToShapeCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x");
  std::vector<int64_t> shape = arg_shape(info, 1, "shape");
  const std::vector<bool> keep = sum_to_shape_keep(x, shape);
  Tensor out = empty(shape, DType::F32, x.device);
  reduce_dims(x, keep, out, 1.0);
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("sumToShapeCuda", SumToShapeCuda)

// ---- sum of squares and gradient clipping ---------------------------------------------------------------------

// Σ over every tensor of x², into *out (device memory) without a host wait: per tensor kSqBlocks fp32 partials,
// then one block adds them in order (the same result run to run).
Device sum_squares_into(const std::vector<Tensor>& ts, Tensor& part, const std::string& list) {
  for (size_t i = 0; i < ts.size(); ++i) {
    const std::string nm = list + "[" + std::to_string(i) + "]";
    expect_cuda(ts[i], nm.c_str());
    expect_dtype(ts[i], DType::F32, nm.c_str());
    expect_same_device(ts[0], ts[i], (list + "[0]").c_str(), nm.c_str());
  }
  const Device dev = ts[0].device;
  cudaStream_t st = stream_for(dev.index);
  const int64_t np = static_cast<int64_t>(ts.size()) * kSqBlocks;
  part = empty({np + 1}, DType::F32, dev);
  float* pp = mf(part);
  cuda_check(cudaMemsetAsync(pp, 0, sizeof(float) * (np + 1), st), "cudaMemsetAsync");
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i].numel()) {
      sumsq_partial<<<kSqBlocks, kT, 0, st>>>(cf(ts[i]), ts[i].numel(), pp + i * kSqBlocks);
      launch_check("sumsq_partial");
    }
  sum_in_order<<<1, kT, 0, st>>>(pp, np, pp + np);
  launch_check("sum_in_order");
  return dev;
}

// sumSquaresCuda(tensors) -> f32 [1] on their device (a device scalar: reading it is the caller's synchronisation).
Napi::Value SumSquaresCuda(const Napi::CallbackInfo& info) {
  std::vector<Tensor> ts = arg_tensor_list(info, 0, "tensors");
  if (ts.empty()) throw ArgError("tensors: expected at least one cuda tensor (the device of the result)");
  Tensor part;
  const Device dev = sum_squares_into(ts, part, "tensors");
  Tensor out = empty({1}, DType::F32, dev);
  cuda_check(cudaMemcpyAsync(out.raw(), mf(part) + part.numel() - 1, sizeof(float), cudaMemcpyDeviceToDevice,
                             stream_for(dev.index)),
             "cudaMemcpyAsync");
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("sumSquaresCuda", SumSquaresCuda)

// clipGradNormCuda(grads, maxNorm | null) -> the global norm before clipping, f32 [1] on the device. With maxNorm,
// every grad is scaled in place by maxNorm / (norm + 1e-6) when norm > maxNorm (the CPU trainer's rule), decided
// on the device: no host wait.
Napi::Value ClipGradNormCuda(const Napi::CallbackInfo& info) {
  std::vector<Tensor> ts = arg_tensor_list(info, 0, "grads");
  if (ts.empty()) throw ArgError("grads: expected at least one cuda tensor (the device of the result)");
  const bool clip = !arg_is_undefined(info, 1);
  const double max_norm = clip ? arg_number(info, 1, "maxNorm") : 0.0;
  if (clip && !(max_norm > 0 && std::isfinite(max_norm)))
    throw ArgError("maxNorm: expected a finite number > 0 or null, got " + std::to_string(max_norm));
  Tensor part;
  const Device dev = sum_squares_into(ts, part, "grads");
  cudaStream_t st = stream_for(dev.index);
  const float* ss = mf(part) + part.numel() - 1;
  Tensor norm = empty({1}, DType::F32, dev);
  sqrt_scalar_kernel<<<1, 1, 0, st>>>(ss, mf(norm));
  launch_check("sqrt_scalar_kernel");
  if (clip)
    for (const Tensor& g : ts)
      if (g.numel()) {
        clip_scale_kernel<<<blocks_for(g.numel()), 256, 0, st>>>(mf(g), g.numel(), mf(norm), static_cast<float>(max_norm));
        launch_check("clip_scale_kernel");
      }
  return wrap(info.Env(), norm);
}
RECLIN_EXPORT("clipGradNormCuda", ClipGradNormCuda)

// ---- row ops over the last dimension (one block per row) ----------------------------------------------------

unsigned row_grid(int64_t R) { return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(R, 1), 65535 * 16)); }

Napi::Value SoftmaxCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x");
  expect_min_ndim(x, 1, "x", "[...,D]");
  Tensor y = empty(x.shape, DType::F32, x.device);
  const int64_t D = x.dim(-1), R = leading_rows(x);
  if (x.numel()) {
    softmax_kernel<<<row_grid(R), kT, 0, stream_for(x.device.index)>>>(cf(x), mf(y), R, D);
    launch_check("softmax_kernel");
  }
  return wrap(info.Env(), y);
}
RECLIN_EXPORT("softmaxCuda", SoftmaxCuda)

Napi::Value ArgmaxCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x");
  expect_argmax_input(x);
  const int64_t D = x.dim(-1), R = leading_rows(x);
  Tensor y = empty(without_last(x.shape), DType::I32, x.device);
  if (R) {
    argmax_kernel<<<row_grid(R), kT, 0, stream_for(x.device.index)>>>(cf(x), mi(y), R, D);
    launch_check("argmax_kernel");
  }
  return wrap(info.Env(), y);
}
RECLIN_EXPORT("argmaxCuda", ArgmaxCuda)

// ---- RMSNorm and L2 norm -----------------------------------------------------------------------------------

Tensor opt_weight(const Napi::CallbackInfo& info, size_t i, int64_t D, const Tensor& x) {
  if (arg_is_undefined(info, i)) return Tensor();
  Tensor w = arg_cuda_f32(info, i, "weight");
  expect_same_device(x, w, "x", "weight");
  expect_shape(w, {D}, "weight", "[D]");
  return w;
}

Napi::Value RmsnormCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x");
  expect_min_ndim(x, 1, "x", "[...,D]");
  const int64_t D = x.dim(-1), R = leading_rows(x);
  Tensor w = opt_weight(info, 1, D, x);
  const double eps = arg_number(info, 2, "eps");
  Tensor y = empty(x.shape, DType::F32, x.device), rstd = empty(without_last(x.shape), DType::F32, x.device);
  if (x.numel()) {
    norm_kernel<<<row_grid(R), kT, 0, stream_for(x.device.index)>>>(cf(x), w.defined() ? cf(w) : nullptr, mf(y),
                                                                     mf(rstd), R, D, eps, 0);
    launch_check("norm_kernel");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("y", wrap(info.Env(), y));
  res.Set("rstd", wrap(info.Env(), rstd));
  return res;
}
RECLIN_EXPORT("rmsnormCuda", RmsnormCuda)

Napi::Value L2normCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x");
  expect_min_ndim(x, 1, "x", "[...,D]");
  const double eps = arg_number(info, 1, "eps");
  const int64_t D = x.dim(-1), R = leading_rows(x);
  Tensor y = empty(x.shape, DType::F32, x.device), rn = empty(without_last(x.shape), DType::F32, x.device);
  if (x.numel()) {
    norm_kernel<<<row_grid(R), kT, 0, stream_for(x.device.index)>>>(cf(x), nullptr, mf(y), mf(rn), R, D, eps, 1);
    launch_check("norm_kernel");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("y", wrap(info.Env(), y));
  res.Set("rnorm", wrap(info.Env(), rn));
  return res;
}
RECLIN_EXPORT("l2normCuda", L2normCuda)

Napi::Value RmsnormBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dy = arg_cuda_f32(info, 0, "dy"), x = arg_cuda_f32(info, 1, "x");
  expect_min_ndim(x, 1, "x", "[...,D]");
  expect_same(dy, x, "dy", "x");
  const int64_t D = x.dim(-1), R = leading_rows(x);
  Tensor w = opt_weight(info, 2, D, x);
  Tensor rstd = arg_cuda_f32(info, 3, "rstd");
  expect_shape(rstd, without_last(x.shape), "rstd", "[...] (x's shape without D)");
  cudaStream_t st = stream_for(x.device.index);
  Tensor dx = empty(x.shape, DType::F32, x.device);
  if (x.numel()) {
    norm_bwd_kernel<<<row_grid(R), kT, 0, st>>>(cf(dy), cf(x), w.defined() ? cf(w) : nullptr, cf(rstd), mf(dx), R, D, 0);
    launch_check("norm_bwd_kernel");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("dx", wrap(info.Env(), dx));
  if (!w.defined()) {
    res.Set("dWeight", info.Env().Null());
    return res;
  }
  Tensor dw = empty({D}, DType::F32, x.device);
  if (D) {
    const int64_t nchunks = std::max<int64_t>(1, std::min<int64_t>(R, kWChunks)), chunk = (R + nchunks - 1) / nchunks;
    Tensor part = empty({nchunks, D}, DType::F32, x.device);
    dim3 grid(static_cast<unsigned>((D + kT - 1) / kT), static_cast<unsigned>(nchunks));
    rms_dw_partial<<<grid, kT, 0, st>>>(cf(dy), cf(x), cf(rstd), mf(part), R, D, chunk);
    launch_check("rms_dw_partial");
    rms_dw_final<<<static_cast<unsigned>((D + kT - 1) / kT), kT, 0, st>>>(cf(part), mf(dw), D, nchunks);
    launch_check("rms_dw_final");
  }
  res.Set("dWeight", wrap(info.Env(), dw));
  return res;
}
RECLIN_EXPORT("rmsnormBackwardCuda", RmsnormBackwardCuda)

Napi::Value L2normBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dy = arg_cuda_f32(info, 0, "dy"), y = arg_cuda_f32(info, 1, "y");
  expect_min_ndim(y, 1, "y", "[...,D]");
  expect_same(dy, y, "dy", "y");
  Tensor rn = arg_cuda_f32(info, 2, "rnorm");
  expect_shape(rn, without_last(y.shape), "rnorm", "[...] (y's shape without D)");
  const int64_t D = y.dim(-1), R = leading_rows(y);
  Tensor dx = empty(y.shape, DType::F32, y.device);
  if (y.numel()) {
    norm_bwd_kernel<<<row_grid(R), kT, 0, stream_for(y.device.index)>>>(cf(dy), cf(y), nullptr, cf(rn), mf(dx), R, D, 1);
    launch_check("norm_bwd_kernel");
  }
  return wrap(info.Env(), dx);
}
RECLIN_EXPORT("l2normBackwardCuda", L2normBackwardCuda)

// ---- cross-entropy -----------------------------------------------------------------------------------------

// Targets in [0, V) or ignoreIndex, checked on the device: the first bad row is reported at the next synchronisation
// (ce_kernel and ce_bwd_kernel stay in bounds meanwhile).
void check_targets(const Tensor& logits, const Tensor& targets, int64_t ignore, CheckCode code) {
  expect_ndim(logits, 2, "logits", "[N,V]");
  expect_same_device(logits, targets, "logits", "targets");
  expect_shape(targets, {logits.dim(0)}, "targets", "[N]");
  const int64_t N = targets.numel(), V = logits.dim(1);
  if (N == 0) return;
  cudaStream_t st = stream_for(targets.device.index);
  CheckRecord* rec = check_slot(targets.device.index);
  bad_target_kernel<<<blocks_for(N), 256, 0, st>>>(ci(targets), N, V, ignore, &rec->first);
  launch_check("bad_target_kernel");
  finish_check(rec, st, code, targets.raw(), true, check_dims(targets.shape), V, ignore);
}

int64_t ignore_of(const Napi::Object& opts) { return opt_int(opts, "ignoreIndex", -100); }

Napi::Value CrossEntropyCuda(const Napi::CallbackInfo& info) {
  Tensor logits = arg_cuda_f32(info, 0, "logits");
  Tensor targets = arg_cuda_i32(info, 1, "targets");
  const int64_t ignore = ignore_of(arg_object(info, 2, "options"));
  check_targets(logits, targets, ignore, kCheckTargetsForward);
  const int64_t N = logits.dim(0), V = logits.dim(1);
  Tensor loss = empty({N}, DType::F32, logits.device), lse = empty({N}, DType::F32, logits.device);
  if (N) {
    ce_kernel<<<row_grid(N), kT, 0, stream_for(logits.device.index)>>>(cf(logits), ci(targets), mf(loss), mf(lse), N, V, ignore);
    launch_check("ce_kernel");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("loss", wrap(info.Env(), loss));
  res.Set("lse", wrap(info.Env(), lse));
  return res;
}
RECLIN_EXPORT("crossEntropyCuda", CrossEntropyCuda)

Napi::Value CrossEntropyBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dloss = arg_cuda_f32(info, 0, "dLoss");
  Tensor logits = arg_cuda_f32(info, 1, "logits");
  Tensor targets = arg_cuda_i32(info, 2, "targets");
  Tensor lse = arg_cuda_f32(info, 3, "lse");
  const int64_t ignore = ignore_of(arg_object(info, 4, "options"));
  check_targets(logits, targets, ignore, kCheckTargetsBackward);
  const int64_t N = logits.dim(0), V = logits.dim(1);
  expect_same_device(logits, dloss, "logits", "dLoss");
  expect_same_device(logits, lse, "logits", "lse");
  expect_shape(dloss, {N}, "dLoss", "[N]");
  expect_shape(lse, {N}, "lse", "[N]");
  Tensor dx = empty({N, V}, DType::F32, logits.device);
  if (N * V) {
    ce_bwd_kernel<<<blocks_for(N * V), 256, 0, stream_for(logits.device.index)>>>(cf(dloss), cf(logits), ci(targets), cf(lse),
                                                                               mf(dx), N, V, ignore);
    launch_check("ce_bwd_kernel");
  }
  return wrap(info.Env(), dx);
}
RECLIN_EXPORT("crossEntropyBackwardCuda", CrossEntropyBackwardCuda)

}  // namespace
}  // namespace reclin
