#pragma once
// The CPU kernels' one scan of the inputs (bounding box, non-finite
// coordinates, batch order) into common/points.h's InputStats, with its
// helpers: as_double (any supported dtype, exactly) and batch_ptr.
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "../common/points.h"

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

}  // namespace cpu
}  // namespace ops
