// Shape rules shared by the CPU ops (native/) and their CUDA twins (cuda/): argument checks with named errors
// and the output shapes they imply. Device-independent, so both backends accept and refuse exactly the same input.
// The fused ops (KDA, attention, AdamW) have their rules in fused_rules.h, built on these.
#pragma once
#include <algorithm>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "binding.h"

namespace reclin {

inline std::string shape_string(const std::vector<int64_t>& shape) {
  Tensor t;
  t.shape = shape;
  return t.shape_str();
}

inline int64_t shape_product(const std::vector<int64_t>& s, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; ++i) p *= s[i];
  return p;
}

// Requires at least `min_ndim` dimensions; `layout` like "[...,D]" for the message.
inline void expect_min_ndim(const Tensor& t, int min_ndim, const char* name, const char* layout) {
  if (t.ndim() < min_ndim)
    throw ArgError(std::string(name) + ": expected at least " + std::to_string(min_ndim) + " dimension(s) " + layout +
                   ", got " + t.shape_str());
}

inline void expect_same_shape(const Tensor& t, const Tensor& ref, const char* name, const char* ref_name) {
  if (t.shape != ref.shape)
    throw ArgError(std::string(name) + ": expected the shape of " + ref_name + " " + ref.shape_str() + ", got " +
                   t.shape_str());
}

// Normalises a possibly negative dimension index; names the argument on error.
inline int norm_dim(int64_t dim, int ndim, const char* name) {
  if (dim < -ndim || dim >= ndim || ndim == 0)
    throw ArgError(std::string(name) + ": dimension " + std::to_string(dim) + " is out of range for a " +
                   std::to_string(ndim) + "-D tensor");
  return static_cast<int>(dim < 0 ? dim + ndim : dim);
}

// Kernels that index with int (KDA) refuse dimensions above INT_MAX, naming each by its letter.
inline void check_int_dims(std::initializer_list<std::pair<const char*, int64_t>> dims, const char* name) {
  for (const auto& [letter, v] : dims)
    if (v > 2147483647)
      throw ArgError(std::string(name) + ": " + letter + " = " + std::to_string(v) +
                     " is above 2147483647, the most these kernels index");
}

// Product of all dimensions but the last (the "rows" of a [..., D] tensor).
inline int64_t leading_rows(const Tensor& t) { return shape_product(t.shape, 0, t.ndim() - 1); }

inline std::vector<int64_t> without_last(const std::vector<int64_t>& s) {
  return std::vector<int64_t>(s.begin(), s.end() - (s.empty() ? 0 : 1));
}

// matmul(a, b, {transA, transB}): a [...,M,K] ([...,K,M] if transA); b [...,K,N] with a's batch dims, or 2-D
// [K,N] shared across the batch ([N,K] / [...,N,K] if transB). The result is [...,M,N].
struct MatmulShape {
  int64_t M, K, N, nbatch;
  bool shared_b;
  std::vector<int64_t> out;
};

inline MatmulShape matmul_shape(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  expect_min_ndim(a, 2, "a", ta ? "[...,K,M] (transA)" : "[...,M,K]");
  expect_min_ndim(b, 2, "b", tb ? "[...,N,K] (transB)" : "[...,K,N]");
  MatmulShape s;
  s.M = ta ? a.dim(-1) : a.dim(-2);
  s.K = ta ? a.dim(-2) : a.dim(-1);
  const int64_t Kb = tb ? b.dim(-1) : b.dim(-2);
  s.N = tb ? b.dim(-2) : b.dim(-1);
  if (Kb != s.K)
    throw ArgError(std::string("b: expected shape ") + (tb ? "[...,N,K]" : "[...,K,N]") + " with K = " +
                   std::to_string(s.K) + " (from a " + a.shape_str() + "), got " + b.shape_str());
  std::vector<int64_t> batch(a.shape.begin(), a.shape.end() - 2);
  s.shared_b = b.ndim() == 2;
  if (!s.shared_b) {
    std::vector<int64_t> bb(b.shape.begin(), b.shape.end() - 2);
    if (bb != batch)
      throw ArgError("b: batch dimensions " + shape_string(bb) + " must equal a's " + shape_string(batch) +
                     " (or b must be 2-D and shared across the batch)");
  }
  s.nbatch = shape_product(batch, 0, static_cast<int>(batch.size()));
  s.out = batch;
  s.out.push_back(s.M);
  s.out.push_back(s.N);
  return s;
}

// slice(x, dim, start, end): elements start..end-1 along dim (negative indices count from the end).
struct SliceRange {
  int dim;
  int64_t start, end;
  std::vector<int64_t> out;
};

