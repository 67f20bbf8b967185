// Reductions: sum/mean over dimensions, sumToShape (the backward of broadcasting), sumSquares, softmax and
// argmax over the last dimension. Sums accumulate in double in a fixed order (per output element, or in
// fixed-size chunks combined in order), so results never depend on the thread count.
#include <algorithm>
#include <cmath>

#include "op_util.h"
#include "vec_math.h"

namespace reclin {
namespace {

constexpr int64_t kChunk = 1 << 14;  // fixed chunk of a full reduction (independent of threads)

double sum_all(const float* x, int64_t n, bool squares) {
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(static_cast<size_t>(nchunks));
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t lo = c * kChunk, hi = std::min(n, lo + kChunk);
    double s = 0;
    if (squares)
      for (int64_t i = lo; i < hi; ++i) s += static_cast<double>(x[i]) * x[i];
    else
      for (int64_t i = lo; i < hi; ++i) s += x[i];
    part[c] = s;
  }
  double s = 0;
  for (double p : part) s += p;
  return s;
}

struct Group {
  int64_t size, stride;
};

// Sums x over every dimension where keep[i] is false (x contiguous). The output holds the kept dimensions
// in order, contiguous. Returns the output element count via `out` (pre-sized by the caller).
void reduce_dims(const Tensor& x, const std::vector<bool>& keep, float* out, double scale) {
  const float* px = x.f32();
  std::vector<Group> kept, red;
  bool inner_kept = false, have_last = false, last_kept = false;
  int64_t stride = 1;
  // Walk from the innermost dimension out, merging neighbours with the same role.
  for (int i = x.ndim() - 1; i >= 0; --i) {
    const int64_t s = x.shape[i];
    if (s != 1) {
      std::vector<Group>& g = keep[i] ? kept : red;
      if (have_last && last_kept == keep[i]) g.back().size *= s;
      else {
        g.push_back({s, stride});
        if (!have_last) inner_kept = keep[i];
      }
      have_last = true;
      last_kept = keep[i];
    }
    stride *= s;
  }
  std::reverse(kept.begin(), kept.end());
  std::reverse(red.begin(), red.end());
  int64_t n_out = 1, n_red = 1;
  for (auto& g : kept) n_out *= g.size;
  for (auto& g : red) n_red *= g.size;
  if (n_out == 0) return;
  if (n_red == 0) {
    for (int64_t o = 0; o < n_out; ++o) out[o] = 0.f;
    return;
  }
  if (kept.empty()) {
    out[0] = static_cast<float>(sum_all(px, x.numel(), false) * scale);
    return;
  }
  // Offset in x of reduced multi-index r (0 <= r < n_red).
  auto red_offset = [&](int64_t r) {
    int64_t off = 0;
    for (int d = static_cast<int>(red.size()) - 1; d >= 0; --d) {
      off += (r % red[d].size) * red[d].stride;
      r /= red[d].size;
    }
    return off;
  };
  auto kept_offset = [&](int64_t o) {
    int64_t off = 0;
    for (int d = static_cast<int>(kept.size()) - 1; d >= 0; --d) {
      off += (o % kept[d].size) * kept[d].stride;
      o /= kept[d].size;
    }
    return off;
  };
  if (!inner_kept) {
    // Innermost run is reduced and contiguous: each output sums n_red elements, runs of red.back().size.
    const int64_t run = red.back().size, n_runs = n_red / run;
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
    for (int64_t o = 0; o < n_out; ++o) {
      const float* base = px + kept_offset(o);
      double s = 0;
      for (int64_t r = 0; r < n_runs; ++r) {
        const float* p = base + red_offset(r * run);
        for (int64_t j = 0; j < run; ++j) s += p[j];
      }
      out[o] = static_cast<float>(s * scale);
    }
  } else {
    // Innermost run is kept: add whole contiguous rows of width S into a block of accumulators.
    const int64_t S = kept.back().size, n_rows = n_out / S;
    constexpr int64_t W = 256;
    const int64_t n_blocks = (S + W - 1) / W;
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
    for (int64_t t = 0; t < n_rows * n_blocks; ++t) {
      const int64_t row = t / n_blocks, j0 = (t % n_blocks) * W, w = std::min(W, S - j0);
      const float* base = px + kept_offset(row * S) + j0;
      double acc[W];
      for (int64_t j = 0; j < w; ++j) acc[j] = 0;
      for (int64_t r = 0; r < n_red; ++r) {
        const float* p = base + red_offset(r);
        for (int64_t j = 0; j < w; ++j) acc[j] += p[j];
      }
      for (int64_t j = 0; j < w; ++j) out[row * S + j0 + j] = static_cast<float>(acc[j] * scale);
    }
  }
}

// sum(x, dims, keepDim, mean): dims = [] reduces everything.
Napi::Value SumDims(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x");
  std::vector<bool> keep(x.ndim(), true);
  if (!info[1].IsArray()) throw ArgError("dim: expected an array of dimensions");
  Napi::Array dims = info[1].As<Napi::Array>();
  if (dims.Length() == 0) std::fill(keep.begin(), keep.end(), false);
  for (uint32_t i = 0; i < dims.Length(); ++i) {
    Napi::Value v = dims.Get(i);
    int d = norm_dim(int_value(v, "dim"), x.ndim(), "dim");
    keep[d] = false;
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
  Tensor out = empty(shape);
  double scale = mean ? (count ? 1.0 / static_cast<double>(count) : NAN) : 1.0;
  reduce_dims(x, keep, out.f32(), scale);
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("sumDims", SumDims)

// sumToShape(x, shape): sums away the dimensions along which `shape` was broadcast to x.shape.
Napi::Value SumToShape(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x");
  std::vector<int64_t> shape = arg_shape(info, 1, "shape");
  const std::vector<bool> keep = sum_to_shape_keep(x, shape);
  Tensor out = empty(shape);
  reduce_dims(x, keep, out.f32(), 1.0);
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("sumToShape", SumToShape)

// sumSquares(tensors): sum of squares of every element, in double, in a fixed order.
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  std::vector<Tensor> ts = arg_tensor_list(info, 0, "tensors");
  double s = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    std::string nm = "tensors[" + std::to_string(i) + "]";
    expect_cpu(ts[i], nm.c_str());
    expect_dtype(ts[i], DType::F32, nm.c_str());
    s += sum_all(ts[i].f32(), ts[i].numel(), true);
  }
  return Napi::Number::New(info.Env(), s);
}
RECLIN_EXPORT("sumSquares", SumSquares)

// softmax over the last dimension.
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x");
  expect_min_ndim(x, 1, "x", "[...,D]");
  Tensor y = empty(x.shape);
  const int64_t D = x.dim(-1), R = D == 0 ? 0 : leading_rows(x);  // empty rows: nothing to do, however many
  const float* px = x.f32();
  float* py = y.f32();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* a = px + r * D;
    float* o = py + r * D;
    const double s = vec::exp_sum(a, D, vec::max(a, D), o);
    const float inv = static_cast<float>(1.0 / s);
    for (int64_t j = 0; j < D; ++j) o[j] *= inv;
  }
  return wrap(info.Env(), y);
}
RECLIN_EXPORT("softmax", Softmax)

// argmax over the last dimension (first index of the maximum) -> i32 [...].
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  Tensor x = arg_f32(info, 0, "x");
  expect_argmax_input(x);
  const int64_t D = x.dim(-1), R = leading_rows(x);
  Tensor y = empty(without_last(x.shape), DType::I32);
  const float* px = x.f32();
  int32_t* py = y.i32();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* a = px + r * D;
    int64_t best = 0;
    for (int64_t j = 1; j < D; ++j)
      if (a[j] > a[best]) best = j;
    py[r] = static_cast<int32_t>(best);
  }
  return wrap(info.Env(), y);
}
RECLIN_EXPORT("argmax", Argmax)

}  // namespace
}  // namespace reclin
