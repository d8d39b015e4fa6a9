// Validation and normalisation of knn / knn_graph arguments, compiled once
// and linked into both the CPU and the CUDA library.
#include <algorithm>
#include <cmath>
#include <limits>

#include "knn_call.h"

namespace ops {

namespace {
KnnCall build_call(const char* op, const char* bx_name, const char* by_name, Tensor x,
                   Tensor y, int64_t k, std::optional<Tensor> batch_x,
                   std::optional<Tensor> batch_y, bool cosine, bool ignore_same_index,
                   std::optional<int64_t> batch_size) {
  EXT_CHECK(k >= 1, op, ": k must be >= 1 (the number of neighbours per point), got ", k);
  return KnnCall{make_point_sets(op, bx_name, by_name, x, y, batch_x, batch_y, batch_size), k,
                 cosine, ignore_same_index, false};
}
}  // namespace

KnnCall make_knn_call(Tensor x, Tensor y, int64_t k, std::optional<Tensor> batch_x,
                      std::optional<Tensor> batch_y, bool cosine,
                      std::optional<int64_t> batch_size, const char* op) {
  return build_call(op, "batch_x", "batch_y", x, y, k, batch_x, batch_y, cosine,
                    false, batch_size);
}

KnnCall make_knn_graph_call(Tensor x, int64_t k, std::optional<Tensor> batch, bool loop,
                            const std::string& flow, bool cosine,
                            std::optional<int64_t> batch_size, const char* op) {
  check_flow(op, flow);
  KnnCall c = build_call(op, "batch", "batch", x, x, k, batch, batch, cosine, !loop, batch_size);
  // torch-cluster: source_to_target gives edge_index = (neighbour j, centre i).
  c.neighbour_first = flow == "source_to_target";
  return c;
}

GridSpec make_grid(const KnnCall& c, const InputStats& s, int64_t num_batches,
                   double points_per_cell) {
  // Cells per example for ~points_per_cell points each, over the dims that
  // have an extent (halves keep it finite near +-DBL_MAX); none: one cell.
  const int gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  const double per_cell = std::max(1.0, points_per_cell);
  const double cells = std::max(1.0, double(c.nx()) / per_cell / double(num_batches));
  double volume = 1.0;
  int spread = 0;
  for (int d = 0; d < gdim; ++d) {
    const double half = s.hi[d] * 0.5 - s.lo[d] * 0.5;
    if (half > 0) {
      volume *= 2.0 * half;
      ++spread;
    }
  }
  double cell = std::numeric_limits<double>::infinity();
  if (spread > 0 && std::isfinite(volume) && volume > 0) cell = std::pow(volume / cells, 1.0 / spread);
  if (!(cell > 0)) cell = std::numeric_limits<double>::infinity();
  return make_grid(static_cast<const PointSets&>(c), s, num_batches, cell);
}

Tensor new_edges(const KnnCall& c, int64_t edges) {
  return new_edges(static_cast<const PointSets&>(c), edges, "Lower k");
}

}  // namespace ops
