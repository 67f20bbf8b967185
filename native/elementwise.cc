// Elementwise ops: broadcasting binary add/sub/mul/div, unary maps, scalar ops, fills, copies and the
// in-place updates used by optimisers and gradient accumulation.
#include <cmath>
#include <cstring>

#include "op_util.h"
#include "vec_math.h"

namespace reclin {

// numpy broadcasting of two shapes; names both arguments on failure.
std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ArgError("b: shape " + shape_string(b) + " does not broadcast with a's shape " + shape_string(a) +
                     " (dimension " + std::to_string(i) + ": " + std::to_string(da) + " vs " + std::to_string(db) + ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// Element strides of `shape` aligned to `out` (0 along broadcast dimensions).
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    int o = i + static_cast<int>(out.size() - shape.size());
    st[o] = shape[i] == 1 ? 0 : s;
    s *= shape[i];
  }
  return st;
}

enum class BinOp { Add, Sub, Mul, Div };

template <BinOp op>
inline float apply(float x, float y) {
  if constexpr (op == BinOp::Add) return x + y;
  if constexpr (op == BinOp::Sub) return x - y;
  if constexpr (op == BinOp::Mul) return x * y;
  return x / y;
}

template <BinOp op>
void binary_row(const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n) {
  if (sa == 1 && sb == 1)
    for (int64_t i = 0; i < n; ++i) o[i] = apply<op>(a[i], b[i]);
  else if (sa == 1 && sb == 0) {
    const float y = *b;
    for (int64_t i = 0; i < n; ++i) o[i] = apply<op>(a[i], y);
  } else if (sa == 0 && sb == 1) {
    const float x = *a;
    for (int64_t i = 0; i < n; ++i) o[i] = apply<op>(x, b[i]);
  } else
    for (int64_t i = 0; i < n; ++i) o[i] = apply<op>(a[i * sa], b[i * sb]);
}

template <BinOp op>
Tensor binary(const Tensor& a, const Tensor& b) {
  std::vector<int64_t> shape = broadcast_shapes(a.shape, b.shape);
  Tensor out = empty(shape);
  const int64_t total = out.numel();
  if (total == 0) return out;
  std::vector<int64_t> st_a = broadcast_strides(a.shape, shape), st_b = broadcast_strides(b.shape, shape);
  // Coalesce dimensions that are contiguous for both inputs so the inner loop is as long as possible.
  std::vector<int64_t> dims, sa, sb;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!dims.empty() && sa.back() == st_a[i] * shape[i] && sb.back() == st_b[i] * shape[i]) {
      dims.back() *= shape[i];
      sa.back() = st_a[i];
      sb.back() = st_b[i];
    } else {
      dims.push_back(shape[i]);
      sa.push_back(st_a[i]);
      sb.push_back(st_b[i]);
    }
  }
  if (dims.empty()) {
    dims = {1};
    sa = {0};
    sb = {0};
  }
  const int nd = static_cast<int>(dims.size());
  const int64_t inner = dims[nd - 1], rows = total / inner;
  const float *pa = a.f32(), *pb = b.f32();
  float* po = out.f32();
#pragma omp parallel for schedule(static) if (total > kStreamGrain)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, oa = 0, ob = 0;
    for (int d = nd - 2; d >= 0; --d) {
      int64_t idx = rem % dims[d];
      rem /= dims[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    binary_row<op>(pa + oa, sa[nd - 1], pb + ob, sb[nd - 1], po + r * inner, inner);
  }
  return out;
}

Napi::Value Binary(const Napi::CallbackInfo& info) {
  Tensor a = arg_f32(info, 0, "a"), b = arg_f32(info, 1, "b");
  std::string kind = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  Tensor out;
  if (kind == "add") out = binary<BinOp::Add>(a, b);
  else if (kind == "sub") out = binary<BinOp::Sub>(a, b);
  else if (kind == "mul") out = binary<BinOp::Mul>(a, b);
  else if (kind == "div") out = binary<BinOp::Div>(a, b);
  else throw ArgError("op: unknown binary op '" + kind + "' (allowed: add, sub, mul, div)");
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("binary", Binary)

template <class F>
Tensor map_unary(const Tensor& x, F f) {
  Tensor out = empty(x.shape);
  const float* px = x.f32();
  float* po = out.f32();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) po[i] = f(px[i]);
  return out;
}

