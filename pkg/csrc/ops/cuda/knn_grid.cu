// knn grid search (D <= 3, Euclidean), the ring search of knn_search.h (the
// code the CPU kernel runs) in one of two ways: one WARP per query when every
// query keeps <= 32 (WarpTop: the top k spread over the lanes; cells of
// ~32/3 points, so near_select's one pass over the 27 cells around the query
// mostly suffices), else one thread per query (TopK in local memory or the
// scratch buffer). Queries run in cell order either way, so neighbouring
// warps read the same cells.
#include "knn_launch.h"
#include "warp.cuh"

namespace ops {
namespace knn_grid_impl {  // named, not anonymous: reproducible builds (see prepare.cu)
constexpr int kBlock = 128;
constexpr unsigned kAll = 0xffffffffu;

template <int DIM, typename acc_t>
static __global__ void __launch_bounds__(kBlock)
grid_kernel(KnnGrid<acc_t, int32_t> s, const acc_t* __restrict__ yc,
            const int32_t* __restrict__ yi, const int64_t* __restrict__ batch_y, int64_t ny,
            KnnOut<acc_t> out) {
  const int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (t >= ny) return;
  const int64_t q = yi[t];
  QueryTop<acc_t> qt(out, q, true);
  if (qt.n == 0) return;
  grid_knn<DIM>(s, yc + t * DIM, q, batch_of(batch_y, q), qt.top);
  qt.write(out, q);
}

// near_select holds, a lane, its distances to kRowSteps * 32 points of each
// of the (at most 9) rows of cells around the query, in registers.
constexpr int kRowSteps = 2, kMaxRows = 9;
// The candidates it lets into top at most (two merges of 32).
constexpr int kNearHeld = 64;
constexpr int kMaxBisections = 24;

// The whole search over the 27 cells around q's cell (clamped to the grid)
// where the warp kernel's small cells leave q's k nearest mostly among them.
// Each lane computes its distances to a share of the candidates (~290 for
// uniform points) and keeps them in registers; a bisection on the distance
// finds a cut with at least top.cap candidates at or below it and not many
// more (3 to 4 halvings for uniform points); only those enter top, gathered
// in the warp's shared-memory buffer (bd, bi: kNearHeld entries) and merged
// 32 at a time. Exact: the k nearest all lie at or below the cut, and top
// orders by (distance, index). Instead of offering all ~290 to top, which
// sorts and merges at nearly every step of 32.
// Returns the ring grid_knn goes on from: -1 when top is final
// (RingFrame::done), 2 when rings beyond the 27 cells may still matter, 0
// (top untouched) where a row holds more than kRowSteps * 32 points, a
// distance overflows, or ties keep more than kNearHeld at the cut.
// t: q's slot, which is also its slot in x where ignore_same_index (x is y,
// sorted once).
template <int DIM, typename acc_t>
static __device__ __forceinline__ int64_t near_select(const KnnGrid<acc_t, int32_t>& s,
                                                      const acc_t* q, int64_t t, int64_t b,
                                                      WarpTop<acc_t>& top, acc_t* bd,
                                                      int32_t* bi) {
  const int lane = threadIdx.x & 31;
  const RingFrame<acc_t> f(s.g, q);
  const AroundRows around(s.g, s.start, b, f.c);
  if (__any_sync(kAll, around.len > kRowSteps * 32)) return 0;
  acc_t qv[DIM];
#pragma unroll
  for (int d = 0; d < DIM; ++d) qv[d] = q[d];
  const acc_t inf = acc_t(INFINITY);
  acc_t dist[kMaxRows][kRowSteps];  // inf: no candidate
  acc_t farthest = acc_t(0);
  int32_t valid = 0;
  bool overflow = false;
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int32_t begin = __shfl_sync(kAll, around.begin, r);
    const int32_t len = __shfl_sync(kAll, around.len, r);  // 0 past the rows
#pragma unroll
    for (int h = 0; h < kRowSteps; ++h) {
      const int32_t i = h * 32 + lane, j = begin + i;
      acc_t v = inf;
      if (i < len && !(s.ignore_same_index && j == t)) {
        v = dist2<DIM>(s.xc + int64_t(j) * DIM, qv, DIM);
        overflow = overflow || !(v < inf);
        farthest = v > farthest ? v : farthest;
        ++valid;
      }
      dist[r][h] = v;
    }
  }
  if (__any_sync(kAll, overflow)) return 0;  // inf must still rank by index: the ring search
  acc_t lo = acc_t(0), cut = warp_max(farthest);
  int32_t at_cut = warp_sum(valid);
  const int32_t enough = top.cap + top.cap / 4 <= 32 ? 32 : kNearHeld;  // merges worth saving
  for (int step = 0; at_cut > enough && step < kMaxBisections; ++step) {
    const acc_t mid = lo + (cut - lo) / acc_t(2);
    if (!(mid > lo && mid < cut)) break;
    int32_t below = 0;
#pragma unroll
    for (int r = 0; r < kMaxRows; ++r) {
#pragma unroll
      for (int h = 0; h < kRowSteps; ++h) below += dist[r][h] <= mid ? 1 : 0;
    }
    below = warp_sum(below);
    if (below >= top.cap) {
      cut = mid;
      at_cut = below;
    } else {
      lo = mid;
    }
  }
  if (at_cut > kNearHeld) return 0;
  const unsigned lanes_below = (1u << lane) - 1;
  int32_t held = 0;
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int32_t begin = __shfl_sync(kAll, around.begin, r);
#pragma unroll
    for (int h = 0; h < kRowSteps; ++h) {
      const bool take = dist[r][h] <= cut;
      const unsigned m = __ballot_sync(kAll, take);
      if (take) {
        const int32_t at = held + __popc(m & lanes_below);
        bd[at] = dist[r][h];
        bi[at] = s.xi[begin + h * 32 + lane];
      }
      held += __popc(m);
    }
  }
  __syncwarp();
  for (int32_t first = 0; first < held; first += 32) {
    const bool mine = first + lane < held;
    top.offer_lanes(mine ? bd[first + lane] : acc_t(0), mine ? bi[first + lane] : 0, mine);
  }
  __syncwarp();  // the buffer is the next query's
  return f.done(top, around.lo, around.hi) ? -1 : 2;
}

