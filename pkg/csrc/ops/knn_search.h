#pragma once
// The k-nearest-neighbour search itself, shared by the CPU kernel and the
// CUDA kernels (host and device code alike, torch-free): a bounded sorted
// list of the best candidates, the batch segment of a query, and the ring
// search over the uniform grid (for any "top" with full(), worst(),
// offer_slots(): TopK here, a warp-wide one on the GPU). Both backends run this code, so they pick
// the same neighbours; the answer is unique anyway (the k smallest by
// (distance, index)).
#include <cmath>
#include <cstdint>

#include "arith.h"
#include "grid.h"

namespace ops {

// Neighbours a query keeps when its batch segment of x holds `candidates`
// points (the query itself among them when ignore_same_index): host and
// device code alike.
EXT_HD inline int64_t knn_kept(int64_t candidates, int64_t k, bool ignore_same_index) {
  const int64_t c = candidates - (ignore_same_index ? 1 : 0);
  return c < k ? (c > 0 ? c : 0) : k;
}

// The `cap` best (distance, index) pairs offered so far, ascending: d[0] is
// the nearest; ties go to the smaller index. d and id are caller storage.
template <typename acc_t>
struct TopK {
  acc_t* d;
  int64_t* id;
  int64_t cap;
  int64_t n;

  EXT_HD static bool before(acc_t da, int64_t ia, acc_t db, int64_t ib) {
    return da < db || (da == db && ia < ib);
  }
  EXT_HD bool full() const { return n == cap; }
  EXT_HD acc_t worst() const { return d[n - 1]; }
  EXT_HD void offer(acc_t dist, int64_t j) {
    if (n == cap) {
      if (cap == 0 || !before(dist, j, d[n - 1], id[n - 1])) return;
      --n;  // the last one drops out
    }
    int64_t i = n++;
    for (; i > 0 && before(dist, j, d[i - 1], id[i - 1]); --i) {
      d[i] = d[i - 1];
      id[i] = id[i - 1];
    }
    d[i] = dist;
    id[i] = j;
  }
  // Offers the points in slots [begin, end) of a cell list (coordinates xc
  // with `stride` per point, original indices xi), skipping the query itself
  // when `skip_self`. grid_knn calls this, so a warp-wide top k
  // (cuda/knn_launch.h) can offer the slots 32 at a time instead.
  template <int DIM, typename start_t>
  EXT_HD void offer_slots(const acc_t* xc, const int32_t* xi, int64_t stride, bool skip_self,
                          const acc_t* q, int64_t qi, start_t begin, start_t end) {
    for (start_t j = begin; j < end; ++j) {
      const int64_t xj = xi[j];
      if (skip_self && xj == qi) continue;
      offer(dist2<DIM>(xc + int64_t(j) * stride, q, stride), xj);
    }
  }
};

// Distance between a (a point of x) and q (a query): the squared Euclidean
// distance, or with COSINE 1 - cos from the precomputed norms.
template <int DIM, bool COSINE, typename acc_t>
EXT_HD inline acc_t knn_distance(const acc_t* a, const acc_t* q, int64_t dim, acc_t norm_a,
                                 acc_t norm_q) {
  if constexpr (COSINE) {
    return cosine_distance(dot(a, q, DIM > 0 ? DIM : dim), norm_a, norm_q);
  } else {
    return dist2<DIM>(a, q, dim);
  }
}

// Points of x grouped by grid cell (see grid.h): start[k]..start[k+1] are
// cell k's slots in xc (coordinates, [slots, dim]) and xi (original index).
template <typename acc_t, typename start_t>
struct KnnGrid {
  GridSpec g;
  const acc_t* xc;
  const int32_t* xi;
  const start_t* start;
  int64_t dim;
  bool ignore_same_index;
};

// Query q's place in the grid and the lower bounds the ring search prunes
// with: every "farther" test uses a lower bound on the computed distance, the
// distance from q to a box of cells shrunk by a margin (slack) far larger than
// any rounding in cell assignment and in the distance itself, so a pruned
// point could never have entered top (not even by a tie).
template <typename acc_t>
struct RingFrame {
  const GridSpec& g;
  int64_t c[kMaxGridDims];  // q's cell
  double qd[kMaxGridDims], slack[kMaxGridDims];
  double cell;  // inf when the grid is one cell

