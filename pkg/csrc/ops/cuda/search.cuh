#pragma once
// Device code of the search passes; included only by the search_d*_f*.cu units
// CMakeLists.txt generates (one per point dimension x distance type).
#include "../arith.h"
#include "search.h"
#include "warp.cuh"

namespace ops {
// A named namespace with static functions rather than an anonymous one:
// nvcc names anonymous namespaces with a per-process hash, which would make
// every CUDA build differ (reproducible wheels need identical bytes).
namespace search_impl {

constexpr int kSearchBlock = 256;

// The slot ranges of the cells around cell c of batch b, one per row of the
// box (GridSpec::row_keys).
struct Ranges {
  int n;
  int32_t begin[9], end[9];
};

template <typename acc_t>
static __device__ Ranges neighbour_ranges(const Scan<acc_t>& s, int64_t b, const int64_t c[kMaxGridDims]) {
  int64_t lo[kMaxGridDims], hi[kMaxGridDims];
  s.g.around(c, lo, hi);
  Ranges r;
  r.n = GridSpec::rows(lo, hi);
  for (int row = 0; row < r.n; ++row) {
    int64_t first, last;
    s.g.row_keys(b, lo, hi, row, first, last);
    r.begin[row] = s.start[first];
    r.end[row] = s.start[last + 1];
  }
  return r;
}

// Grid cell and batch of the query at cell-order slot t.
template <typename acc_t>
static __device__ int64_t query_cell(const Scan<acc_t>& s, int64_t t, int64_t c[kMaxGridDims]) {
  for (int d = 0; d < kMaxGridDims; ++d) {
    c[d] = d < s.g.gdim ? s.g.coord(double(s.yc[t * s.dim + d]), d) : 0;
  }
  return batch_of(s.batch_y, s.yi[t]);
}

// Calls f(slot j in cell order, squared distance) for every x within r of the
// query at cell-order slot t, reading candidates from global memory.
template <int DIM, typename acc_t, typename F>
static __device__ void for_each_neighbour(const Scan<acc_t>& s, int64_t t, F&& f) {
  const acc_t* q = s.yc + t * s.dim;
  const int64_t qi = s.yi[t];
  int64_t c[kMaxGridDims];
  const Ranges r = neighbour_ranges(s, query_cell(s, t, c), c);
  for (int i = 0; i < r.n; ++i) {
    for (int32_t j = r.begin[i]; j < r.end[i]; ++j) {
      if (s.ignore_same_index && s.xi[j] == qi) continue;
      const acc_t d2 = dist2<DIM>(s.xc + int64_t(j) * s.dim, q, s.dim);
      if (d2 < s.r2) f(j, d2);
    }
  }
}

// True if the query at slot t lives in a cell the cell blocks left over.
template <typename acc_t>
static __device__ bool in_big_cell(const Scan<acc_t>& s, int64_t t) {
  int64_t c[kMaxGridDims];
  const int64_t b = query_cell(s, t, c);
  return s.big[s.g.key(b, c)] != 0;
}

template <int DIM, typename acc_t>
static __global__ void count_per_query(Scan<acc_t> s, int32_t* __restrict__ found,
                                int64_t* __restrict__ keep) {
  const int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (!*s.any_big || t >= s.ny || !in_big_cell(s, t)) return;
  int32_t n = 0;
  for_each_neighbour<DIM>(s, t, [&](int32_t, acc_t) { ++n; });
  const int64_t qi = s.yi[t];
  found[qi] = n;
  keep[qi] = s.k >= 0 && n > s.k ? s.k : n;
}

// Restores the max-heap order of h[0, n) below i; greater(a, b) orders it.
template <typename Greater>
static __device__ void sift_down(int64_t* h, int64_t n, int64_t i, Greater greater) {
  for (;;) {
    int64_t m = i, l = 2 * i + 1, r = l + 1;
    if (l < n && greater(h[l], h[m])) m = l;
    if (r < n && greater(h[r], h[m])) m = r;
    if (m == i) return;
    const int64_t tmp = h[i];
    h[i] = h[m];
    h[m] = tmp;
    i = m;
  }
}

// In-place ascending sort of one query's slice: insertion sort for the usual
// few dozen entries, heapsort (no recursion, no scratch) for long ones.
static __device__ void sort_slice(int64_t* a, int64_t n) {
  if (n <= 48) {
    for (int64_t i = 1; i < n; ++i) {
      const int64_t v = a[i];
      int64_t j = i - 1;
      for (; j >= 0 && a[j] > v; --j) a[j + 1] = a[j];
      a[j + 1] = v;
    }
    return;
  }
  const auto greater = [](int64_t x, int64_t y) { return x > y; };
  for (int64_t i = n / 2 - 1; i >= 0; --i) sift_down(a, n, i, greater);
  for (int64_t end = n - 1; end > 0; --end) {
    const int64_t tmp = a[0];
    a[0] = a[end];
    a[end] = tmp;
    sift_down(a, end, 0, greater);
  }
}

template <int DIM, typename acc_t>
static __device__ bool farther(const Scan<acc_t>& s, const acc_t* q, int64_t a, int64_t b) {
  const acc_t da = dist2<DIM>(s.xc + a * s.dim, q, s.dim);
  const acc_t db = dist2<DIM>(s.xc + b * s.dim, q, s.dim);
  return da > db || (da == db && s.xi[a] > s.xi[b]);
}

template <int DIM, typename acc_t>
static __global__ void fill_per_query(Scan<acc_t> s, const int32_t* __restrict__ found,
                               const int64_t* __restrict__ offset, int64_t* __restrict__ centre,
                               int64_t* __restrict__ neighbour) {
  const int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (!*s.any_big || t >= s.ny || !in_big_cell(s, t)) return;
  const int64_t qi = s.yi[t];
  const int64_t base = offset[qi], n = offset[qi + 1] - base;
  if (n == 0) return;
  int64_t* out = neighbour + base;
  for (int64_t i = 0; i < n; ++i) centre[base + i] = qi;
  if (found[qi] == n) {
    int64_t m = 0;
    for_each_neighbour<DIM>(s, t, [&](int32_t j, acc_t) { out[m++] = s.xi[j]; });
  } else {
    // More neighbours than kept: select the n nearest with a bounded heap of
    // cell-order slots, then map slots to original indices.
    const acc_t* q = s.yc + t * s.dim;
    // Max-heap of slots by (distance, index): the n nearest seen so far.
    const auto is_farther = [&](int64_t a, int64_t b) { return farther<DIM>(s, q, a, b); };
    int64_t size = 0;
    for_each_neighbour<DIM>(s, t, [&](int32_t j, acc_t d2) {
      if (size < n) {
        int64_t i = size++;
        out[i] = j;
        while (i > 0 && farther<DIM>(s, q, out[i], out[(i - 1) / 2])) {
          const int64_t p = (i - 1) / 2, tmp = out[i];
          out[i] = out[p];
          out[p] = tmp;
          i = p;
        }
      } else {
        const acc_t dt = dist2<DIM>(s.xc + out[0] * s.dim, q, s.dim);
        if (d2 < dt || (d2 == dt && s.xi[j] < s.xi[out[0]])) {
          out[0] = j;
          sift_down(out, n, 0, is_farther);
        }
      }
    });
    for (int64_t i = 0; i < n; ++i) out[i] = s.xi[out[i]];
  }
  sort_slice(out, n);
}

// ------------------------------------------------------------- cell warps
constexpr unsigned kFullMask = 0xffffffffu;

// Squared distances as unsigned bits: same order for non-negative values.
static __device__ uint32_t order_bits(float v) { return __float_as_uint(v); }
static __device__ unsigned long long order_bits(double v) {
  return static_cast<unsigned long long>(__double_as_longlong(v));
}

// Warp-wide ascending bitonic sort of n (a power of 2) values in shared memory.
template <typename T>
static __device__ void warp_bitonic_sort(T* a, int32_t n, int lane) {
  for (int32_t k = 2; k <= n; k <<= 1) {
    for (int32_t j = k >> 1; j > 0; j >>= 1) {
      for (int32_t i = lane; i < n; i += 32) {
        const int32_t p = i ^ j;
        if (p > i) {
          const T x = a[i], y = a[p];
          if ((x > y) == ((i & k) == 0)) {
            a[i] = y;
            a[p] = x;
          }
        }
      }
      __syncwarp();
    }
  }
}

template <typename acc_t>
using bits_t = decltype(order_bits(acc_t(0)));

// Lists the candidates of query cell `cell` (the slots of its neighbouring
// cells) in the warp's shared-memory region as
// key[c] = (original x index << 32) | slot, sorted by key for the fill pass
// (so hits come out in index order). Returns their number, or -1 if they
// overflow s.cap: the count pass then flags the cell big, for the per-query
// kernels. Warp-uniform.
template <typename acc_t, bool kFill>
static __device__ __forceinline__ int32_t list_candidates(const Scan<acc_t>& s, int64_t cell, int lane,
                                                          unsigned long long* key) {
  // Lane i (< 9) reads the slot range of the i-th row of neighbouring cells.
  int64_t c[kMaxGridDims], rest = cell;
  for (int d = 0; d < kMaxGridDims; ++d) {
    c[d] = rest % s.g.size[d];
    rest /= s.g.size[d];
  }
  const AroundRows around(s.g, s.start, rest, c);
  const int rows = around.rows;
  const int32_t begin = around.begin, len = around.len;
  // inclusive scan, then exclusive: candidate number of row's first slot
  int32_t first = warp_inclusive_sum(len);
  const int32_t count = __shfl_sync(kFullMask, first, 31);
  first -= len;
  if (count > s.cap) {  // left to the per-query kernels
    if (!kFill && lane == 0) {
      s.big[cell] = 1;
      *s.any_big = 1;
    }
    return -1;
  }
  for (int32_t base = 0; base < count; base += 32) {
    const int32_t cand = base + lane;
    int row = 0;
    for (int i = 1; i < rows; ++i) {
      if (cand >= __shfl_sync(kFullMask, first, i)) row = i;
    }
    const int32_t j = __shfl_sync(kFullMask, begin, row) + cand - __shfl_sync(kFullMask, first, row);
    if (cand < count) key[cand] = (static_cast<unsigned long long>(uint32_t(s.xi[j])) << 32) | uint32_t(j);
  }
  if (kFill) {
    int32_t padded = 1;
    while (padded < count) padded <<= 1;
    for (int32_t cand = count + lane; cand < padded; cand += 32) key[cand] = ~0ULL;
    __syncwarp();
    warp_bitonic_sort(key, padded, lane);
  } else {
    __syncwarp();
  }
  return count;
}

// What lane l of a cell warp holds about query qbase + l of the 32 it handles
// at a time.
template <int DIM, typename acc_t>
struct QueryLane {
  static constexpr int QD = DIM > 0 ? DIM : 1;  // coordinates held in registers
  int32_t t;      // cell-order slot
  int64_t qi;     // original index
  acc_t q[QD];    // coordinates (DIM > 0; runtime D reads them from s.yc)
  int64_t pos;    // fill: the next output slot
  int64_t n;      // fill: hits kept
  int32_t found;  // count: hits so far; fill: the count pass's total
};

template <int DIM, typename acc_t, bool kFill>
static __device__ __forceinline__ QueryLane<DIM, acc_t> load_query(const Scan<acc_t>& s, int32_t qbase, int nq,
                                                                   int lane, const int32_t* __restrict__ found,
                                                                   const int64_t* __restrict__ offset) {
  QueryLane<DIM, acc_t> me;
  me.t = qbase + (lane < nq ? lane : 0);
  me.qi = s.yi[me.t];
  if constexpr (DIM > 0) {
#pragma unroll
    for (int d = 0; d < DIM; ++d) me.q[d] = s.yc[int64_t(me.t) * DIM + d];
  }
  me.pos = 0;
  me.n = 0;
  me.found = 0;
  if (kFill) {
    me.pos = offset[me.qi];
    me.n = offset[me.qi + 1] - me.pos;
    me.found = found[me.qi];
  }
  return me;
}

// Tests the `count` listed candidates against the queries of the lanes in
// `sweep`: candidates outside (each lane loads its candidate once per cell),
// queries inside (their data broadcast by shuffles), hits counted with
// ballots. Count pass: each query's lane adds its hits to me.found; fill
// pass: the hits are written from the query's me.pos on, in index order.
template <int DIM, typename acc_t, bool kFill>
static __device__ __forceinline__ void sweep_queries(const Scan<acc_t>& s, const unsigned long long* key,
                                                     int32_t count, int lane, unsigned sweep,
                                                     QueryLane<DIM, acc_t>& me, int64_t* __restrict__ centre,
                                                     int64_t* __restrict__ neighbour) {
  constexpr int QD = QueryLane<DIM, acc_t>::QD;
  const int64_t dim = DIM > 0 ? DIM : s.dim;
  const unsigned below_lane = (1u << lane) - 1;
  for (int32_t base = 0; base < count; base += 32) {
    const int32_t cand = base + lane;
    const bool valid = cand < count;
    const unsigned long long kv = valid ? key[cand] : 0ULL;
    const int64_t xj = int64_t(kv >> 32);
    const acc_t* xp = s.xc + int64_t(kv & 0xffffffffu) * dim;
    acc_t xr[QD];
    if constexpr (DIM > 0) {
#pragma unroll
      for (int d = 0; d < DIM; ++d) xr[d] = valid ? xp[d] : acc_t(0);
      xp = xr;
    }
    for (unsigned rest_q = sweep; rest_q; rest_q &= rest_q - 1) {
      const int i = __ffs(rest_q) - 1;
      const int64_t qi = kFill || s.ignore_same_index ? __shfl_sync(kFullMask, me.qi, i) : 0;
      acc_t qv[QD];
      const acc_t* q = qv;
      if constexpr (DIM > 0) {
#pragma unroll
        for (int d = 0; d < DIM; ++d) qv[d] = __shfl_sync(kFullMask, me.q[d], i);
      } else {
        q = s.yc + int64_t(__shfl_sync(kFullMask, me.t, i)) * dim;
      }
      const bool h = valid && !(s.ignore_same_index && xj == qi) && dist2<DIM>(xp, q, dim) < s.r2;
      const unsigned m = __ballot_sync(kFullMask, h);
      const int64_t pos = kFill ? __shfl_sync(kFullMask, me.pos, i) : 0;
      if (kFill && h) {
        const int64_t p = pos + __popc(m & below_lane);
        neighbour[p] = xj;
        centre[p] = qi;
      }
      if (lane == i) {
        if (kFill) me.pos += __popc(m); else me.found += __popc(m);
      }
    }
  }
}

// Fill pass, the queries of the lanes in `limited` (more hits than they
// keep): the n nearest, ties to the smaller index. Caches the hits'
// squared-distance bits in dist (misses: ~0), finds the n-th smallest
// distance by binary search over its bits, and, if the ties there do not all
// fit, the largest index to take among them; writes them from me.pos on, in
// index order.
template <int DIM, typename acc_t>
static __device__ __forceinline__ void select_nearest(const Scan<acc_t>& s, const unsigned long long* key,
                                                      bits_t<acc_t>* dist, int32_t count, int lane,
                                                      unsigned limited, const QueryLane<DIM, acc_t>& me,
                                                      int64_t* __restrict__ centre,
                                                      int64_t* __restrict__ neighbour) {
  using bits = bits_t<acc_t>;
  const int64_t dim = DIM > 0 ? DIM : s.dim;
  const unsigned below_lane = (1u << lane) - 1;
  for (unsigned rest_q = limited; rest_q; rest_q &= rest_q - 1) {
    const int i = __ffs(rest_q) - 1;
    const int64_t qi = __shfl_sync(kFullMask, me.qi, i);
    int64_t pos = __shfl_sync(kFullMask, me.pos, i);
    const int64_t n = __shfl_sync(kFullMask, me.n, i);
    const acc_t* q = s.yc + int64_t(__shfl_sync(kFullMask, me.t, i)) * dim;
    for (int32_t cand = lane; cand < count; cand += 32) {
      const unsigned long long kv = key[cand];
      const acc_t d2 = dist2<DIM>(s.xc + int64_t(kv & 0xffffffffu) * dim, q, dim);
      const bool h = !(s.ignore_same_index && int64_t(kv >> 32) == qi) && d2 < s.r2;
      dist[cand] = h ? order_bits(d2) : ~bits(0);
    }
    __syncwarp();
    // How many candidates pass pred (a warp-uniform count).
    auto count_if = [&](auto pred) {
      int32_t m = 0;
      for (int32_t base = 0; base < count; base += 32) {
        m += __popc(__ballot_sync(kFullMask, base + lane < count && pred(base + lane)));
      }
      return m;
    };
    bits lo_bits = 0, hi_bits = order_bits(s.r2);
    while (lo_bits < hi_bits) {
      const bits mid = lo_bits + (hi_bits - lo_bits) / 2;
      if (count_if([&](int32_t c) { return dist[c] <= mid; }) >= n) hi_bits = mid; else lo_bits = mid + 1;
    }
    const bits threshold = lo_bits;
    const int32_t ties_wanted = int32_t(n) - count_if([&](int32_t c) { return dist[c] < threshold; });
    int64_t max_tie_index = INT64_MAX;
    if (count_if([&](int32_t c) { return dist[c] == threshold; }) > ties_wanted) {
      int64_t lo_i = 0, hi_i = INT32_MAX;
      while (lo_i < hi_i) {
        const int64_t mid = lo_i + (hi_i - lo_i) / 2;
        const int32_t m = count_if([&](int32_t c) {
          return dist[c] == threshold && int64_t(key[c] >> 32) <= mid;
        });
        if (m >= ties_wanted) hi_i = mid; else lo_i = mid + 1;
      }
      max_tie_index = lo_i;
    }
    for (int32_t base = 0; base < count; base += 32) {
      const int32_t cand = base + lane;
      const bits b = cand < count ? dist[cand] : ~bits(0);
      const int64_t xj = cand < count ? int64_t(key[cand] >> 32) : 0;
      const bool take = b < threshold || (b == threshold && xj <= max_tie_index);
      const unsigned taken = __ballot_sync(kFullMask, take);
      if (take) {
        const int64_t p = pos + __popc(taken & below_lane);
        neighbour[p] = xj;
        centre[p] = qi;
      }
      pos += __popc(taken);
    }
    __syncwarp();  // dist[] is rewritten by the next query
  }
}

// One warp per query cell; kFill selects the pass. The warp lists the cell's
// candidates once (list_candidates), then takes the cell's queries 32 at a
// time: all of them in the count pass, in the fill pass those that keep every
// hit (sweep_queries) and then those that keep only the k nearest
// (select_nearest).
template <int DIM, typename acc_t, bool kFill>
static __global__ void __launch_bounds__(kCellWarps * 32)
cell_warps(Scan<acc_t> s, int32_t* __restrict__ found, int64_t* __restrict__ keep,
           const int64_t* __restrict__ offset, int64_t* __restrict__ centre,
           int64_t* __restrict__ neighbour) {
  const int lane = threadIdx.x & 31;
  const int64_t cell = int64_t(blockIdx.x) * kCellWarps + (threadIdx.x >> 5);
  if (cell >= s.g.num_cells) return;  // warp-uniform from here on
  const int32_t q_begin = s.ystart[cell], q_end = s.ystart[cell + 1];
  if (q_begin == q_end) return;

  extern __shared__ unsigned long long smem[];
  const size_t per_warp = cell_warp_bytes<acc_t>(s.cap, kFill) / sizeof(unsigned long long);
  unsigned long long* key = smem + (threadIdx.x >> 5) * per_warp;
  bits_t<acc_t>* dist = reinterpret_cast<bits_t<acc_t>*>(key + s.cap);  // fill pass, k-limited queries
  const int32_t count = list_candidates<acc_t, kFill>(s, cell, lane, key);
  if (count < 0) return;  // left to the per-query kernels

  for (int32_t qbase = q_begin; qbase < q_end; qbase += 32) {
    const int nq = q_end - qbase < 32 ? q_end - qbase : 32;
    QueryLane<DIM, acc_t> me = load_query<DIM, acc_t, kFill>(s, qbase, nq, lane, found, offset);
    // Fill: queries keeping fewer hits than they have are done separately.
    const bool my_sweep = lane < nq && (!kFill || (me.n > 0 && me.found == me.n));
    sweep_queries<DIM, acc_t, kFill>(s, key, count, lane, __ballot_sync(kFullMask, my_sweep), me, centre,
                                     neighbour);
    if (!kFill) {
      if (lane < nq) {
        found[me.qi] = me.found;
        keep[me.qi] = s.k >= 0 && me.found > s.k ? s.k : me.found;
      }
      continue;
    }
    const unsigned limited = __ballot_sync(kFullMask, lane < nq && me.n > 0 && me.found > me.n);
    select_nearest<DIM, acc_t>(s, key, dist, count, lane, limited, me, centre, neighbour);
  }
}

}  // namespace search_impl
using namespace search_impl;

template <int DIM, typename acc_t>
cudaError_t launch_count(const Scan<acc_t>& s, int32_t* found, int64_t* keep, cudaStream_t stream) {
  const int64_t cell_blocks = (s.g.num_cells + kCellWarps - 1) / kCellWarps;
  cell_warps<DIM, acc_t, false><<<cell_blocks, kCellWarps * 32,
                                  kCellWarps * cell_warp_bytes<acc_t>(s.cap, false), stream>>>(
      s, found, keep, nullptr, nullptr, nullptr);
  const int64_t blocks = (s.ny + kSearchBlock - 1) / kSearchBlock;
  count_per_query<DIM><<<blocks, kSearchBlock, 0, stream>>>(s, found, keep);
  return cudaGetLastError();
}

template <int DIM, typename acc_t>
cudaError_t launch_fill(const Scan<acc_t>& s, const int32_t* found, const int64_t* offset,
                        int64_t* centre, int64_t* neighbour, cudaStream_t stream) {
  const int64_t cell_blocks = (s.g.num_cells + kCellWarps - 1) / kCellWarps;
  cell_warps<DIM, acc_t, true><<<cell_blocks, kCellWarps * 32,
                                 kCellWarps * cell_warp_bytes<acc_t>(s.cap, true), stream>>>(
      s, const_cast<int32_t*>(found), nullptr, offset, centre, neighbour);
  const int64_t blocks = (s.ny + kSearchBlock - 1) / kSearchBlock;
  fill_per_query<DIM><<<blocks, kSearchBlock, 0, stream>>>(s, found, offset, centre, neighbour);
  return cudaGetLastError();
}

}  // namespace ops

#define INSTANTIATE_RADIUS_SEARCH(DIM, ACC)                                                     \
  template cudaError_t launch_count<DIM, ACC>(const Scan<ACC>&, int32_t*, int64_t*,   \
                                                      cudaStream_t);                          \
  template cudaError_t launch_fill<DIM, ACC>(const Scan<ACC>&, const int32_t*,        \
                                                     const int64_t*, int64_t*, int64_t*,      \
                                                     cudaStream_t);