// 8 blocks an SM (64 registers): 4 % faster at 1e6 points, k = 16 and 32
// (H200), than the 72 registers the compiler picks on its own.
template <int DIM, typename acc_t>
static __global__ void __launch_bounds__(kBlock, 8)
grid_warp_kernel(KnnGrid<acc_t, int32_t> s, const acc_t* __restrict__ yc,
                 const int32_t* __restrict__ yi, const int64_t* __restrict__ batch_y, int64_t ny,
                 KnnOut<acc_t> out) {
  __shared__ acc_t held_d[kBlock / 32][kNearHeld];
  __shared__ int32_t held_i[kBlock / 32][kNearHeld];
  const int64_t t = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;  // warp-uniform
  if (t >= ny) return;
  const int64_t q = yi[t];
  const int64_t base = out.first_slot(q);
  WarpTop<acc_t> top(out.slots(q, base));
  if (top.cap == 0) return;
  const int64_t b = batch_of(batch_y, q);
  const int warp = threadIdx.x / 32;
  const int64_t ring = near_select<DIM>(s, yc + t * DIM, t, b, top, held_d[warp], held_i[warp]);
  if (ring >= 0) grid_knn<DIM>(s, yc + t * DIM, q, b, top, ring);
  top.write(out.centre, out.neighbour, base, q);
}
}  // namespace knn_grid_impl
using namespace knn_grid_impl;

template <int DIM, typename acc_t>
cudaError_t launch_knn_grid(const KnnGrid<acc_t, int32_t>& grid, const acc_t* yc,
                            const int32_t* yi, const int64_t* batch_y, int64_t ny, int64_t k,
                            const KnnOut<acc_t>& out, cudaStream_t stream) {
  if (ny == 0) return cudaSuccess;
  if (k <= kWarpK) {
    const int64_t warps_per_block = kBlock / 32;
    grid_warp_kernel<DIM, acc_t><<<(ny + warps_per_block - 1) / warps_per_block, kBlock, 0,
                                   stream>>>(grid, yc, yi, batch_y, ny, out);
  } else {
    grid_kernel<DIM, acc_t><<<(ny + kBlock - 1) / kBlock, kBlock, 0, stream>>>(grid, yc, yi,
                                                                            batch_y, ny, out);
  }
  return cudaGetLastError();
}

#define INSTANTIATE_KNN_GRID(DIM, ACC)                                                         \
  template cudaError_t launch_knn_grid<DIM, ACC>(const KnnGrid<ACC, int32_t>&, const ACC*,      \
                                                 const int32_t*, const int64_t*, int64_t,       \
                                                 int64_t, const KnnOut<ACC>&, cudaStream_t);
INSTANTIATE_KNN_GRID(1, float)
INSTANTIATE_KNN_GRID(2, float)
INSTANTIATE_KNN_GRID(3, float)
INSTANTIATE_KNN_GRID(1, double)
INSTANTIATE_KNN_GRID(2, double)
INSTANTIATE_KNN_GRID(3, double)

}  // namespace ops
