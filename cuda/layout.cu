// Data-movement ops on CUDA, the twins of native/embedding.cc, native/conv.cc and native/shape_ops.cc:
// embedding (+ backward), causal depthwise short conv (+ backward), concat, slice (+ backward), transpose.
// Same arguments and checks as the CPU ops. Gradient sums run in a fixed order (no atomics on data), compensated fp32.
#include <napi.h>

#include <algorithm>
#include <string>

#include <cub/device/device_radix_sort.cuh>

#include "cuda_util.cuh"

namespace reclin {
namespace {

#include "layout_kernels.cuh"
#include "device_check.cuh"

constexpr int64_t kConvDwChunks = 64;  // row segments of the conv weight gradient (combined in order)

// ---- embedding ---------------------------------------------------------------------------------------------

// ids in [0, V), checked on the device: the first bad position is reported at the next synchronisation
// (the embedding kernels skip bad ids meanwhile).
void check_ids(const Tensor& ids, int64_t V, CheckCode code) {
  const int64_t n = ids.numel();
  if (n == 0) return;
  cudaStream_t st = stream_for(ids.device.index);
  CheckRecord* rec = check_slot(ids.device.index);
  bad_id_kernel<<<blocks_for(n), 256, 0, st>>>(ci(ids), n, V, &rec->first);
  launch_check("bad_id_kernel");
  finish_check(rec, st, code, ids.raw(), true, check_dims(ids.shape), V);
}

Napi::Value EmbeddingCuda(const Napi::CallbackInfo& info) {
  Tensor w = arg_cuda_f32(info, 0, "weight");
  expect_ndim(w, 2, "weight", "[V,D]");
  Tensor ids = arg_cuda_i32(info, 1, "ids");
  expect_same_device(w, ids, "weight", "ids");
  const int64_t V = w.dim(0), D = w.dim(1), n = ids.numel();
  check_ids(ids, V, kCheckIdsForward);
  std::vector<int64_t> shape = ids.shape;
  shape.push_back(D);
  Tensor out = empty(shape, DType::F32, w.device);
  if (n * D) {
    embedding_kernel<<<blocks_for(n * D), 256, 0, stream_for(w.device.index)>>>(cf(w), ci(ids), mf(out), n, D, V);
    launch_check("embedding_kernel");
  }
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("embeddingCuda", EmbeddingCuda)

Napi::Value EmbeddingBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dout = arg_cuda_f32(info, 0, "dOut");
  Tensor ids = arg_cuda_i32(info, 1, "ids");
  expect_same_device(dout, ids, "dOut", "ids");
  const int64_t V = arg_int(info, 2, "V");
  expect_embedding_backward_shapes(dout, ids, V);
  const int64_t D = dout.dim(-1), n = ids.numel();
  check_ids(ids, V, kCheckIdsBackward);
  Tensor dw = zeros({V, D}, DType::F32, dout.device);
  if (n && D) {
    if (n > 0x7fffffffLL) throw ArgError("ids: " + std::to_string(n) + " ids are more than the CUDA embedding backward takes (2^31-1)");
    // Sort (id, position) by id with CUB's stable radix sort, then one owner per distinct id (embedding_bwd_segments).
    cudaStream_t st = stream_for(dout.device.index);
    const int nn = static_cast<int>(n);
    Tensor pos = empty({n}, DType::I32, dout.device), sorted_ids = empty({n}, DType::I32, dout.device),
           sorted_pos = empty({n}, DType::I32, dout.device);
    iota_kernel<<<blocks_for(n), 256, 0, st>>>(mi(pos), n);
    launch_check("iota_kernel");
    size_t temp_bytes = 0;
    cuda_check(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, ci(ids), mi(sorted_ids), ci(pos), mi(sorted_pos), nn, 0,
                                               32, st),
               "cub::DeviceRadixSort::SortPairs (size)");
    Tensor temp = empty({static_cast<int64_t>(temp_bytes / 4) + 1}, DType::I32, dout.device);  // CUB scratch
    cuda_check(cub::DeviceRadixSort::SortPairs(temp.raw(), temp_bytes, ci(ids), mi(sorted_ids), ci(pos), mi(sorted_pos), nn,
                                               0, 32, st),
               "cub::DeviceRadixSort::SortPairs");
    const dim3 grid(static_cast<unsigned>(std::min<int64_t>(n, 65535 * 8)), static_cast<unsigned>(std::min<int64_t>((D + 127) / 128, 64)));
    embedding_bwd_segments<<<grid, 128, 0, st>>>(cf(dout), ci(sorted_ids), ci(sorted_pos), mf(dw), n, D, V);
    launch_check("embedding_bwd_segments");
  }
  return wrap(info.Env(), dw);
}
RECLIN_EXPORT("embeddingBackwardCuda", EmbeddingBackwardCuda)

// ---- short conv --------------------------------------------------------------------------------------------

void check_conv(const Tensor& x, const Tensor& w) {
  expect_conv_shapes(x, w);
  expect_same_device(x, w, "x", "w");
}

Napi::Value ShortConvCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_cuda_f32(info, 0, "x"), w = arg_cuda_f32(info, 1, "w");
  check_conv(x, w);
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2), W = w.dim(1);
  Tensor y = empty(x.shape, DType::F32, x.device);
  if (x.numel()) {
    conv_kernel<<<blocks_for(x.numel()), 256, 0, stream_for(x.device.index)>>>(cf(x), cf(w), mf(y), B, T, C, W);
    launch_check("conv_kernel");
  }
  return wrap(info.Env(), y);
}
RECLIN_EXPORT("shortConvCuda", ShortConvCuda)

