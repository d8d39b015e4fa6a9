#pragma once
// Device side of knn / knn_graph (knn_prep.cu, knn_grid.cu, knn_brute.cu).
// Torch-free: knn_kernel.cpp owns memory and the one sync. All pointers are
// device memory.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "../knn_search.h"
#include "brute_pass.h"

namespace ops {

// A query keeps at most this many neighbours in registers/local memory;
// more spill their distances to a scratch buffer the size of the output.
constexpr int64_t kLocalK = 32;
// Queries keeping at most this many run the warp-per-query kernels (WarpTop).
constexpr int64_t kWarpK = 32;
// Their grid's cells: a row of three fills a warp's 32 lanes (knn_kernel.cpp).
constexpr double kWarpPointsPerCell = 32.0 / 3.0;

// Where each query's neighbours go: offset[q] .. offset[q + 1] (offset null:
// every query keeps `uniform`, from q * uniform), in both output rows.
template <typename acc_t>
struct KnnOut {
  const int64_t* offset;
  int64_t uniform;
  int64_t* centre;
  int64_t* neighbour;
  acc_t* scratch;  // [edges] distances, for queries keeping > kLocalK (else unused)
  // Set where the host allocated the output before it knew the edge count:
  // the second row (the one at the higher address) starts *second_row_at
  // slots after the first one, not where its pointer says (see placed()).
  const int64_t* second_row_at = nullptr;

  // Query q's first slot and the number of slots from there (its neighbours).
  EXT_HD int64_t first_slot(int64_t q) const { return offset ? offset[q] : q * uniform; }
  EXT_HD int64_t slots(int64_t q, int64_t first) const {
    return offset ? offset[q + 1] - first : uniform;
  }
  // The rows where the kernels write them (device code).
  EXT_HD KnnOut placed() const {
    if (!second_row_at) return *this;
    KnnOut o = *this;
    const bool centre_first = centre < neighbour;
    int64_t* first = centre_first ? centre : neighbour;
    (centre_first ? o.neighbour : o.centre) = first + *second_row_at;
    return o;
  }
};

#if defined(__CUDACC__)
// Query q's top k on the GPU: in local memory when it keeps <= kLocalK,
// else in the scratch buffer (distances) and the output row (indices).
template <typename acc_t>
struct QueryTop {
  acc_t local_d[kLocalK];
  int64_t local_id[kLocalK];
  int64_t base, n;
  TopK<acc_t> top;

  __device__ QueryTop(const KnnOut<acc_t>& out, int64_t q, bool active) {
    base = active ? out.first_slot(q) : 0;
    n = active ? out.slots(q, base) : 0;
    const bool local = n <= kLocalK;
    top = TopK<acc_t>{local ? local_d : out.scratch + base, local ? local_id : out.neighbour + base,
                      n, 0};
  }
  // Both output rows of the query's slice, nearest first.
  __device__ void write(const KnnOut<acc_t>& out, int64_t q) const {
    for (int64_t i = 0; i < n; ++i) {
      out.centre[base + i] = q;
      if (n <= kLocalK) out.neighbour[base + i] = local_id[i];
    }
  }
};

// A query's top k (k <= 32) held by a whole warp: lane i holds the i-th
// nearest (distance, index), the list sorted across lanes. The warp offers
// 32 candidates at once (one per lane); those that beat the current worst
// are inserted one by one with a ballot (the insertion point) and a shuffle
// (the shift), so nothing lives in local memory and the per-query work is
// spread over 32 lanes; when many enter at once they are sorted and merged
// in instead. The result is the same set as TopK's, in the same order: the
// k smallest by (distance, index) is unique (distances are never NaN).
template <typename acc_t>
struct WarpTop {
  static constexpr unsigned kAll = 0xffffffffu;
  acc_t d = acc_t(0);
  int32_t id = 0;  // x index: < INT32_MAX, callers make sure (32-bit shuffles: half the work)
  int32_t cap;    // <= 32, warp-uniform
  int32_t n = 0;  // entries held, warp-uniform
  int lane;

