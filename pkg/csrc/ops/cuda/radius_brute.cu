// The small-input radius search; see radius_brute.h.
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <algorithm>

#include "../arith.h"
#include "brute_pass.cuh"
#include "radius_brute.h"
#include "segment.cuh"
#include "select.cuh"

namespace ops {
// A named namespace with static functions rather than an anonymous one:
// nvcc names anonymous namespaces with a per-process hash, which would make
// every CUDA build differ (reproducible wheels need identical bytes).
namespace brute_impl {
constexpr int kWarps = kPassWarps;  // queries (warps) per block
constexpr unsigned kAll = 0xffffffffu;
// Hits a mask word from which the fill writes a word a step (else a word a lane).
constexpr int kDenseHits = 8;

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
  // Steps of 32 points, kSteps at a time: their loads first, then their
  // ballots. Lane l holds ballot c for c % 32 == l until 32 are held, then
  // the warp stores them at once. (A store each step kept every step waiting
  // for its own loads: the compiler cannot tell that masks and x do not
  // overlap. On an H200 that was most of the pass at 8 x 1,000 atoms.)
  // 32-bit positions in the segment (at most max_segment <= kBruteMaxSegment)
  // and loads that need no branch (a lane past the end reads the first
  // point, then ignores it).
  constexpr int kSteps = 4;
  const int64_t stride = DIM > 0 ? DIM : s.dim;
  const int32_t len = int32_t(end - begin);
  const int32_t self = s.ignore_same_index && w >= begin && w < end ? int32_t(w - begin) : -1;
  const acc_t* xs = s.x + begin * stride;
  int32_t n = 0;
  uint32_t held = 0;
  for (int32_t base = 0; base < len; base += 32 * kSteps) {
    acc_t d2[kSteps];
#pragma unroll
    for (int u = 0; u < kSteps; ++u) {
      const int32_t i = base + 32 * u + lane;
      d2[u] = q.dist2_to(xs + int64_t(i < len ? i : 0) * stride, s.dim);
    }
#pragma unroll
    for (int u = 0; u < kSteps; ++u) {
      const int32_t i = base + 32 * u + lane, c = (base >> 5) + u;
      const unsigned m = __ballot_sync(kAll, i < len && i != self && d2[u] < s.r2);
      if (lane == (c & 31)) held = m;
      n += __popc(m);
      const bool last = i - lane + 32 >= len;  // this step ends the segment (warp-uniform)
      if ((c & 31) == 31 || last) {
        if (lane <= (c & 31)) masks[(c & ~31) + lane] = held;
      }
      if (last) break;
    }
  }
  if (lane == 0) {
    out.found[w] = n;
    out.keep[w] = s.k >= 0 && n > s.k ? s.k : n;
  }
}

template <int DIM, typename acc_t>
static __global__ void __launch_bounds__(kWarps * 32)
brute_count(BruteRadius<acc_t> s, BruteWork out, int64_t batch_size) {
  const int lane = threadIdx.x & 31;
  const int64_t w = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  check_points(s.x, s.batch_x, s.nx, s.y, s.batch_y, s.ny, s.dim, &out.stats->checks, w, lane);
  if (w < s.ny) count_query<DIM>(s, out, w, lane);
  finish_count_pass(out, s.ny, batch_size);
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
    const int32_t len = int32_t(end - begin), words = (len + 31) >> 5;  // <= max_segment, as in count_query
    if (n >= kDenseHits * words) {
      // Dense hits: a step a mask word, each lane a bit of it; the words
      // loaded 32 at a time, a lane each.
      uint32_t held = 0;
#pragma unroll 4
      for (int32_t i = lane, c = 0; i - lane < len; i += 32, ++c) {
        if ((c & 31) == 0) held = c + lane < words ? masks[c + lane] : 0;
        const unsigned m = __shfl_sync(kAll, held, c & 31);
        const int64_t p = pos + __popc(m & below);
        if ((m >> lane) & 1u && p < limit) {
          centre[p] = w;
          neighbour[p] = begin + i;
        }
        pos += __popc(m);
      }
      return;
    }
    // Sparse hits (a long segment, few neighbours): a mask word a lane, 32
    // words at a time; a scan of their hit counts places each word's hits,
    // then each lane writes its own, a few instructions a hit instead of ~20
    // a word.
    for (int32_t c0 = 0; c0 < words; c0 += 32) {
      const int32_t c = c0 + lane;
      uint32_t m = c < words ? masks[c] : 0;
      const int hits = __popc(m);
      const int upto = warp_inclusive_sum(hits);  // the hits of words c0 .. c
      for (int64_t p = pos + upto - hits; m; m &= m - 1, ++p) {
        if (p < limit) {
          centre[p] = w;
          neighbour[p] = begin + int64_t(c) * 32 + (__ffs(m) - 1);
        }
      }
      pos += __shfl_sync(kAll, upto, 31);
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
  brute_count<DIM><<<count_pass_blocks(std::max(s.nx, s.ny)), kWarps * 32, 0, stream>>>(s, out,
                                                                                  batch_size);
  return cudaGetLastError();
}

template <int DIM, typename acc_t>
cudaError_t launch_brute_fill(const BruteRadius<acc_t>& s, const BruteWork& in,
                              const BruteRows& out, cudaStream_t stream) {
  if (out.limit == 0) return cudaSuccess;
  brute_fill<DIM><<<count_pass_blocks(s.ny), kWarps * 32, 0, stream>>>(s, in, out);
  return cudaGetLastError();
}

#define INSTANTIATE_BRUTE(DIM, ACC)                                                           \
  template cudaError_t launch_brute_count<DIM, ACC>(const BruteRadius<ACC>&, const BruteWork&, \
                                                    int64_t, cudaStream_t);                    \
  template cudaError_t launch_brute_fill<DIM, ACC>(const BruteRadius<ACC>&, const BruteWork&,  \
                                                   const BruteRows&, cudaStream_t);
// 3-D points get their own kernels; any other D (1-D and 2-D included) runs
// the runtime-D ones: the same arithmetic, and half the code in the wheel.
#define INSTANTIATE_BRUTE_DIMS(ACC) INSTANTIATE_BRUTE(0, ACC) INSTANTIATE_BRUTE(3, ACC)
INSTANTIATE_BRUTE_DIMS(float)
INSTANTIATE_BRUTE_DIMS(double)

}  // namespace ops