Napi::Value ShortConvBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dy = arg_cuda_f32(info, 0, "dy"), x = arg_cuda_f32(info, 1, "x"), w = arg_cuda_f32(info, 2, "w");
  check_conv(x, w);
  expect_same_device(x, dy, "x", "dy");
  if (dy.shape != x.shape)
    throw ArgError("dy: expected the shape of x " + x.shape_str() + ", got " + dy.shape_str());
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2), W = w.dim(1);
  cudaStream_t st = stream_for(x.device.index);
  Tensor dx = empty(x.shape, DType::F32, x.device), dw = empty({C, W}, DType::F32, x.device);
  if (x.numel()) {
    conv_dx_kernel<<<blocks_for(x.numel()), 256, 0, st>>>(cf(dy), cf(w), mf(dx), B, T, C, W);
    launch_check("conv_dx_kernel");
  }
  if (C * W) {
    const int64_t nchunks = std::max<int64_t>(1, std::min<int64_t>(B * T, kConvDwChunks)),
                  chunk = std::max<int64_t>(1, (B * T + nchunks - 1) / nchunks);
    Tensor part = empty({nchunks, C * W}, DType::F32, x.device);
    const unsigned gx = static_cast<unsigned>((C * W + 127) / 128);
    conv_dw_partial<<<dim3(gx, static_cast<unsigned>(nchunks)), 128, 0, st>>>(cf(dy), cf(x), mf(part), B, T, C, W, chunk);
    launch_check("conv_dw_partial");
    conv_dw_final<<<gx, 128, 0, st>>>(cf(part), mf(dw), C * W, nchunks);
    launch_check("conv_dw_final");
  }
  Napi::Object res = Napi::Object::New(info.Env());
  res.Set("dx", wrap(info.Env(), dx));
  res.Set("dw", wrap(info.Env(), dw));
  return res;
}
RECLIN_EXPORT("shortConvBackwardCuda", ShortConvBackwardCuda)

// ---- shape ops (any dtype) -----------------------------------------------------------------------------------

// `outer` rows of `width` bytes, strided copies (cudaMemcpy2D does the gather/scatter).
void copy_rows(void* dst, int64_t dpitch, const void* src, int64_t spitch, int64_t width, int64_t outer, cudaStream_t st) {
  if (width == 0 || outer == 0) return;
  if (outer == 1) {
    cuda_check(cudaMemcpyAsync(dst, src, static_cast<size_t>(width), cudaMemcpyDeviceToDevice, st), "cudaMemcpyAsync");
    return;
  }
  cuda_check(cudaMemcpy2DAsync(dst, static_cast<size_t>(dpitch), src, static_cast<size_t>(spitch), static_cast<size_t>(width),
                               static_cast<size_t>(outer), cudaMemcpyDeviceToDevice, st),
             "cudaMemcpy2DAsync");
}

