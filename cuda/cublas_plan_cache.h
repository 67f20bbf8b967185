// A small least-recently-used cache of cuBLASLt plans for cublas.cu: the matmul descriptor, the three matrix
// layouts and the heuristic's algorithm depend only on the GEMM's shape, transposes, input type, batch strides,
// the operands' alignment, TF32 and the device, so a repeated shape (every layer of a model, MoE expert segments
// of the same size) reuses them instead of four creates, a heuristic query and five destroys per call. Plain C++
// with the cached value a template parameter, so that test/cuda-emu/cublas_plan_emu.cc checks the key and the
// eviction on the CPU without the library.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <utility>

#include "cublas_plan.h"

namespace reclin {

// Everything a plan's descriptor, layouts and algorithm depend on. Leading dimensions follow from m, n, k and the
// transposes (lt_plan), so they are not stored; pointers enter only through their alignment.
struct LtKey {
  int32_t device = 0;
  uint8_t in = 0;  // GemmInput
  bool tf32 = false, trans_first = false, trans_second = false;
  uint64_t m = 0, n = 0, k = 0;
  int64_t batch = 1, stride_first = 0, stride_second = 0, stride_d = 0;
  uint32_t align_first = 0, align_second = 0, align_d = 0;
  bool operator==(const LtKey& o) const {
    return device == o.device && in == o.in && tf32 == o.tf32 && trans_first == o.trans_first &&
           trans_second == o.trans_second && m == o.m && n == o.n && k == o.k && batch == o.batch &&
           stride_first == o.stride_first && stride_second == o.stride_second && stride_d == o.stride_d &&
           align_first == o.align_first && align_second == o.align_second && align_d == o.align_d;
  }
};

inline LtKey lt_key(const LtPlan& p, int device, bool tf32) {
  LtKey k;
  const int64_t e = gemm_input_bytes(p.in);
  k.device = device, k.in = static_cast<uint8_t>(p.in), k.tf32 = tf32 && p.in == GemmInput::F32;
  k.trans_first = p.first.trans, k.trans_second = p.second.trans;
  k.m = p.m, k.n = p.n, k.k = p.k, k.batch = p.batch;
  // strides matter only when batched (a single matrix's layout has none)
  if (p.batch > 1) k.stride_first = p.first.stride, k.stride_second = p.second.stride, k.stride_d = p.stride_d;
  k.align_first = lt_alignment(p.first.p, p.first.stride, p.batch, e);
  k.align_second = lt_alignment(p.second.p, p.second.stride, p.batch, e);
  k.align_d = lt_alignment(p.d, p.stride_d, p.batch, 4);
  return k;
}

struct LtKeyHash {
  size_t operator()(const LtKey& k) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields
    auto mix = [&h](uint64_t v) {
      for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
    };
    mix(static_cast<uint64_t>(k.device) | uint64_t(k.in) << 32 | uint64_t(k.tf32) << 40 | uint64_t(k.trans_first) << 41 |
        uint64_t(k.trans_second) << 42);
    for (uint64_t v : {k.m, k.n, k.k, static_cast<uint64_t>(k.batch), static_cast<uint64_t>(k.stride_first),
                       static_cast<uint64_t>(k.stride_second), static_cast<uint64_t>(k.stride_d)})
      mix(v);
    mix(uint64_t(k.align_first) | uint64_t(k.align_second) << 32);
    mix(k.align_d);
    return static_cast<size_t>(h);
  }
};

// At most `capacity` values; get() marks an entry most recently used; put() of a new key beyond capacity hands the
// least recently used value to `evict` (which destroys it) before dropping it. Not thread-safe (cublas.cu holds
// its mutex around every use).
template <class V>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : cap_(capacity < 1 ? 1 : capacity) {}

  // The cached value, or nullptr. The pointer stays valid until the next put() or clear().
  V* get(const LtKey& k) {
    auto it = map_.find(k);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }

  // Inserts a key that get() did not find; returns the stored value.
  template <class Evict>
  V* put(const LtKey& k, V v, Evict&& evict) {
    while (order_.size() >= cap_) {
      auto& last = order_.back();
      evict(last.second);
      map_.erase(last.first);
      order_.pop_back();
      ++evictions_;
    }
    order_.emplace_front(k, std::move(v));
    map_[k] = order_.begin();
    return &order_.front().second;
  }

  template <class Evict>
  void clear(Evict&& evict) {
    for (auto& e : order_) evict(e.second);
    order_.clear();
    map_.clear();
  }

  size_t size() const { return order_.size(); }
  size_t evictions() const { return evictions_; }

 private:
  size_t cap_;
  size_t evictions_ = 0;
  std::list<std::pair<LtKey, V>> order_;  // most recently used first
  std::unordered_map<LtKey, typename std::list<std::pair<LtKey, V>>::iterator, LtKeyHash> map_;
};

}  // namespace reclin
