#pragma once
// CPU pieces every op's kernel shares: the one scan of the inputs (bounding
// box, non-finite coordinates, batch order) and the counting-sort cell list.
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../points.h"

namespace ops {
namespace cpu {

// Exact for every supported dtype (half and bfloat16 widen through float).
template <typename T> double as_double(T v) { return double(static_cast<float>(v)); }
inline double as_double(double v) { return v; }

template <typename in_t>
void scan_points(const in_t* p, int64_t n, int64_t dim, int gdim, InputStats& s,
                 int32_t& nonfinite) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t d = 0; d < dim; ++d) {
      const double w = as_double(p[i * dim + d]);
      if (!std::isfinite(w)) nonfinite = 1;
      if (d < gdim) {
        s.lo[d] = std::min(s.lo[d], w);
        s.hi[d] = std::max(s.hi[d], w);
      }
    }
  }
}

inline void scan_batch(const int64_t* b, int64_t n, int32_t& unsorted, int64_t& last) {
  if (!b || n == 0) return;
  if (b[0] < 0) unsorted = 1;
  for (int64_t i = 1; i < n; ++i) {
    if (b[i] < b[i - 1]) unsorted = 1;
  }
  last = b[n - 1];
}

inline const int64_t* batch_ptr(const std::optional<Tensor>& b) {
  return b ? static_cast<const int64_t*>(b->const_data_ptr()) : nullptr;
}

template <typename in_t>
InputStats scan_inputs(const PointSets& c) {
  InputStats s{};
  const int gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  for (int d = 0; d < kMaxGridDims; ++d) {
    s.lo[d] = std::numeric_limits<double>::infinity();
    s.hi[d] = -std::numeric_limits<double>::infinity();
  }
  s.bx_max = s.by_max = -1;
  scan_points(static_cast<const in_t*>(c.x.const_data_ptr()), c.nx(), c.dim(), gdim, s,
              s.x_nonfinite);
  scan_batch(batch_ptr(c.batch_x), c.nx(), s.bx_unsorted, s.bx_max);
  if (c.y_is_x) {
    mirror_x_stats(c, s);
    return s;
  }
  scan_points(static_cast<const in_t*>(c.y.const_data_ptr()), c.ny(), c.dim(), gdim, s,
              s.y_nonfinite);
  scan_batch(batch_ptr(c.batch_y), c.ny(), s.by_unsorted, s.by_max);
  return s;
}

// Points of one set, converted to the distance type and grouped by cell.
template <typename acc_t>
struct CellList {
  std::vector<acc_t> coords;     // [n, D] in cell order
  std::vector<int32_t> index;    // original index of each point, in cell order
  std::vector<int64_t> start;    // [num_cells + 1]: points of cell k are start[k]..start[k+1]
};

template <typename in_t>
void cell_coords(const GridSpec& g, const in_t* p, int64_t c[kMaxGridDims]) {
  for (int d = 0; d < kMaxGridDims; ++d) {
    c[d] = d < g.gdim ? g.coord(as_double(p[d]), d) : 0;
  }
}

// Stable counting sort of n points by grid key.
template <typename in_t, typename acc_t>
CellList<acc_t> bucket(const GridSpec& g, const in_t* p, const int64_t* batch, int64_t n,
                       int64_t dim) {
  CellList<acc_t> out;
  std::vector<int64_t> key(n);
  out.start.assign(g.num_cells + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t cc[kMaxGridDims];
    cell_coords(g, p + i * dim, cc);
    key[i] = g.key(batch_of(batch, i), cc);
    ++out.start[key[i] + 1];
  }
  for (int64_t k = 0; k < g.num_cells; ++k) out.start[k + 1] += out.start[k];
  std::vector<int64_t> cursor(out.start.begin(), out.start.end() - 1);
  out.coords.resize(n * dim);
  out.index.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = cursor[key[i]]++;
    out.index[j] = int32_t(i);
    for (int64_t d = 0; d < dim; ++d) out.coords[j * dim + d] = acc_t(as_double(p[i * dim + d]));
  }
  return out;
}

// x's and y's cell lists; y's is x's where y is x (sorted once).
template <typename acc_t>
struct CellSets {
  CellList<acc_t> x, own_y;
  bool shared;
  const CellList<acc_t>& y() const { return shared ? x : own_y; }
};

template <typename in_t, typename acc_t>
CellSets<acc_t> bucket_sets(const GridSpec& g, const PointSets& c) {
  auto cells = [&](const Tensor& p, const std::optional<Tensor>& b) {
    return bucket<in_t, acc_t>(g, static_cast<const in_t*>(p.const_data_ptr()), batch_ptr(b),
                               p.size(0), p.size(1));
  };
  CellSets<acc_t> sets{cells(c.x, c.batch_x), {}, c.y_is_x};
  if (!c.y_is_x) sets.own_y = cells(c.y, c.batch_y);
  return sets;
}

}  // namespace cpu
}  // namespace ops
