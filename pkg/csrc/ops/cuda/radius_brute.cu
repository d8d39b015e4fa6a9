// The small-input radius search; see radius_brute.h.
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <algorithm>

#include "../arith.h"
#include "radius_brute.h"
#include "segment.cuh"
#include "select.cuh"

namespace ops {
// A named namespace with static functions rather than an anonymous one:
// nvcc names anonymous namespaces with a per-process hash, which would make
// every CUDA build differ (reproducible wheels need identical bytes).
namespace brute_impl {
constexpr int kWarps = 8;  // queries (warps) per block
constexpr unsigned kAll = 0xffffffffu;

int blocks_for_warps(int64_t warps) { return int((warps + kWarps - 1) / kWarps); }

// Query q's coordinates: registers for a fixed DIM (never addressed
// through a pointer, which would put them in local memory), else y itself.
template <int DIM, typename acc_t>
struct Query {
  acc_t v[DIM];
  __device__ Query(const BruteRadius<acc_t>& s, int64_t q) {
#pragma unroll
    for (int d = 0; d < DIM; ++d) v[d] = s.y[q * DIM + d];
  }
  __device__ acc_t dist2_to(const acc_t* p, int64_t) const {
    acc_t sum = 0;
#pragma unroll
    for (int d = 0; d < DIM; ++d) {
      const acc_t t = sub_rn(p[d], v[d]);
      sum = add_rn(sum, mul_rn(t, t));
    }
    return sum;
  }
};
template <typename acc_t>
struct Query<0, acc_t> {
  const acc_t* p;
  __device__ Query(const BruteRadius<acc_t>& s, int64_t q) : p(s.y + q * s.dim) {}
  __device__ acc_t dist2_to(const acc_t* x, int64_t dim) const { return dist2<0>(x, p, dim); }
};

// Whether x point j is a neighbour of query q; *d2 gets the squared distance
// (dist2's arithmetic: the same bits as every other backend).
template <int DIM, typename acc_t>
static __device__ bool hit(const BruteRadius<acc_t>& s, const Query<DIM, acc_t>& q, int64_t qi,
                           int64_t j, acc_t* d2) {
  if (s.ignore_same_index && j == qi) return false;
  *d2 = q.dist2_to(s.x + j * (DIM > 0 ? DIM : s.dim), s.dim);
  return *d2 < s.r2;
}

// Point i of p: non-finite coordinates, batch order (ids non-negative and
// non-decreasing) and the last id go into the stats. A warp checks one point.
template <typename acc_t>
static __device__ void check_point(const acc_t* p, const int64_t* batch, int64_t n, int64_t dim,
                                   int64_t i, int32_t* nonfinite, int32_t* unsorted,
                                   int64_t* last, int lane) {
  bool bad = false;
  for (int64_t d = lane; d < dim; d += 32) bad |= !isfinite(p[i * dim + d]);
  if (__any_sync(kAll, bad) && lane == 0) atomicExch(nonfinite, 1);
  if (!batch || lane != 0) return;
  if (i == 0 ? batch[0] < 0 : batch[i] < batch[i - 1]) atomicExch(unsorted, 1);
  if (i == n - 1) *last = batch[i];
}

// Query w's count pass: its hits, 32 candidates a step, the ballots kept in
// masks (the fill pass writes from them instead of testing again).
template <int DIM, typename acc_t>
static __device__ void count_query(const BruteRadius<acc_t>& s, const BruteWork& out,
                                   int64_t w, int lane) {
  int64_t begin, end;
  warp_segment_range(s.batch_x, s.nx, batch_of(s.batch_y, w), begin, end);
  if (end - begin > s.max_segment) {  // the grid's job: count nothing, say so
    if (lane == 0) {
      out.found[w] = 0;
      out.keep[w] = 0;
      out.stats->too_big = 1;
    }
    return;
  }
  const Query<DIM, acc_t> q(s, w);
  uint32_t* masks = out.masks + w * out.mask_stride;
  int32_t n = 0;
  // Unrolled: several candidates' loads and distance chains in flight per
  // lane (ncu: the rolled loop was latency-bound, 16 cycles an instruction).
#pragma unroll 4
  for (int64_t j = begin + lane, c = 0; j - lane < end; j += 32, ++c) {
    acc_t d2;
    const unsigned m = __ballot_sync(kAll, j < end && hit(s, q, w, j, &d2));
    if (lane == 0) masks[c] = m;
    n += __popc(m);
  }
  if (lane == 0) {
    out.found[w] = n;
    out.keep[w] = s.k >= 0 && n > s.k ? s.k : n;
  }
}

// The last block of the count pass: offset = exclusive scan of keep (the
// queries' output slots), and for the padded ops their count (padded.h).
// The other blocks' writes are visible: each fenced them before taking its
// ticket, and they are read from L2 (__ldcg), never from this SM's L1.
// Not static: nvcc prefixes the shared array of a function with internal
// linkage with a hash of the source path, and every build would differ.
__device__ void scan_counts(const BruteWork& out, int64_t ny, int64_t batch_size) {
  __shared__ int64_t sums[kWarps * 32];
  const int t = threadIdx.x, threads = kWarps * 32;
  const int64_t per = (ny + threads - 1) / threads, lo = t * per;
  const int64_t hi = lo + per < ny ? lo + per : ny;
  int64_t sum = 0;
#pragma unroll 8  // the loads in flight together, not one L2 round trip each
  for (int64_t i = lo; i < hi; ++i) sum += __ldcg(out.keep + i);
  sums[t] = sum;
  __syncthreads();
  for (int o = 1; o < threads; o <<= 1) {  // inclusive scan of the per-thread sums
    const int64_t v = t >= o ? sums[t - o] : 0;
    __syncthreads();
    sums[t] += v;
    __syncthreads();
  }
  int64_t run = sums[t] - sum;
#pragma unroll 8
  for (int64_t i = lo; i < hi; ++i) {
    out.offset[i] = run;
    run += __ldcg(out.keep + i);
  }
  if (t == threads - 1) {
    out.offset[ny] = sums[t];
    if (out.count) {
      const DeviceStats& c = out.stats->checks;
      auto flag = [](const int32_t& v) { return __ldcg(&v) != 0; };
      auto id = [](const int64_t& v) { return int64_t(__ldcg(reinterpret_cast<const long long*>(&v))); };
      *out.count = padded_status(flag(c.x_nonfinite), flag(c.y_nonfinite),
                                 flag(c.bx_unsorted) || flag(c.by_unsorted), batch_size,
                                 id(c.bx_last), id(c.by_last), id(out.stats->too_big) != 0,
                                 sums[t]);
    }
  }
}

template <int DIM, typename acc_t>
static __global__ void __launch_bounds__(kWarps * 32)
brute_count(BruteRadius<acc_t> s, BruteWork out, int64_t batch_size) {
  const int lane = threadIdx.x & 31;
  const int64_t w = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  DeviceStats* checks = &out.stats->checks;
  if (w < s.nx) {
    check_point(s.x, s.batch_x, s.nx, s.dim, w, &checks->x_nonfinite, &checks->bx_unsorted,
                &checks->bx_last, lane);
  }
  if (w < s.ny) {
    check_point(s.y, s.batch_y, s.ny, s.dim, w, &checks->y_nonfinite, &checks->by_unsorted,
                &checks->by_last, lane);
    count_query<DIM>(s, out, w, lane);
  }
  // One launch for count and scan: the last block to finish scans.
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(&out.stats->blocks_done, 1u) == gridDim.x - 1;
  __syncthreads();
  if (last) {
    __threadfence();
    scan_counts(out, s.ny, batch_size);
  }
}

template <int DIM, typename acc_t>
static __global__ void __launch_bounds__(kWarps * 32)
brute_fill(BruteRadius<acc_t> s, BruteWork in, BruteRows out) {
  using bits_t = decltype(order_bits(acc_t(0)));
  const int lane = threadIdx.x & 31;
  const int64_t w = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const int64_t edges = in.offset[s.ny], limit = out.limit;
  const int64_t stride = out.stride < 0 ? edges : out.stride;
  if (stride > limit && out.stride < 0) return;  // the buffer is too small: the host refills
  int64_t* const centre = out.rows + (out.neighbour_first ? stride : 0);
  int64_t* const neighbour = out.rows + (out.neighbour_first ? 0 : stride);
  if (out.pad) {  // slots past the edges get -1 (a grid-stride loop over the rest)
    const int64_t step = int64_t(gridDim.x) * blockDim.x;
    for (int64_t p = edges + blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < limit; p += step) {
      centre[p] = -1;
      neighbour[p] = -1;
    }
  }
  if (w >= s.ny) return;
  int64_t pos = in.offset[w];
  const int64_t n = in.offset[w + 1] - pos;
  if (n == 0 || pos >= limit) return;
  int64_t begin, end;
  warp_segment_range(s.batch_x, s.nx, batch_of(s.batch_y, w), begin, end);
  const unsigned below = (1u << lane) - 1;
  if (in.found[w] == n) {  // every hit is kept: write them from the count pass' ballots
    const uint32_t* masks = in.masks + w * in.mask_stride;
#pragma unroll 4
    for (int64_t j = begin + lane, c = 0; j - lane < end; j += 32, ++c) {
      const unsigned m = masks[c];
      const int64_t p = pos + __popc(m & below);
      if ((m >> lane) & 1u && p < limit) {
        centre[p] = w;
        neighbour[p] = j;
      }
      pos += __popc(m);
    }
    return;
  }
  const Query<DIM, acc_t> q(s, w);
  // The hit's distance bits, ~0 for a miss: the order keep-the-nearest ranks by.
  auto bits = [&](int64_t j) {
    acc_t d2;
    return j < end && hit(s, q, w, j, &d2) ? order_bits(d2) : ~bits_t(0);
  };
  const Cutoff<bits_t> cut = nearest_cutoff<bits_t>(n, order_bits(s.r2), [&](auto pred) {
    int32_t m = 0;
    for (int64_t j = begin + lane; j - lane < end; j += 32) {
      m += __popc(__ballot_sync(kAll, j < end && pred(bits(j), j)));
    }
    return m;
  });
  for (int64_t j = begin + lane; j - lane < end; j += 32) {
    const bool take = cut.takes(bits(j), j);
    const unsigned m = __ballot_sync(kAll, take);
    const int64_t p = pos + __popc(m & below);
    if (take && p < limit) {
      centre[p] = w;
      neighbour[p] = j;
    }
    pos += __popc(m);
  }
}

}  // namespace brute_impl
using namespace brute_impl;

template <int DIM, typename acc_t>
cudaError_t launch_brute_count(const BruteRadius<acc_t>& s, const BruteWork& out,
                               int64_t batch_size, cudaStream_t stream) {
  const int64_t warps = std::max<int64_t>(std::max(s.nx, s.ny), 1);  // >= 1 block: it scans
  brute_count<DIM><<<blocks_for_warps(warps), kWarps * 32, 0, stream>>>(s, out, batch_size);
  return cudaGetLastError();
}

template <int DIM, typename acc_t>
cudaError_t launch_brute_fill(const BruteRadius<acc_t>& s, const BruteWork& in,
                              const BruteRows& out, cudaStream_t stream) {
  if (out.limit == 0) return cudaSuccess;
  const int64_t warps = std::max<int64_t>(s.ny, 1);
  brute_fill<DIM><<<blocks_for_warps(warps), kWarps * 32, 0, stream>>>(s, in, out);
  return cudaGetLastError();
}

#define INSTANTIATE_BRUTE(DIM, ACC)                                                           \
  template cudaError_t launch_brute_count<DIM, ACC>(const BruteRadius<ACC>&, const BruteWork&, \
                                                    int64_t, cudaStream_t);                    \
  template cudaError_t launch_brute_fill<DIM, ACC>(const BruteRadius<ACC>&, const BruteWork&,  \
                                                   const BruteRows&, cudaStream_t);
#define INSTANTIATE_BRUTE_DIMS(ACC) \
  INSTANTIATE_BRUTE(0, ACC) INSTANTIATE_BRUTE(1, ACC) INSTANTIATE_BRUTE(2, ACC) INSTANTIATE_BRUTE(3, ACC)
INSTANTIATE_BRUTE_DIMS(float)
INSTANTIATE_BRUTE_DIMS(double)

}  // namespace ops
