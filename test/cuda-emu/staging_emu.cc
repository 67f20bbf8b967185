// Checks the pinned staging ring of host→device uploads (cuda/staging_ring.h) on the CPU: events are numbers that a
// pretend device completes in order; every live region's bytes are owned by it alone (an overlap would let an
// upload overwrite data whose DMA is still queued), a wait happens only on a region that is still in flight (in the
// fixed sequence: only when nothing fits), and every region is released exactly once. Usage: staging_emu. Exit 1 on a
// failure.
#include <cstdio>
#include <random>
#include <vector>

#include "staging_ring.h"

using namespace reclin;

int main() {
  bool ok = true;
  auto fail = [&](const char* what, long step) {
    if (ok) std::printf("FAIL %s at step %ld\n", what, step);
    ok = false;
  };
  {  // fixed sequence: fill, wrap to the start, wait for the oldest only when nothing fits
    StagingRing<int> r(100);
    int completed = 0, waits = 0, released = 0;
    auto done = [&](int e) { return e <= completed; };
    auto wait = [&](int e) { ++waits, completed = std::max(completed, e); };
    auto rel = [&](int) { ++released; };
    size_t a = r.reserve(40, done, wait, rel); r.push(a, 40, 1);
    size_t b = r.reserve(40, done, wait, rel); r.push(b, 40, 2);
    size_t c = r.reserve(30, done, wait, rel);  // 20 left at the end, [0,40) busy: waits for event 1, wraps to 0
    r.push(c, 30, 3);
    const bool pass1 = a == 0 && b == 40 && c == 0 && waits == 1 && released == 1;
    size_t d = r.reserve(10, done, wait, rel); r.push(d, 10, 4);  // [30,40) is free: no wait
    completed = 2;  // event 2 completes on its own: released without a wait, then [40,100) is free
    size_t e = r.reserve(60, done, wait, rel); r.push(e, 60, 5);
    const bool pass2 = d == 30 && e == 40 && waits == 1 && released == 2;
    size_t f = r.reserve(100, done, wait, rel); r.push(f, 100, 6);  // everything: waits for 3, 4, 5
    const bool pass3 = f == 0 && waits == 4 && released == 5 && r.live() == 1;
    r.drain(wait, rel);
    const bool pass4 = released == 6 && r.live() == 0;
    bool threw = false;
    try { r.reserve(101, done, wait, rel); } catch (const std::length_error&) { threw = true; }
    const bool pass = pass1 && pass2 && pass3 && pass4 && threw;
    std::printf("%s staging ring: fixed sequence (%d %d %d %d %d)\n", pass ? "ok  " : "FAIL", pass1, pass2, pass3, pass4, threw);
    ok = ok && pass;
  }
  {  // random uploads against a device that completes events in order at random times
    const size_t cap = 1000;
    StagingRing<long> r(cap);
    std::mt19937 gen(5);
    std::vector<long> owner(cap, 0);  // event owning each byte, 0 = free
    std::vector<std::pair<size_t, size_t>> where(200001);
    long completed = 0, next = 1, waits = 0;
    std::vector<int> released(200001, 0);
    auto done = [&](long e) { return e <= completed; };
    auto rel = [&](long e) {
      if (released[e]++) fail("released twice", e);
      for (size_t i = where[e].first; i < where[e].first + where[e].second; ++i) owner[i] = 0;
    };
    for (long step = 1; step <= 200000 && ok; ++step) {
      if (gen() % 3 == 0) completed = std::min(next - 1, completed + long(gen() % 4));  // the device progresses
      const size_t n = gen() % 7 == 0 ? 1 + gen() % cap : 1 + gen() % 120;
      bool waited_needlessly = false;
      auto wait = [&](long e) {
        if (e <= completed) waited_needlessly = true;  // done() should have released it
        ++waits, completed = e;
      };
      const size_t at = r.reserve(n, done, wait, rel);
      if (waited_needlessly) fail("waited on a completed region", step);
      if (at + n > cap) fail("region past the end", step);
      for (size_t i = at; i < at + n && ok; ++i)
        if (owner[i]) fail("overlap with a live region", step);
      for (size_t i = at; i < at + n; ++i) owner[i] = next;
      where[next] = {at, n};
      r.push(at, n, next++);
    }
    r.drain([&](long e) { completed = std::max(completed, e); }, rel);
    for (long e = 1; e < next && ok; ++e)
      if (released[e] != 1) fail("not released exactly once", e);
    std::printf("%s staging ring: 200000 random uploads, %ld waits\n", ok ? "ok  " : "FAIL", waits);
  }
  std::printf(ok ? "all passed\n" : "FAILED\n");
  return ok ? 0 : 1;
}