// unary(x, kind, s): scale, addScalar, neg, exp, log, sqrt, square, tanh.
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x");
  std::string kind = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  const float s = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().FloatValue() : 0.f;
  Tensor out;
  if (kind == "scale") out = map_unary(x, [s](float v) { return v * s; });
  else if (kind == "addScalar") out = map_unary(x, [s](float v) { return v + s; });
  else if (kind == "neg") out = map_unary(x, [](float v) { return -v; });
  else if (kind == "exp") {
    out = empty(x.shape);
    const float* px = x.f32();
    float* po = out.f32();
    const int64_t n = x.numel(), blocks = (n + 4095) / 4096;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t b = 0; b < blocks; ++b) vec::exp_scaled(px + b * 4096, std::min<int64_t>(4096, n - b * 4096), 0.f, 1.f, po + b * 4096);
  }
  else if (kind == "log") out = map_unary(x, [](float v) { return std::log(v); });
  else if (kind == "sqrt") out = map_unary(x, [](float v) { return std::sqrt(v); });
  else if (kind == "square") out = map_unary(x, [](float v) { return v * v; });
  else if (kind == "tanh") out = map_unary(x, [](float v) { return std::tanh(v); });
  else throw ArgError("op: unknown unary op '" + kind + "'");
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("unary", Unary)

Napi::Value Full(const Napi::CallbackInfo& info) {
  std::vector<int64_t> shape = arg_shape(info, 0, "shape");
  const float v = static_cast<float>(arg_number(info, 1, "value"));
  Tensor out = empty(shape);
  float* po = out.f32();
  const int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) po[i] = v;
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("full", Full)

Napi::Value Copy(const Napi::CallbackInfo& info) {
  Tensor x = arg_tensor(info, 0, "x");
  expect_cpu(x, "x");
  Tensor out = empty(x.shape, x.dtype);
  if (x.nbytes()) std::memcpy(out.raw(), x.raw(), x.nbytes());
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("copy", Copy)

// cast(x, dtype): a copy of an f32 or bf16 tensor as f32 or bf16 (to bf16: round to nearest even).
static DType cast_target(const Napi::CallbackInfo& info) {
  const std::string d = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (d == "f32") return DType::F32;
  if (d == "bf16") return DType::BF16;
  throw ArgError("dtype: expected \"f32\" or \"bf16\", got " + (info[1].IsString() ? "\"" + d + "\"" : std::string("a non-string")));
}
Napi::Value Cast(const Napi::CallbackInfo& info) {
  Tensor x = arg_tensor(info, 0, "x");
  expect_cpu(x, "x");
  const DType to = cast_target(info);
  if (x.dtype == DType::I32) throw ArgError("x: expected dtype f32 or bf16, got i32");
  Tensor out = empty(x.shape, to);
  const int64_t n = x.numel();
  if (x.dtype == to) {
    if (x.nbytes()) std::memcpy(out.raw(), x.raw(), x.nbytes());
  } else if (to == DType::BF16) {
    const uint32_t* s = static_cast<const uint32_t*>(x.raw());
    uint16_t* d = static_cast<uint16_t*>(out.raw());
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16_bits(s[i]);
  } else {
    const uint16_t* s = static_cast<const uint16_t*>(x.raw());
    uint32_t* d = static_cast<uint32_t*>(out.raw());
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<uint32_t>(s[i]) << 16;
  }
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("cast", Cast)

// addInPlace(dst, src, alpha): dst += alpha * src (same shape).
Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
  Tensor dst = arg_f32(info, 0, "dst"), src = arg_f32(info, 1, "src");
  const float alpha = static_cast<float>(arg_number(info, 2, "alpha"));
  expect_same_shape(src, dst, "src", "dst");
  float* d = dst.f32();
  const float* s = src.f32();
  const int64_t n = dst.numel();
  if (alpha == 1.f) {
#pragma omp parallel for schedule(static) if (n > kStreamGrain)
    for (int64_t i = 0; i < n; ++i) d[i] += s[i];
  } else {
#pragma omp parallel for schedule(static) if (n > kStreamGrain)
    for (int64_t i = 0; i < n; ++i) d[i] += alpha * s[i];
  }
  return info.Env().Undefined();
}
RECLIN_EXPORT("addInPlace", AddInPlace)

Napi::Value ScaleInPlace(const Napi::CallbackInfo& info) {
  Tensor dst = arg_f32(info, 0, "dst");
  const float s = static_cast<float>(arg_number(info, 1, "s"));
  float* d = dst.f32();
  const int64_t n = dst.numel();
#pragma omp parallel for schedule(static) if (n > kStreamGrain)
  for (int64_t i = 0; i < n; ++i) d[i] *= s;
  return info.Env().Undefined();
}
RECLIN_EXPORT("scaleInPlace", ScaleInPlace)

Napi::Value CopyInPlace(const Napi::CallbackInfo& info) {
  Tensor dst = arg_tensor(info, 0, "dst"), src = arg_tensor(info, 1, "src");
  expect_cpu(dst, "dst");
  expect_cpu(src, "src");
  expect_dtype(src, dst.dtype, "src");
  expect_same_shape(src, dst, "src", "dst");
  if (dst.nbytes() && dst.raw() != src.raw()) std::memmove(dst.raw(), src.raw(), dst.nbytes());
  return info.Env().Undefined();
}
RECLIN_EXPORT("copyInPlace", CopyInPlace)

}  // namespace
}  // namespace reclin
