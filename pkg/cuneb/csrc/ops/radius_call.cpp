// Validation and normalisation of radius / radius_graph arguments, shared by
// the CPU and CUDA libraries (each compiles its own copy).
#include <torch/csrc/stable/ops.h>

#include <algorithm>
#include <limits>

#include "radius.h"

namespace cuneb {
namespace {
using torch::headeronly::ScalarType;

const char* dtype_name(ScalarType t) {
  switch (t) {
    case ScalarType::Half: return "float16";
    case ScalarType::BFloat16: return "bfloat16";
    case ScalarType::Float: return "float32";
    case ScalarType::Double: return "float64";
    case ScalarType::Long: return "int64";
    case ScalarType::Int: return "int32";
    case ScalarType::Short: return "int16";
    case ScalarType::Char: return "int8";
    case ScalarType::Byte: return "uint8";
    case ScalarType::Bool: return "bool";
    default: return "a non-float dtype";
  }
}

bool is_supported_float(ScalarType t) {
  return t == ScalarType::Half || t == ScalarType::BFloat16 ||
         t == ScalarType::Float || t == ScalarType::Double;
}

std::string device_name(const Tensor& t) {
  if (t.is_cpu()) return "cpu";
  if (t.is_cuda()) return "cuda:" + std::to_string(t.get_device_index());
  return "a non-CPU/CUDA device";
}

// 1-D points become [N, 1] (as torch-cluster does); copies only if needed.
Tensor as_points(const char* op, const char* name, const Tensor& t) {
  CUNEB_CHECK(t.defined(), op, ": ", name, " is undefined; pass a tensor of points");
  CUNEB_CHECK(is_supported_float(t.scalar_type()), op, ": ", name,
              " must be float16, bfloat16, float32 or float64, got ",
              dtype_name(t.scalar_type()), "; convert it with ", name, ".float()");
  CUNEB_CHECK(t.dim() == 1 || t.dim() == 2, op, ": ", name,
              " must be 1-D [N] or 2-D [N, D] points, got a ", t.dim(),
              "-D tensor; reshape it to [N, D]");
  Tensor p = t.dim() == 1 ? torch::stable::reshape(t, {t.size(0), 1}) : t;
  CUNEB_CHECK(p.size(1) >= 1, op, ": ", name, " has 0 coordinates per point; pass [N, D] with D >= 1");
  CUNEB_CHECK(p.size(0) < std::numeric_limits<int32_t>::max(), op, ": ", name, " has ",
              p.size(0), " points; at most 2^31 - 2 are supported, split the input");
  return torch::stable::contiguous(p);
}

std::optional<Tensor> as_batch(const char* op, const char* name,
                               const std::optional<Tensor>& b, const Tensor& pts,
                               const char* pts_name) {
  if (!b.has_value()) return std::nullopt;
  const Tensor& t = *b;
  CUNEB_CHECK(t.scalar_type() == ScalarType::Long, op, ": ", name,
              " must be int64, got ", dtype_name(t.scalar_type()), "; convert it with ",
              name, ".long()");
  CUNEB_CHECK(t.dim() == 1, op, ": ", name, " must be a 1-D vector, got a ", t.dim(),
              "-D tensor");
  CUNEB_CHECK(t.size(0) == pts.size(0), op, ": ", name, " has ", t.size(0),
              " entries but ", pts_name, " has ", pts.size(0),
              " points; give one batch id per point");
  CUNEB_CHECK(t.device() == pts.device(), op, ": ", name, " is on ", device_name(t),
              " but ", pts_name, " is on ", device_name(pts), "; move both to one device");
  return torch::stable::contiguous(t);
}
}  // namespace

namespace {
RadiusCall build_call(
    const char* op, const char* bx_name, const char* by_name, Tensor x, Tensor y,
    double r, std::optional<Tensor> batch_x, std::optional<Tensor> batch_y,
    std::optional<int64_t> max_num_neighbors, bool ignore_same_index,
    std::optional<int64_t> batch_size) {
  RadiusCall c{op, bx_name, by_name, as_points(op, "x", x), as_points(op, "y", y),
               std::nullopt, std::nullopt, r, -1, ignore_same_index, false, -1};
  CUNEB_CHECK(c.x.scalar_type() == c.y.scalar_type(), op, ": x is ",
              dtype_name(c.x.scalar_type()), " but y is ", dtype_name(c.y.scalar_type()),
              "; convert both to one dtype");
  CUNEB_CHECK(c.x.device() == c.y.device(), op, ": x is on ", device_name(c.x),
              " but y is on ", device_name(c.y), "; move both to one device");
  CUNEB_CHECK(c.x.size(1) == c.y.size(1), op, ": x has ", c.x.size(1),
              " coordinates per point but y has ", c.y.size(1), "; they must match");
  c.batch_x = as_batch(op, bx_name, batch_x, c.x, "x");
  c.batch_y = as_batch(op, by_name, batch_y, c.y, "y");
  CUNEB_CHECK(std::isfinite(r) && r > 0, op, ": r must be a finite number > 0, got ", r);
  if (max_num_neighbors.has_value()) {
    CUNEB_CHECK(*max_num_neighbors >= 0, op, ": max_num_neighbors must be >= 0 or None "
                "(unlimited), got ", *max_num_neighbors);
    c.max_neighbors = *max_num_neighbors;
  }
  if (batch_size.has_value()) {
    CUNEB_CHECK(*batch_size >= 1, op, ": batch_size must be >= 1 or None, got ", *batch_size);
    c.batch_size = *batch_size;
  }
  return c;
}
}  // namespace

RadiusCall make_radius_call(
    Tensor x, Tensor y, double r, std::optional<Tensor> batch_x,
    std::optional<Tensor> batch_y, std::optional<int64_t> max_num_neighbors,
    bool ignore_same_index, std::optional<int64_t> batch_size) {
  return build_call(CUNEB_NS_STR ".radius", "batch_x", "batch_y", x, y, r, batch_x,
                    batch_y, max_num_neighbors, ignore_same_index, batch_size);
}

RadiusCall make_radius_graph_call(
    Tensor x, double r, std::optional<Tensor> batch, bool loop,
    std::optional<int64_t> max_num_neighbors, const std::string& flow,
    std::optional<int64_t> batch_size) {
  const char* op = CUNEB_NS_STR ".radius_graph";
  CUNEB_CHECK(flow == "source_to_target" || flow == "target_to_source", op,
              ": flow must be 'source_to_target' or 'target_to_source', got '", flow, "'");
  RadiusCall c = build_call(op, "batch", "batch", x, x, r, batch, batch,
                            max_num_neighbors, !loop, batch_size);
  // torch-cluster: source_to_target gives edge_index = (neighbour j, centre i).
  c.neighbour_first = flow == "source_to_target";
  return c;
}

int64_t check_stats(const RadiusCall& c, const InputStats& s) {
  CUNEB_CHECK(!s.x_nonfinite, c.op, ": x contains NaN or infinite coordinates; "
              "remove or replace them (e.g. torch.nan_to_num) before the search");
  CUNEB_CHECK(!s.y_nonfinite, c.op, ": y contains NaN or infinite coordinates; "
              "remove or replace them (e.g. torch.nan_to_num) before the search");
  CUNEB_CHECK(!s.bx_unsorted && !s.by_unsorted, c.op, ": ",
              s.bx_unsorted ? c.bx_name : c.by_name, " must hold non-negative ids in "
              "non-decreasing order (points grouped by example); sort the points by batch first");
  // Every id up to the largest gets a grid slot, so ids must be dense-ish
  // (compared before adding 1: an id of 2^63 - 1 must not overflow).
  const int64_t points = std::max(c.nx(), c.ny());
  const int64_t limit = std::max<int64_t>(4 * points, int64_t(1) << 20);
  const int64_t max_id = std::max(s.bx_max, s.by_max);
  CUNEB_CHECK(max_id < limit, c.op, ": the largest batch id is ", max_id, " for only ",
              points, " points; renumber the ids densely, e.g. with "
              "torch.unique(batch, return_inverse=True)[1]");
  const int64_t n = std::max<int64_t>(max_id + 1, 1);
  if (c.batch_size >= 0) {
    CUNEB_CHECK(n <= c.batch_size, c.op, ": batch_size=", c.batch_size,
                " but the batch vectors hold id ", n - 1, "; pass batch_size >= ", n, " or None");
  }
  return n;
}

GridSpec make_grid(const RadiusCall& c, const InputStats& s, int64_t num_batches) {
  GridSpec g{};
  g.gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  // The margin covers the rounding of squared distances in float32: a pair
  // that passes the test is never more than one cell apart per dimension.
  double cell = c.r * (1.0 + 1e-4);
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
  for (int iter = 0;; ++iter) {
    double cells = double(num_batches);
    for (int d = 0; d < g.gdim; ++d) cells *= cells_along(d);
    if (cells <= budget || cells <= double(num_batches)) break;
    if (iter == 5000 || !std::isfinite(cell)) {  // cannot happen for finite input; stay safe
      cell = std::numeric_limits<double>::infinity();
      break;
    }
    // Too fine for the point count: coarsen (correct for any edge >= r).
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

Tensor empty_edges(const RadiusCall& c) { return new_edges(c, 0); }

Tensor new_edges(const RadiusCall& c, int64_t edges) {
  try {
    return torch::stable::new_empty(c.x, {2, edges}, ScalarType::Long);
  } catch (const std::exception& e) {
    fail(c.op, ": cannot allocate the [2, ", edges, "] int64 output (", double(edges) * 16e-9,
         " GB) on ", device_name(c.x), ": out of memory? Lower max_num_neighbors or r, or "
         "split the input into batches and call per part (", e.what(), ")");
  }
}

}  // namespace cuneb
