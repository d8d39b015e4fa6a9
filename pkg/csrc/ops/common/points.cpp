// The host-side pieces every neighbour-search op shares (see points.h),
// compiled once and linked into both the CPU and the CUDA library.
#include <torch/csrc/stable/ops.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "points.h"

namespace ops {
using torch::headeronly::ScalarType;

PointSets make_point_sets(const char* op, const char* bx_name, const char* by_name, Tensor x,
                          Tensor y, std::optional<Tensor> batch_x, std::optional<Tensor> batch_y,
                          std::optional<int64_t> batch_size) {
  const bool y_is_x = same_tensor(x, y) && (batch_x.has_value() == batch_y.has_value()) &&
                      (!batch_x || same_tensor(*batch_x, *batch_y));
  Tensor px = as_points(op, "x", x);
  PointSets c{op, bx_name, by_name, px, y_is_x ? px : as_points(op, "y", y),  // one copy, if any
              std::nullopt, std::nullopt, -1, y_is_x};
  check_same_kind(op, c.x, c.y);
  c.batch_x = as_batch(op, bx_name, batch_x, c.x, "x");
  c.batch_y = y_is_x ? c.batch_x : as_batch(op, by_name, batch_y, c.y, "y");
  if (batch_size.has_value()) {
    EXT_CHECK(*batch_size >= 1, op, ": batch_size must be >= 1 or None, got ", *batch_size);
    c.batch_size = *batch_size;
  }
  return c;
}

void check_flow(const char* op, const std::string& flow) {
  EXT_CHECK(flow == "source_to_target" || flow == "target_to_source", op,
            ": flow must be 'source_to_target' or 'target_to_source', got '", flow, "'");
}

void fail_nonfinite(const char* op, const char* points) {
  fail(op, ": ", points, " contains NaN or infinite coordinates; remove or replace them "
       "(e.g. torch.nan_to_num) before the search");
}

void fail_unsorted(const char* op, const char* batch) {
  fail(op, ": ", batch, " must hold non-negative ids in non-decreasing order (points grouped "
       "by example); sort the points by batch first");
}

int64_t check_stats(const PointSets& c, const InputStats& s) {
  if (s.x_nonfinite) fail_nonfinite(c.op, "x");
  if (s.y_nonfinite) fail_nonfinite(c.op, "y");
  if (s.bx_unsorted || s.by_unsorted) fail_unsorted(c.op, s.bx_unsorted ? c.bx_name : c.by_name);
  // Every id up to the largest gets a grid slot, so ids must be dense-ish
  // (compared before adding 1: an id of 2^63 - 1 must not overflow).
  const int64_t points = std::max(c.nx(), c.ny());
  const int64_t limit = std::max<int64_t>(4 * points, int64_t(1) << 20);
  const int64_t max_id = std::max(s.bx_max, s.by_max);
  EXT_CHECK(max_id < limit, c.op, ": the largest batch id is ", max_id, " for only ",
              points, " points; renumber the ids densely, e.g. with "
              "torch.unique(batch, return_inverse=True)[1]");
  const int64_t n = std::max<int64_t>(max_id + 1, 1);
  if (c.batch_size >= 0) {
    EXT_CHECK(n <= c.batch_size, c.op, ": batch_size=", c.batch_size,
                " but the batch vectors hold id ", n - 1, "; pass batch_size >= ", n, " or None");
  }
  return n;
}

GridSpec make_grid(const PointSets& c, const InputStats& s, int64_t num_batches, double cell) {
  GridSpec g{};
  g.gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  const double budget = 2.0 * double(std::max(c.nx(), c.ny())) + 1024.0;
  // Halves keep the extent finite even for coordinates near +-DBL_MAX.
  double half_extent[kMaxGridDims] = {0.0, 0.0, 0.0};
  for (int d = 0; d < kMaxGridDims; ++d) {
    g.lo[d] = d < g.gdim ? s.lo[d] : 0.0;
    if (d < g.gdim) half_extent[d] = s.hi[d] * 0.5 - s.lo[d] * 0.5;
  }
  auto cells_along = [&](int d) {  // capped so products stay finite
    return std::min(std::floor(half_extent[d] / (cell * 0.5)) + 1.0, budget + 1.0);
  };
  for (int iter = 0; std::isfinite(cell); ++iter) {
    double cells = double(num_batches);
    for (int d = 0; d < g.gdim; ++d) cells *= cells_along(d);
    if (cells <= budget || cells <= double(num_batches)) break;
    if (iter == 5000) {  // cannot happen for finite input; stay safe
      cell = std::numeric_limits<double>::infinity();
      break;
    }
    // Too fine for the point count: coarsen (correct for any edge >= the asked one).
    cell *= std::max(1.05, std::pow(cells / budget, 1.0 / g.gdim));
  }
  g.inv_cell = 1.0 / cell;  // 0 for an infinite cell: every point in cell 0
  g.cells_per_batch = 1;
  for (int d = 0; d < kMaxGridDims; ++d) {
    g.size[d] = d < g.gdim && std::isfinite(cell) ? int64_t(cells_along(d)) : 1;
    g.cells_per_batch *= g.size[d];
  }
  g.num_cells = g.cells_per_batch * num_batches;
  return g;
}

Tensor new_edges(const PointSets& c, int64_t edges, const char* shrink) {
  try {
    return new_uninit(c.x, {2, edges}, ScalarType::Long);
  } catch (const std::exception& e) {
    fail(c.op, ": cannot allocate the [2, ", edges, "] int64 output (", double(edges) * 16e-9,
         " GB) on ", device_name(c.x), ": out of memory? ", shrink,
         ", or split the input into batches and call per part (", e.what(), ")");
  }
}

Padded pad_edges(const PointSets& c, Tensor edges, int64_t capacity) {
  Tensor out = new_edges(c, capacity, "Lower capacity");
  Tensor count = new_uninit(c.x, {}, ScalarType::Long);
  const int64_t total = edges.size(1), kept = std::min(total, capacity);
  if (!c.x.is_cuda() && edges.is_contiguous()) {
    // On the CPU by hand: the torch calls below cost 9 of the 22 us of a
    // one-molecule call (bench/small_batch.py --cpu-only: 22.5 -> 13.1 us).
    const auto* from = static_cast<const int64_t*>(edges.const_data_ptr());  // [2, total]
    auto* to = static_cast<int64_t*>(out.mutable_data_ptr());
    for (int64_t row = 0; row < 2; ++row) {
      std::copy(from + row * total, from + row * total + kept, to + row * capacity);
      std::fill(to + row * capacity + kept, to + (row + 1) * capacity, int64_t(-1));
    }
    *static_cast<int64_t*>(count.mutable_data_ptr()) = total;
    return {out, count};
  }
  torch::stable::fill_(out, -1.0);
  if (kept > 0) {
    Tensor head = torch::stable::narrow(out, 1, 0, kept);
    torch::stable::copy_(head, torch::stable::narrow(edges, 1, 0, kept));
  }
  torch::stable::fill_(count, double(total));  // exact: edge counts are far below 2^53
  return {out, count};
}

}  // namespace ops
