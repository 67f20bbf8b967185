// The pinned staging buffer of host→device uploads (runtime.cu, cuda_copy_to_device): one ring of bytes per device.
// An upload copies its host data into a free region on the host, queues the DMA from that region on the device's
// stream and records an event after it; the region is handed out again only once that event has completed. Plain
// C++ with the event type a template parameter, so that test/cuda-emu/staging_emu.cc checks the region bookkeeping
// (no two live regions overlap, waits only when full, oldest first) on the CPU.
#pragma once
#include <cstddef>
#include <deque>
#include <stdexcept>
#include <string>

namespace reclin {

template <class Event>
class StagingRing {
 public:
  explicit StagingRing(size_t capacity) : cap_(capacity) {}

  size_t capacity() const { return cap_; }
  size_t live() const { return pending_.size(); }

  // An offset where `n` bytes (1 ≤ n ≤ capacity) are free. Regions whose event `done(ev)` reports complete are
  // released first without waiting; if that is not enough, `wait(ev)` blocks on the oldest live region, one at a
  // time, until it fits. `release(ev)` is called once for every region given back. The caller then fills the
  // region, queues its copy and calls push() with the event recorded after it.
  template <class Done, class Wait, class Release>
  size_t reserve(size_t n, Done&& done, Wait&& wait, Release&& release) {
    if (n == 0 || n > cap_) throw std::length_error("staging: a region of " + std::to_string(n) + " bytes in a ring of " + std::to_string(cap_));
    while (!pending_.empty() && done(pending_.front().ev)) pop(release);
    size_t at = 0;
    while (!fits(n, at)) {
      wait(pending_.front().ev);
      pop(release);
    }
    head_ = at + n;
    return at;
  }

  void push(size_t at, size_t n, Event ev) { pending_.push_back({at, n, ev}); }

  // Gives every region back after waiting for it (at teardown).
  template <class Wait, class Release>
  void drain(Wait&& wait, Release&& release) {
    while (!pending_.empty()) {
      wait(pending_.front().ev);
      pop(release);
    }
  }

 private:
  struct Region {
    size_t at, n;
    Event ev;
  };

  // Live regions were handed out in order, so they occupy [front.at, head_) read circularly.
  bool fits(size_t n, size_t& at) {
    if (n > cap_) return false;
    if (pending_.empty()) {
      at = 0;
      return true;
    }
    const size_t lo = pending_.front().at;
    if (head_ > lo) {  // live bytes [lo, head_): free at the end, else from the start up to lo
      if (head_ + n <= cap_) return at = head_, true;
      if (n <= lo) return at = 0, true;
      return false;
    }
    // wrapped: live bytes [lo, end of the last region before the wrap) and [0, head_); free [head_, lo)
    if (head_ + n <= lo) return at = head_, true;
    return false;
  }

  template <class Release>
  void pop(Release&& release) {
    release(pending_.front().ev);
    pending_.pop_front();
    if (pending_.empty()) head_ = 0;
  }

  size_t cap_;
  size_t head_ = 0;  // one past the newest live region
  std::deque<Region> pending_;
};

}  // namespace reclin