inline SliceRange slice_range(const Tensor& x, int64_t dim_arg, int64_t start, int64_t end) {
  SliceRange r;
  r.dim = norm_dim(dim_arg, x.ndim(), "dim");
  const int64_t n = x.shape[r.dim];
  if (start < 0) start += n;
  if (end < 0) end += n;
  if (start < 0 || end > n || start > end)
    throw ArgError("start/end: slice [" + std::to_string(start) + ", " + std::to_string(end) + ") is invalid for dim " +
                   std::to_string(r.dim) + " of size " + std::to_string(n) + " (x " + x.shape_str() + ")");
  r.start = start;
  r.end = end;
  r.out = x.shape;
  r.out[r.dim] = end - start;
  return r;
}

// concat(tensors, dim): every tensor has tensors[0]'s dtype and shape except along dim. Returns the output shape.
// The caller checks the devices first (and normalises dim with norm_dim).
inline std::vector<int64_t> concat_shape(const std::vector<Tensor>& ts, int dim) {
  const Tensor& t0 = ts[0];
  std::vector<int64_t> shape = t0.shape;
  shape[dim] = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const std::string nm = "tensors[" + std::to_string(i) + "]";
    expect_dtype(ts[i], t0.dtype, nm.c_str());
    bool ok = ts[i].ndim() == t0.ndim();
    for (int d = 0; ok && d < t0.ndim(); ++d) ok = d == dim || ts[i].shape[d] == t0.shape[d];
    if (!ok)
      throw ArgError(nm + ": shape " + ts[i].shape_str() + " must match tensors[0] " + t0.shape_str() +
                     " except along dim " + std::to_string(dim));
    shape[dim] = checked_add(shape[dim], ts[i].shape[dim], "size along dim");
  }
  return shape;
}

// sliceBackward(dy, inputShape, dim, start): where dy lands in a zero tensor of inputShape. Returns the start
// (negative counts from the end) after checking that dy fits there; dim is already normalised.
inline int64_t slice_backward_start(const Tensor& dy, const std::vector<int64_t>& shape, int dim, int64_t start) {
  if (start < 0) start += shape[dim];
  bool ok = dy.ndim() == static_cast<int>(shape.size());
  for (int d = 0; ok && d < dy.ndim(); ++d) ok = d == dim || dy.shape[d] == shape[d];
  if (!ok || start < 0 || start + dy.shape[dim] > shape[dim])
    throw ArgError("dy: shape " + dy.shape_str() + " at start " + std::to_string(start) + " along dim " +
                   std::to_string(dim) + " does not fit inputShape " + shape_string(shape));
  return start;
}

// shortConv(x [B,T,C], w [C,W]) and its backward.
inline void expect_conv_shapes(const Tensor& x, const Tensor& w) {
  expect_ndim(x, 3, "x", "[B,T,C]");
  expect_ndim(w, 2, "w", "[C,W]");
  if (w.dim(0) != x.dim(2))
    throw ArgError("w: expected shape [C,W] with C = " + std::to_string(x.dim(2)) + " (from x " + x.shape_str() +
                   "), got " + w.shape_str());
}

// embeddingBackward(dOut [...ids.shape, D], ids, V): a vocabulary of at least one row.
inline void expect_embedding_backward_shapes(const Tensor& dout, const Tensor& ids, int64_t V) {
  if (V < 1) throw ArgError("V: expected a vocabulary size >= 1, got " + std::to_string(V));
  if (dout.ndim() != ids.ndim() + 1 || !std::equal(ids.shape.begin(), ids.shape.end(), dout.shape.begin()))
    throw ArgError("dOut: expected shape [...ids.shape, D] with ids " + ids.shape_str() + ", got " + dout.shape_str());
}

// sumToShape(x, shape): which dims of x survive when summing back to `shape` (right-aligned broadcasting). A size-1
// dim of x that stays 1 counts as kept (a no-op reduction either way).
inline std::vector<bool> sum_to_shape_keep(const Tensor& x, const std::vector<int64_t>& shape) {
  const int nd = x.ndim(), off = nd - static_cast<int>(shape.size());
  bool ok = off >= 0;
  std::vector<bool> keep(nd, false);
  for (int i = 0; ok && i < static_cast<int>(shape.size()); ++i) {
    if (shape[i] == x.shape[i + off]) keep[i + off] = true;
    else if (shape[i] != 1) ok = false;
  }
  if (!ok) throw ArgError("shape: " + shape_string(shape) + " does not broadcast to x's shape " + x.shape_str());
  for (int i = 0; i < static_cast<int>(shape.size()); ++i)
    if (x.shape[i + off] == 1) keep[i + off] = true;
  return keep;
}

// argmax over the last dimension: x [...,D] with D >= 1.
inline void expect_argmax_input(const Tensor& x) {
  expect_min_ndim(x, 1, "x", "[...,D]");
  if (x.dim(-1) == 0) throw ArgError("x: argmax needs a non-empty last dimension, got " + x.shape_str());
}

}  // namespace reclin
