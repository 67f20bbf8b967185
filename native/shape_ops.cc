// Shape ops that move data: concat, slice (and its backward), materialised transpose. Any dtype.
#include <cstring>

#include "op_util.h"

namespace reclin {
namespace {

// Copies `outer` blocks of `src_len` bytes (source stride src_len) to a destination with stride dst_stride.
void copy_blocks(const uint8_t* src, int64_t src_len, uint8_t* dst, int64_t dst_stride, int64_t outer) {
#pragma omp parallel for schedule(static) if (outer * src_len > 4 * kStreamGrain)
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * dst_stride, src + o * src_len, src_len);
}

// concat(tensors, dim)
Napi::Value Concat(const Napi::CallbackInfo& info) {
  std::vector<Tensor> ts = arg_tensor_list(info, 0, "tensors");
  if (ts.empty()) throw ArgError("tensors: expected at least one tensor");
  const Tensor& t0 = ts[0];
  expect_cpu(t0, "tensors[0]");
  const int dim = norm_dim(arg_int(info, 1, "dim"), t0.ndim(), "dim");
  for (size_t i = 0; i < ts.size(); ++i) expect_cpu(ts[i], ("tensors[" + std::to_string(i) + "]").c_str());
  const std::vector<int64_t> shape = concat_shape(ts, dim);
  Tensor out = empty(shape, t0.dtype);
  const int64_t es = static_cast<int64_t>(dtype_size(t0.dtype));
  const int64_t outer = shape_product(shape, 0, dim), inner = shape_product(shape, dim + 1, static_cast<int>(shape.size())) * es;
  uint8_t* po = static_cast<uint8_t*>(out.raw());
  int64_t offset = 0;
  for (const Tensor& t : ts) {
    const int64_t len = t.shape[dim] * inner;
    if (len) copy_blocks(static_cast<const uint8_t*>(t.raw()), len, po + offset, shape[dim] * inner, outer);
    offset += len;
  }
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("concat", Concat)

// slice(x, dim, start, end): elements start..end-1 along dim (negative indices count from the end).
Napi::Value Slice(const Napi::CallbackInfo& info) {
  Tensor x = arg_tensor(info, 0, "x");
  expect_cpu(x, "x");
  const SliceRange r = slice_range(x, arg_int(info, 1, "dim"), arg_int(info, 2, "start"), arg_int(info, 3, "end"));
  const int dim = r.dim;
  const int64_t n = x.shape[dim], start = r.start;
  const std::vector<int64_t>& shape = r.out;
  Tensor out = empty(shape, x.dtype);
  const int64_t es = static_cast<int64_t>(dtype_size(x.dtype));
  const int64_t outer = shape_product(shape, 0, dim), inner = shape_product(shape, dim + 1, static_cast<int>(shape.size())) * es;
  const int64_t len = shape[dim] * inner;
  const uint8_t* src = static_cast<const uint8_t*>(x.raw()) + start * inner;
  uint8_t* dst = static_cast<uint8_t*>(out.raw());
  if (len) {
#pragma omp parallel for schedule(static) if (outer * len > 4 * kStreamGrain)
    for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * len, src + o * n * inner, len);
  }
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("slice", Slice)

// sliceBackward(dy, inputShape, dim, start): zeros of inputShape with dy placed at [start, start+len).
Napi::Value SliceBackward(const Napi::CallbackInfo& info) {
  Tensor dy = arg_tensor(info, 0, "dy");
  expect_cpu(dy, "dy");
  std::vector<int64_t> shape = arg_shape(info, 1, "inputShape");
  const int dim = norm_dim(arg_int(info, 2, "dim"), static_cast<int>(shape.size()), "dim");
  const int64_t start = slice_backward_start(dy, shape, dim, arg_int(info, 3, "start"));
  Tensor out = zeros(shape, dy.dtype);
  const int64_t es = static_cast<int64_t>(dtype_size(dy.dtype));
  const int64_t outer = shape_product(shape, 0, dim), inner = shape_product(shape, dim + 1, static_cast<int>(shape.size())) * es;
  const int64_t len = dy.shape[dim] * inner;
  if (len)
    copy_blocks(static_cast<const uint8_t*>(dy.raw()), len, static_cast<uint8_t*>(out.raw()) + start * inner,
                shape[dim] * inner, outer);
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("sliceBackward", SliceBackward)

// sliceAccumulate(dst, dy, dim, start): dst[start, start+len) along dim += dy, in place (f32): sliceBackward added
// into a gradient autograd already holds, without the zero-padded tensor and a separate add.
Napi::Value SliceAccumulate(const Napi::CallbackInfo& info) {
  Tensor dst = arg_f32(info, 0, "dst"), dy = arg_f32(info, 1, "dy");
  if (dst.raw() == dy.raw()) throw ArgError("dst: must not share storage with dy");
  const int dim = norm_dim(arg_int(info, 2, "dim"), dst.ndim(), "dim");
  const int64_t start = slice_backward_start(dy, dst.shape, dim, arg_int(info, 3, "start"));
  const int64_t outer = shape_product(dst.shape, 0, dim), inner = shape_product(dst.shape, dim + 1, dst.ndim());
  const int64_t len = dy.shape[dim] * inner, stride = dst.shape[dim] * inner;
  const float* s = dy.f32();
  float* d = dst.f32() + start * inner;
#pragma omp parallel for schedule(static) if (outer * len > kStreamGrain)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < len; ++j) d[o * stride + j] += s[o * len + j];
  return info.Env().Undefined();
}
RECLIN_EXPORT("sliceAccumulate", SliceAccumulate)

template <class E>
void transpose_copy(const E* src, E* dst, const std::vector<int64_t>& oshape, const std::vector<int64_t>& istride) {
  const int nd = static_cast<int>(oshape.size());
  const int64_t inner = oshape[nd - 1], s_in = istride[nd - 1];
  const int64_t rows = shape_product(oshape, 0, nd - 1);
#pragma omp parallel for schedule(static) if (rows * inner > kStreamGrain)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, off = 0;
    for (int d = nd - 2; d >= 0; --d) {
      off += (rem % oshape[d]) * istride[d];
      rem /= oshape[d];
    }
    E* o = dst + r * inner;
    const E* s = src + off;
    for (int64_t j = 0; j < inner; ++j) o[j] = s[j * s_in];
  }
}

// transpose(x, dim0, dim1): a new contiguous tensor with the two dimensions swapped.
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  Tensor x = arg_tensor(info, 0, "x");
  expect_cpu(x, "x");
  const int d0 = norm_dim(arg_int(info, 1, "dim0"), x.ndim(), "dim0");
  const int d1 = norm_dim(arg_int(info, 2, "dim1"), x.ndim(), "dim1");
  const int nd = x.ndim();
  std::vector<int64_t> stride(nd);
  int64_t s = 1;
  for (int i = nd - 1; i >= 0; --i) {
    stride[i] = s;
    s *= x.shape[i];
  }
  std::vector<int64_t> oshape = x.shape;
  std::swap(oshape[d0], oshape[d1]);
  std::swap(stride[d0], stride[d1]);
  Tensor out = empty(oshape, x.dtype);
  if (out.numel() == 0) return wrap(info.Env(), out);
  if (dtype_size(x.dtype) == 4)
    transpose_copy(static_cast<const uint32_t*>(x.raw()), static_cast<uint32_t*>(out.raw()), oshape, stride);
  else
    transpose_copy(static_cast<const uint16_t*>(x.raw()), static_cast<uint16_t*>(out.raw()), oshape, stride);
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("transpose", Transpose)

}  // namespace
}  // namespace reclin
