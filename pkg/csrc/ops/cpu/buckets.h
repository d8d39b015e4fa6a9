#pragma once
// The CPU kernels' cell lists: points converted to the distance type and
// grouped by grid cell with a counting sort (cuda/buckets.h is the GPU's).
#include <cstdint>
#include <optional>
#include <vector>

#include "../common/points.h"
#include "inputs.h"

namespace ops {
namespace cpu {

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
