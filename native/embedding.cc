// Token embedding lookup and its backward (a scatter-add of rows, computed per column slice so every
// weight row sums its contributions in token order whatever the thread count).
#include <cstring>

#include "op_util.h"

namespace reclin {
namespace {

void check_ids(const int32_t* ids, int64_t n, int64_t V) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V)
      throw ArgError("ids: id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                     " is out of range [0, " + std::to_string(V) + ")");
}

// embedding(weight [V,D] f32 or bf16, ids i32 [...]) -> [...,D] f32
Napi::Value Embedding(const Napi::CallbackInfo& info) {
  Tensor w = arg_f32_or_bf16(info, 0, "weight");
  expect_ndim(w, 2, "weight", "[V,D]");
  Tensor ids = arg_i32(info, 1, "ids");
  const int64_t V = w.dim(0), D = w.dim(1), n = ids.numel();
  const int32_t* pid = ids.i32();
  check_ids(pid, n, V);
  std::vector<int64_t> shape = ids.shape;
  shape.push_back(D);
  Tensor out = empty(shape);
  float* po = out.f32();
  if (w.dtype == DType::BF16) {  // a frozen table kept in bf16: rows widened exactly (bf16 is an f32's high half)
    const uint16_t* pw = static_cast<const uint16_t*>(w.raw());
#pragma omp parallel for schedule(static) if (n * D > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t* src = pw + static_cast<int64_t>(pid[i]) * D;
      uint32_t* dst = reinterpret_cast<uint32_t*>(po + i * D);
      for (int64_t j = 0; j < D; ++j) dst[j] = static_cast<uint32_t>(src[j]) << 16;
    }
    return wrap(info.Env(), out);
  }
  const float* pw = w.f32();
#pragma omp parallel for schedule(static) if (n * D > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) std::memcpy(po + i * D, pw + static_cast<int64_t>(pid[i]) * D, sizeof(float) * D);
  return wrap(info.Env(), out);
}
RECLIN_EXPORT("embedding", Embedding)

// embeddingBackward(dOut [...,D], ids [...], V) -> dWeight [V,D]
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Tensor dout = arg_f32(info, 0, "dOut");
  Tensor ids = arg_i32(info, 1, "ids");
  const int64_t V = arg_int(info, 2, "V");
  expect_embedding_backward_shapes(dout, ids, V);
  const int64_t D = dout.dim(-1), n = ids.numel();
  const int32_t* pid = ids.i32();
  check_ids(pid, n, V);
  Tensor dw = zeros({V, D});
  const float* pg = dout.f32();
  float* pdw = dw.f32();
  constexpr int64_t W = 64;  // column slice per task
  const int64_t n_slices = (D + W - 1) / W;
#pragma omp parallel for schedule(static) if (n * D > kParallelGrain)
  for (int64_t s = 0; s < n_slices; ++s) {
    const int64_t j0 = s * W, j1 = std::min(D, j0 + W);
    for (int64_t i = 0; i < n; ++i) {
      float* row = pdw + static_cast<int64_t>(pid[i]) * D;
      const float* g = pg + i * D;
      for (int64_t j = j0; j < j1; ++j) row[j] += g[j];
    }
  }
  return wrap(info.Env(), dw);
}
RECLIN_EXPORT("embeddingBackward", EmbeddingBackward)

}  // namespace
}  // namespace reclin
