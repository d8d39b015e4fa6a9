#pragma once
// Device side of brute_pass.h: the checks a count pass runs on every point,
// and the end of the pass (the last block's scan, then the padded count or
// the report).
#include <cstdint>

#include "../padded.h"
#include "brute_pass.h"
#include "warp.cuh"

namespace ops {
// Named, not anonymous: see prepare.cu (reproducible builds).
namespace brute_pass_impl {
constexpr int kPassWarps = 8;  // warps a block of a count pass
constexpr unsigned kAllLanes = 0xffffffffu;

// Point i of p: non-finite coordinates, batch order (ids non-negative and
// non-decreasing) and the last id go into the stats. A warp checks one point.
template <typename acc_t>
__device__ inline void check_point(const acc_t* p, const int64_t* batch, int64_t n, int64_t dim,
                                   int64_t i, int32_t* nonfinite, int32_t* unsorted,
                                   int64_t* last, int lane) {
  bool bad = false;
  for (int64_t d = lane; d < dim; d += 32) bad |= !isfinite(p[i * dim + d]);
  if (__any_sync(kAllLanes, bad) && lane == 0) atomicExch(nonfinite, 1);
  if (!batch || lane != 0) return;
  if (i == 0 ? batch[0] < 0 : batch[i] < batch[i - 1]) atomicExch(unsorted, 1);
  if (i == n - 1) *last = batch[i];
}

// Warp w's share of the checks: point w of x and of y.
template <typename acc_t>
__device__ inline void check_points(const acc_t* x, const int64_t* bx, int64_t nx, const acc_t* y,
                                    const int64_t* by, int64_t ny, int64_t dim, DeviceStats* st,
                                    int64_t w, int lane) {
  if (w < nx) check_point(x, bx, nx, dim, w, &st->x_nonfinite, &st->bx_unsorted, &st->bx_last, lane);
  if (w < ny) check_point(y, by, ny, dim, w, &st->y_nonfinite, &st->by_unsorted, &st->by_last, lane);
}

// The exact ops' report: the edge count and the stats into host memory,
// the stats zeroed again for the next call, then the ticket, which the host
// waits for (__threadfence_system: everything before it is visible first).
__device__ inline void report(const BruteWork& out, int64_t edges) {
  static_assert(sizeof(BruteStats) % 8 == 0, "copied in 8-byte words");
  auto* from = reinterpret_cast<unsigned long long*>(out.stats);
  auto* to = reinterpret_cast<unsigned long long*>(&out.report->stats);
  for (size_t i = 0; i < sizeof(BruteStats) / 8; ++i) {
    to[i] = __ldcg(from + i);
    from[i] = 0;
  }
  out.report->edges = edges;
  __threadfence_system();
  *reinterpret_cast<volatile uint64_t*>(&out.report->ticket) = out.ticket;
}

// The last block of the count pass: offset = exclusive scan of keep (the
// queries' output slots), then the padded ops' count or the report.
// The other blocks' writes are visible: each fenced them before taking its
// ticket, and they are read from L2 (__ldcg), never from this SM's L1.
// Tiles of kScanTile values, kScanPer consecutive ones a lane: a tile's loads
// go out together (one round trip to L2), then a lane's own sums, one warp
// scan of the lanes' totals and one of the warps' totals. (A lane's run of
// ny / 256 values, loaded and written one after another, waited on L2 once a
// value: 18 us of the count pass of 8 x 1,000 atoms on an H200.)
// Inline, not static: nvcc prefixes the shared array of a function with
// internal linkage with a hash of the source path, and every build would differ.
constexpr int kScanPer = 4;
constexpr int64_t kScanTile = kPassWarps * 32 * kScanPer;
__device__ inline void scan_counts(const BruteWork& out, int64_t ny, int64_t batch_size) {
  __shared__ int64_t warp_sums[kPassWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int64_t carry = 0;  // the tiles before this one
  for (int64_t base = 0; base < ny; base += kScanTile) {
    const int64_t first = base + int64_t(threadIdx.x) * kScanPer;
    int64_t v[kScanPer];
#pragma unroll
    for (int j = 0; j < kScanPer; ++j) {
      v[j] = first + j < ny ? int64_t(__ldcg(reinterpret_cast<const long long*>(out.keep + first + j))) : 0;
    }
    int64_t sum = 0;  // this lane's values, exclusive
#pragma unroll
    for (int j = 0; j < kScanPer; ++j) {
      const int64_t t = v[j];
      v[j] = sum;
      sum += t;
    }
    const int64_t lanes = warp_inclusive_sum(sum);  // the lanes up to this one
    if (lane == 31) warp_sums[warp] = lanes;
    __syncthreads();
    int64_t before = carry + lanes - sum;
    for (int k = 0; k < kPassWarps; ++k) {
      const int64_t t = warp_sums[k];
      if (k < warp) before += t;
      carry += t;
    }
    __syncthreads();  // warp_sums is the next tile's
#pragma unroll
    for (int j = 0; j < kScanPer; ++j) {
      if (first + j < ny) out.offset[first + j] = before + v[j];
    }
  }
  if (threadIdx.x == 0) {
    out.offset[ny] = carry;
    if (out.count) {
      const DeviceStats& c = out.stats->checks;
      auto flag = [](const int32_t& v) { return __ldcg(&v) != 0; };
      auto id = [](const int64_t& v) { return int64_t(__ldcg(reinterpret_cast<const long long*>(&v))); };
      *out.count = padded_status(flag(c.x_nonfinite), flag(c.y_nonfinite),
                                 flag(c.bx_unsorted) || flag(c.by_unsorted), batch_size,
                                 id(c.bx_last), id(c.by_last), id(out.stats->too_big) != 0,
                                 carry);
    }
    if (out.report) report(out, carry);
  }
}

// Every block of a count pass ends here (all threads): the last to finish
// scans. One launch for count and scan.
__device__ inline void finish_count_pass(const BruteWork& out, int64_t ny, int64_t batch_size) {
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(&out.stats->blocks_done, 1u) == gridDim.x - 1;
  __syncthreads();
  if (last) {
    __threadfence();
    scan_counts(out, ny, batch_size);
  }
}

// Blocks for a pass over `warps` warps, a warp a query (at least one: a count
// pass's last block scans, a fill pass pads).
inline int count_pass_blocks(int64_t warps) {
  return int(((warps > 1 ? warps : 1) + kPassWarps - 1) / kPassWarps);
}

}  // namespace brute_pass_impl
using namespace brute_pass_impl;
}  // namespace ops