  __device__ explicit WarpTop(int64_t keep = 0) : cap(int32_t(keep)), lane(threadIdx.x & 31) {}
  __device__ bool full() const { return n == cap; }
  __device__ acc_t worst() const { return __shfl_sync(kAll, d, int(cap) - 1); }
  // Would (cd, cj) enter the list? (warp-uniform n; per-lane candidates)
  __device__ bool wanted(acc_t cd, int32_t cj, acc_t worst_d, int32_t worst_id) const {
    return n < cap || TopK<acc_t>::before(cd, cj, worst_d, worst_id);
  }
  // Inserts one warp-uniform candidate. One that no longer beats the worst
  // of a full list (it did when offered) lands at slot cap: no change.
  __device__ void insert(acc_t cd, int32_t cj) {
    const bool ahead = lane < n && TopK<acc_t>::before(d, id, cd, cj);
    const int at = __popc(__ballot_sync(kAll, ahead));
    const acc_t up_d = __shfl_up_sync(kAll, d, 1);
    const int32_t up_id = __shfl_up_sync(kAll, id, 1);
    if (lane > at) { d = up_d; id = up_id; }
    if (lane == at) { d = cd; id = cj; }
    if (n < cap) ++n;
  }
  // Where many lanes' candidates enter at once (a query's first candidates,
  // small segments), one merge beats inserting them one by one.
  static constexpr int kMergeFrom = 8;
  // (a, ia) becomes lane (lane ^ stride)'s pair where this lane should hold
  // the smaller of the two (`smaller`) or the larger, and does not.
  __device__ static void exchange(acc_t& a, int32_t& ia, int stride, bool smaller) {
    const acc_t b = __shfl_xor_sync(kAll, a, stride);
    const int32_t ib = __shfl_xor_sync(kAll, ia, stride);
    if (smaller ? TopK<acc_t>::before(b, ib, a, ia) : TopK<acc_t>::before(a, ia, b, ib)) {
      a = b;
      ia = ib;
    }
  }
  // Sorts the pairs ascending across the lanes (a bitonic network).
  __device__ void sort_lanes(acc_t& a, int32_t& ia) const {
    for (int size = 2; size <= 32; size <<= 1) {
      for (int stride = size / 2; stride > 0; stride >>= 1) {
        const bool ascending = (lane & size) == 0, lower = (lane & stride) == 0;
        exchange(a, ia, stride, lower == ascending);
      }
    }
  }
  // Inserts every lane's candidate where `take`, at once: the candidates
  // sorted ascending and reversed, against the list ascending, pairwise
  // minima are the 32 smallest of both as a bitonic sequence; five more
  // steps sort it. Empty slots are (inf, max index), after every real pair.
  __device__ void merge_lanes(acc_t cd, int32_t cj, bool take, int taken) {
    constexpr int32_t kNone = INT32_MAX;
    const acc_t inf = acc_t(INFINITY);
    acc_t c = take ? cd : inf;
    int32_t ic = take ? cj : kNone;
    sort_lanes(c, ic);
    const acc_t rc = __shfl_sync(kAll, c, 31 - lane);
    const int32_t ric = __shfl_sync(kAll, ic, 31 - lane);
    acc_t a = lane < n ? d : inf;
    int32_t ia = lane < n ? id : kNone;
    if (TopK<acc_t>::before(rc, ric, a, ia)) {
      a = rc;
      ia = ric;
    }
    for (int stride = 16; stride > 0; stride >>= 1) exchange(a, ia, stride, (lane & stride) == 0);
    d = a;
    id = ia;
    n = n + taken < cap ? n + taken : cap;
  }
  // Each lane offers its own candidate where `valid`.
  __device__ void offer_lanes(acc_t cd, int32_t cj, bool valid) {
    if (cap == 0) return;
    acc_t wd = acc_t(0);
    int32_t wi = 0;
    if (n == cap) {
      wd = worst();
      wi = __shfl_sync(kAll, id, int(cap) - 1);
    }
    const bool take = valid && wanted(cd, cj, wd, wi);
    unsigned todo = __ballot_sync(kAll, take);
    if (__popc(todo) >= kMergeFrom) return merge_lanes(cd, cj, take, __popc(todo));
    while (todo) {
      const int src = __ffs(todo) - 1;
      todo &= todo - 1;
      insert(__shfl_sync(kAll, cd, src), __shfl_sync(kAll, cj, src));
    }
  }
  // grid_knn's hook (see TopK::offer_slots): the slots, 32 at a time. For a
  // fixed DIM the query sits in registers and every lane loads (a lane past
  // the end re-reads slot `begin`, then drops it): no branch around the loads.
  template <int DIM, typename start_t>
  __device__ void offer_slots(const acc_t* xc, const int32_t* xi, int64_t stride, bool skip_self,
                              const acc_t* q, int64_t qi, start_t begin, start_t end) {
    if constexpr (DIM > 0) {
      acc_t qv[DIM];
#pragma unroll
      for (int d = 0; d < DIM; ++d) qv[d] = q[d];
      for (start_t base = begin; base < end; base += 32) {
        const start_t j = base + lane < end ? base + lane : begin;
        const int32_t cj = xi[j];
        const acc_t cd = dist2<DIM>(xc + int64_t(j) * DIM, qv, DIM);
        offer_lanes(cd, cj, base + lane < end && !(skip_self && cj == qi));
      }
    } else {
      for (start_t base = begin; base < end; base += 32) {
        const start_t j = base + lane;
        bool valid = j < end;
        acc_t cd = acc_t(0);
        int32_t cj = 0;
        if (valid) {
          cj = xi[j];
          valid = !(skip_self && cj == qi);
          if (valid) cd = dist2<DIM>(xc + int64_t(j) * stride, q, stride);
        }
        offer_lanes(cd, cj, valid);
      }
    }
  }
  // Lane i writes the i-th neighbour of query q at out[base + i].
  __device__ void write(int64_t* centre, int64_t* neighbour, int64_t base, int64_t q) const {
    if (lane < n) {
      centre[base + lane] = q;
      neighbour[base + lane] = id;
    }
  }
};
#endif

// kept[q] = neighbours query q keeps: min(k, points of x in its segment,
// minus itself when ignore_same_index).
cudaError_t launch_knn_counts(const int64_t* batch_x, int64_t nx, const int64_t* batch_y,
                              int64_t ny, int64_t k, bool ignore_same_index, int64_t* kept,
                              cudaStream_t stream);

// norms[i] = |p_i| (dot and sqrt rounded like the CPU kernel).
template <typename acc_t>
cudaError_t launch_norms(const acc_t* p, int64_t n, int64_t dim, acc_t* norms,
                         cudaStream_t stream);

// Grid search (D <= 3, Euclidean): one thread per query, queries in cell
// order (yc, yi: the queries' coordinates and original indices, grouped by
// cell like x in `grid`).
template <int DIM, typename acc_t>
cudaError_t launch_knn_grid(const KnnGrid<acc_t, int32_t>& grid, const acc_t* yc,
                            const int32_t* yi, const int64_t* batch_y, int64_t ny, int64_t k,
                            const KnnOut<acc_t>& out, cudaStream_t stream);

// Brute force over each query's batch segment, any D, Euclidean or cosine:
// a block of consecutive queries walks the union of their segments in tiles
// of x held in shared memory; each thread keeps its query's top k.
template <typename acc_t>
struct KnnBrute {
  const acc_t* x;         // [nx, dim]
  const acc_t* y;         // [ny, dim]
  const acc_t* x_norm;    // [nx] (cosine only)
  const acc_t* y_norm;    // [ny] (cosine only)
  const int64_t* batch_x;
  const int64_t* batch_y;
  int64_t nx, ny, dim;
  bool ignore_same_index;
  int32_t tile;           // points of x per shared-memory tile; 0: read x from global memory
};

template <bool COSINE, typename acc_t>
cudaError_t launch_knn_brute(const KnnBrute<acc_t>& args, const KnnOut<acc_t>& out,
                             cudaStream_t stream);

// The small-input path (small_inputs.h's small_input_segment) needs no grid,
// hence no bounding box: a count pass (brute_pass.h: the checks and each
// query's output slots, scanned; a segment longer than max_segment sets
// too_big), then the brute force. The padded ops need no sync there; the
// exact ones wait for the count pass' report only, the brute force queued.
template <typename acc_t>
cudaError_t launch_knn_count_pass(const KnnBrute<acc_t>& a, int64_t k, int64_t max_segment,
                                  const BruteWork& out, int64_t batch_size, cudaStream_t stream);

// The warp-per-query brute force (every query keeps <= kWarpK): a block of
// kBruteWarpQueries queries, x tiles of `tile` points (a multiple of 32) in
// shared memory with a padded stride, lanes over points. Returns
// cudaErrorInvalidValue when `tile` is 0 (dims too wide: use launch_knn_brute).
constexpr int kBruteWarpQueries = 16;
template <bool COSINE, typename acc_t>
cudaError_t launch_knn_brute_warp(const KnnBrute<acc_t>& args, const KnnOut<acc_t>& out,
                                  cudaStream_t stream);

// The warp kernel's tile rows: 32 lanes reading 32 points hit distinct
// shared-memory banks when the row stride is odd, in elements or, where dim
// is a multiple of the 16-byte vector (4 floats, 2 doubles) and a lane reads
// a vector a load, in vectors.
template <typename acc_t>
EXT_HD constexpr int knn_warp_vector() { return int(16 / sizeof(acc_t)); }
template <typename acc_t>
EXT_HD inline int knn_warp_stride(int64_t dim) {
  const int v = knn_warp_vector<acc_t>(), d = int(dim);
  if (d % v) return d | 1;
  const int vectors = d / v;
  return v * (vectors | 1);
}

// Shared memory of a warp-per-query brute-force block with `tile` points.
template <typename acc_t>
EXT_HD inline size_t knn_warp_tile_bytes(int32_t tile, int64_t dim, bool cosine) {
  return (size_t(tile) * size_t(knn_warp_stride<acc_t>(dim) + (cosine ? 1 : 0)) +
          size_t(kBruteWarpQueries) * size_t(dim)) * sizeof(acc_t);
}

// Shared memory a brute-force block needs for `tile` points.
template <typename acc_t>
EXT_HD inline size_t knn_tile_bytes(int32_t tile, int64_t dim, bool cosine) {
  return size_t(tile) * size_t(dim + (cosine ? 1 : 0)) * sizeof(acc_t);
}

}  // namespace ops