Napi::Value ConcatCuda(const Napi::CallbackInfo& info) {
  std::vector<Tensor> ts = arg_tensor_list(info, 0, "tensors");
  if (ts.empty()) throw ArgError("tensors: expected at least one tensor");
  const Tensor& t0 = ts[0];
  expect_cuda(t0, "tensors[0]");
  const int dim = norm_dim(arg_int(info, 1, "dim"), t0.ndim(), "dim");
  for (size_t i = 0; i < ts.size(); ++i) {
    const std::string nm = "tensors[" + std::to_string(i) + "]";
    expect_cuda(ts[i], nm.c_str());
    expect_same_device(t0, ts[i], "tensors[0]", nm.c_str());
  }
  const std::vector<int64_t> shape = concat_shape(ts, dim);
  Tensor out = empty(shape, t0.dtype, t0.device);
  const int64_t es = static_cast<int64_t>(dtype_size(t0.dtype));
  const int64_t outer = shape_product(shape, 0, dim), inner = shape_product(shape, dim + 1, static_cast<int>(shape.size())) * es;
  cudaStream_t st = stream_for(t0.device.index);
  int64_t offset = 0;
  for (const Tensor& t : ts) {
    const int64_t len = t.shape[dim] * inner;
    copy_rows(static_cast<uint8_t*>(out.raw()) + offset, shape[dim] * inner, t.raw(), len, len, outer, st);
    offset += len;
  }
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("concatCuda", ConcatCuda)

Napi::Value SliceCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_tensor(info, 0, "x");
  expect_cuda(x, "x");
  const SliceRange r = slice_range(x, arg_int(info, 1, "dim"), arg_int(info, 2, "start"), arg_int(info, 3, "end"));
  const int dim = r.dim;
  const int64_t n = x.shape[dim], start = r.start;
  const std::vector<int64_t>& shape = r.out;
  Tensor out = empty(shape, x.dtype, x.device);
  const int64_t es = static_cast<int64_t>(dtype_size(x.dtype));
  const int64_t outer = shape_product(shape, 0, dim), inner = shape_product(shape, dim + 1, static_cast<int>(shape.size())) * es;
  const int64_t len = shape[dim] * inner;
  copy_rows(out.raw(), len, static_cast<const uint8_t*>(x.raw()) + start * inner, n * inner, len, outer,
            stream_for(x.device.index));
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("sliceCuda", SliceCuda)

Napi::Value SliceBackwardCuda(const Napi::CallbackInfo& info) {
  Tensor dy = arg_tensor(info, 0, "dy");
  expect_cuda(dy, "dy");
  std::vector<int64_t> shape = arg_shape(info, 1, "inputShape");
  const int dim = norm_dim(arg_int(info, 2, "dim"), static_cast<int>(shape.size()), "dim");
  const int64_t start = slice_backward_start(dy, shape, dim, arg_int(info, 3, "start"));
  Tensor out = zeros(shape, dy.dtype, dy.device);
  const int64_t es = static_cast<int64_t>(dtype_size(dy.dtype));
  const int64_t outer = shape_product(shape, 0, dim), inner = shape_product(shape, dim + 1, static_cast<int>(shape.size())) * es;
  const int64_t len = dy.shape[dim] * inner;
  copy_rows(static_cast<uint8_t*>(out.raw()) + start * inner, shape[dim] * inner, dy.raw(), len, len, outer,
            stream_for(dy.device.index));
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("sliceBackwardCuda", SliceBackwardCuda)

Napi::Value TransposeCuda(const Napi::CallbackInfo& info) {
  Tensor x = arg_tensor(info, 0, "x");
  expect_cuda(x, "x");
  const int d0 = norm_dim(arg_int(info, 1, "dim0"), x.ndim(), "dim0");
  const int d1 = norm_dim(arg_int(info, 2, "dim1"), x.ndim(), "dim1");
  const int nd = x.ndim();
  if (nd > kMaxDims) throw ArgError("x: more than 12 dimensions are not supported on cuda");
  Perm p{};
  p.nd = nd;
  int64_t s = 1;
  for (int i = nd - 1; i >= 0; --i) {
    p.istride[i] = s;
    p.oshape[i] = x.shape[i];
    s *= x.shape[i];
  }
  std::swap(p.oshape[d0], p.oshape[d1]);
  std::swap(p.istride[d0], p.istride[d1]);
  std::vector<int64_t> oshape(p.oshape, p.oshape + nd);
  Tensor out = empty(oshape, x.dtype, x.device);
  const int64_t n = out.numel();
  if (n == 0) return wrap(info.Env(), out);
  cudaStream_t st = stream_for(x.device.index);
  if (dtype_size(x.dtype) == 4)
    transpose_kernel<uint32_t><<<blocks_for(n), 256, 0, st>>>(static_cast<const uint32_t*>(x.raw()), static_cast<uint32_t*>(out.raw()), n, p);
  else
    transpose_kernel<uint16_t><<<blocks_for(n), 256, 0, st>>>(static_cast<const uint16_t*>(x.raw()), static_cast<uint16_t*>(out.raw()), n, p);
  launch_check("transpose_kernel");
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("transposeCuda", TransposeCuda)

}  // namespace
}  // namespace reclin