  EXT_HD RingFrame(const GridSpec& grid, const acc_t* q) : g(grid), cell(1.0 / grid.inv_cell) {
    for (int d = 0; d < kMaxGridDims; ++d) {
      c[d] = d < g.gdim ? g.coord(double(q[d]), d) : 0;
      qd[d] = d < g.gdim ? double(q[d]) : 0.0;
      slack[d] = d < g.gdim ? 1e-6 * cell + 1e-12 * (fabs(qd[d]) + fabs(g.lo[d])) : 0.0;
    }
  }
  // True if a point at squared distance >= dist2 (a lower bound, in double)
  // can no longer enter top. NaN bounds never prune.
  template <typename Top>
  EXT_HD bool beyond(const Top& top, double dist2) const {
    const double tiny = sizeof(acc_t) == 4 ? 1e-37 : 1e-300;  // below the smallest normal d2 steps
    return top.full() && double(top.worst()) < dist2 * (1.0 - 1e-4) - tiny;
  }
  // Squared gap between q and the slab of cells cd along dim d (0 inside it).
  EXT_HD double gap2(int d, int64_t cd) const {
    if (d >= g.gdim) return 0.0;
    const double a = g.lo[d] + double(cd) * cell, e = a + cell;
    double t = qd[d] < a ? a - qd[d] : (qd[d] > e ? qd[d] - e : 0.0);
    t -= slack[d];
    return t > 0 ? t * t : 0.0;  // NaN -> 0
  }
  // Whether top is final once the box of cells [lo, hi] is searched: the box
  // is the whole grid, or top is full and no cell outside it (sides clamped
  // to the grid have none beyond them) can hold a point nearer than its worst.
  template <typename Top>
  EXT_HD bool done(const Top& top, const int64_t lo[kMaxGridDims],
                   const int64_t hi[kMaxGridDims]) const {
    bool whole = true;
    for (int d = 0; d < kMaxGridDims; ++d) whole = whole && lo[d] == 0 && hi[d] == g.size[d] - 1;
    if (whole) return true;
    if (!top.full()) return false;
    double bound = INFINITY;
    bool ok = true;
    for (int d = 0; d < g.gdim; ++d) {
      if (lo[d] > 0) {
        const double side = qd[d] - (g.lo[d] + double(lo[d]) * cell) - slack[d];
        ok = ok && side == side;
        if (side < bound) bound = side;
      }
      if (hi[d] < g.size[d] - 1) {
        const double side = (g.lo[d] + double(hi[d] + 1) * cell) - qd[d] - slack[d];
        ok = ok && side == side;
        if (side < bound) bound = side;
      }
    }
    return ok && bound > 0 && beyond(top, bound * bound);
  }
};

// Offers the x of the query's cell, then of the rings of cells around it
// (Chebyshev distance R = 1, 2, ... in cells) to `top`, until top holds its
// cap and no unsearched cell can hold a point nearer than its worst. Once top
// is full, rows and cells whose box is farther than its worst are skipped
// (RingFrame's bounds). q is query qi of batch b. From ring `first_ring` on
// where top already holds the best of the box of rings below it.
template <int DIM, typename acc_t, typename start_t, typename Top>
EXT_HD void grid_knn(const KnnGrid<acc_t, start_t>& s, const acc_t* q, int64_t qi, int64_t b,
                     Top& top, int64_t first_ring = 0) {
  if (top.cap == 0) return;
  const GridSpec& g = s.g;
  const int64_t stride = DIM > 0 ? DIM : s.dim;
  const RingFrame<acc_t> f(g, q);
  const int64_t* c = f.c;
  auto visit = [&](int64_t first_key, int64_t last_key) {
    top.template offer_slots<DIM>(s.xc, s.xi, stride, s.ignore_same_index, q, qi,
                                  s.start[first_key], s.start[last_key + 1]);
  };
  for (int64_t R = first_ring;; ++R) {
    int64_t lo[kMaxGridDims], hi[kMaxGridDims];
    for (int d = 0; d < kMaxGridDims; ++d) {
      lo[d] = c[d] - R > 0 ? c[d] - R : 0;
      hi[d] = c[d] + R < g.size[d] - 1 ? c[d] + R : g.size[d] - 1;
    }
    // Ring R: the cells of the box [c - R, c + R] not in the box of R - 1.
    // Along dim 0 keys are consecutive: a row on the ring's outside in dims
    // 1/2 is one key run (it contains q's column: no gap along dim 0), an
    // inner row only its two end cells.
    for (int64_t c2 = lo[2]; c2 <= hi[2]; ++c2) {
      const double g2 = f.gap2(2, c2);
      for (int64_t c1 = lo[1]; c1 <= hi[1]; ++c1) {
        const double row2 = g2 + f.gap2(1, c1);
        if (f.beyond(top, row2)) continue;
        int64_t k[kMaxGridDims] = {lo[0], c1, c2};
        const bool inner = R > 0 && c1 - c[1] < R && c[1] - c1 < R && c2 - c[2] < R && c[2] - c2 < R;
        if (!inner) {
          const int64_t first = g.key(b, k);
          visit(first, first + (hi[0] - lo[0]));
          continue;
        }
        for (int side = 0; side < 2; ++side) {
          k[0] = side == 0 ? c[0] - R : c[0] + R;
          if (k[0] < 0 || k[0] > g.size[0] - 1 || f.beyond(top, row2 + f.gap2(0, k[0]))) continue;
          const int64_t key = g.key(b, k);
          visit(key, key);
        }
      }
    }
    if (f.done(top, lo, hi)) return;
  }
}

}  // namespace ops
