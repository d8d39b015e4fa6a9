#pragma once
// A query's batch segment found by a whole warp: grid.h's segment_range is a
// binary search per bound, two chains of ~log2(n) dependent loads, which is
// most of a small call's count kernel on the GPU. Here the two halves of the
// warp each probe 16 positions per round (a 17-way split), so the two bounds
// take ~log17(n) rounds of one load each.
#include <cstdint>

namespace ops {

// The slots [lo, hi) of batch id b in the sorted batch vector of n points
// (null: every point has id 0), the same in every lane; all 32 lanes must
// call it. Equal to segment_range for sorted ids; bounded (0 <= lo, hi <= n)
// for any input, so unsorted ids, which the caller reports, cannot make
// anything read out of range.
__device__ inline void warp_segment_range(const int64_t* batch, int64_t n, int64_t b,
                                          int64_t& lo, int64_t& hi) {
  if (!batch) {
    lo = 0;
    hi = b == 0 ? n : 0;
    return;
  }
  constexpr unsigned kAll = 0xffffffffu;
  const int lane = threadIdx.x & 31, half = lane >> 4, slot = lane & 15;
  // This half's bound is the first slot not "before" it (half 0: ids < b,
  // half 1: ids <= b); it lies in [a, e].
  int64_t a = 0, e = n;
  while (__ballot_sync(kAll, e > a)) {
    const bool open = e > a;
    const int64_t m = a + (e - a) * (slot + 1) / 17;  // in [a, e) while open
    bool before = false;
    if (open) {
      const int64_t v = batch[m];
      before = half ? v <= b : v < b;
    }
    const unsigned mine = (__ballot_sync(kAll, before) >> (16 * half)) & 0xffffu;
    const unsigned after = ~mine & 0xffffu;
    const int t = after ? __ffs(after) - 1 : 16;  // probes 0 .. t-1 are before
    const int64_t m_below = __shfl_sync(kAll, m, 16 * half + (t > 0 ? t - 1 : 0));
    const int64_t m_at = __shfl_sync(kAll, m, 16 * half + (t < 16 ? t : 15));
    if (open) {
      if (t > 0) a = m_below + 1;
      if (t < 16) e = m_at;
    }
  }
  lo = __shfl_sync(kAll, a, 0);
  hi = __shfl_sync(kAll, a, 16);
}

}  // namespace ops
