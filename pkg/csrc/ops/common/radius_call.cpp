// Validation and normalisation of radius / radius_graph arguments, compiled
// once and linked into both the CPU and the CUDA library.
#include <cmath>

#include "radius_call.h"

namespace ops {

namespace {
RadiusCall build_call(
    const char* op, const char* bx_name, const char* by_name, Tensor x, Tensor y,
    double r, std::optional<Tensor> batch_x, std::optional<Tensor> batch_y,
    std::optional<int64_t> max_num_neighbors, bool ignore_same_index,
    std::optional<int64_t> batch_size) {
  RadiusCall c{make_point_sets(op, bx_name, by_name, x, y, batch_x, batch_y, batch_size), r, -1,
               ignore_same_index, false};
  EXT_CHECK(std::isfinite(r) && r > 0, op, ": r must be a finite number > 0, got ", r);
  if (max_num_neighbors.has_value()) {
    EXT_CHECK(*max_num_neighbors >= 0, op, ": max_num_neighbors must be >= 0 or None "
                "(unlimited), got ", *max_num_neighbors);
    c.max_neighbors = *max_num_neighbors;
  }
  return c;
}
}  // namespace

RadiusCall make_radius_call(
    Tensor x, Tensor y, double r, std::optional<Tensor> batch_x,
    std::optional<Tensor> batch_y, std::optional<int64_t> max_num_neighbors,
    bool ignore_same_index, std::optional<int64_t> batch_size, const char* op) {
  return build_call(op, "batch_x", "batch_y", x, y, r, batch_x,
                    batch_y, max_num_neighbors, ignore_same_index, batch_size);
}

RadiusCall make_radius_graph_call(
    Tensor x, double r, std::optional<Tensor> batch, bool loop,
    std::optional<int64_t> max_num_neighbors, const std::string& flow,
    std::optional<int64_t> batch_size, const char* op) {
  check_flow(op, flow);
  RadiusCall c = build_call(op, "batch", "batch", x, x, r, batch, batch,
                            max_num_neighbors, !loop, batch_size);
  // torch-cluster: source_to_target gives edge_index = (neighbour j, centre i).
  c.neighbour_first = flow == "source_to_target";
  return c;
}

GridSpec make_grid(const RadiusCall& c, const InputStats& s, int64_t num_batches) {
  // The margin covers the rounding of squared distances in float32: a pair
  // that passes the test is never more than one cell apart per dimension.
  return make_grid(static_cast<const PointSets&>(c), s, num_batches, c.r * (1.0 + 1e-4));
}

Tensor empty_edges(const RadiusCall& c) { return new_edges(c, 0); }

Tensor new_edges(const RadiusCall& c, int64_t edges) {
  return new_edges(static_cast<const PointSets&>(c), edges, "Lower max_num_neighbors or r");
}

void check_capacity(const char* op, int64_t capacity) {
  EXT_CHECK(capacity >= 0, op, ": capacity must be >= 0 (the edge slots of the fixed-shape "
            "result), got ", capacity);
}

}  // namespace ops
