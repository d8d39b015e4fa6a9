#pragma once
// What every backend of radius / radius_graph shares: the validated call and
// the grid built for it (the statistics and checks are points.h's). The
// backends differ only in how they scan the grid.
#include <torch/csrc/stable/tensor.h>

#include <cstdint>
#include <optional>
#include <string>

#include "points.h"

namespace ops {
using torch::stable::Tensor;

// A validated radius call: the point sets (points.h) and the radius options.
struct RadiusCall : PointSets {
  double r;
  int64_t max_neighbors;     // < 0: unlimited
  bool ignore_same_index;    // drop pairs whose x index equals the y index
  bool neighbour_first;      // rows are (x index, y index) instead of (y, x)
};

// `op` names the op in messages (the padded variants validate the same way).
RadiusCall make_radius_call(
    Tensor x, Tensor y, double r, std::optional<Tensor> batch_x,
    std::optional<Tensor> batch_y, std::optional<int64_t> max_num_neighbors,
    bool ignore_same_index, std::optional<int64_t> batch_size,
    const char* op = EXT_NS_STR ".radius");

RadiusCall make_radius_graph_call(
    Tensor x, double r, std::optional<Tensor> batch, bool loop,
    std::optional<int64_t> max_num_neighbors, const std::string& flow,
    std::optional<int64_t> batch_size, const char* op = EXT_NS_STR ".radius_graph");

// Cell edge r (plus a margin that covers rounding in the distance test).
GridSpec make_grid(const RadiusCall& call, const InputStats& s, int64_t num_batches);

// The registered entry points, for a backend's run(call): the schemas'
// arguments in, a validated RadiusCall to the backend.
template <Tensor (*Run)(const RadiusCall&)>
Tensor radius_op(Tensor x, Tensor y, double r, std::optional<Tensor> batch_x,
                 std::optional<Tensor> batch_y, std::optional<int64_t> max_num_neighbors,
                 bool ignore_same_index, std::optional<int64_t> batch_size) {
  return Run(make_radius_call(x, y, r, batch_x, batch_y, max_num_neighbors, ignore_same_index,
                              batch_size));
}

template <Tensor (*Run)(const RadiusCall&)>
Tensor radius_graph_op(Tensor x, double r, std::optional<Tensor> batch, bool loop,
                       std::optional<int64_t> max_num_neighbors, std::string flow,
                       std::optional<int64_t> batch_size) {
  return Run(make_radius_graph_call(x, r, batch, loop, max_num_neighbors, flow, batch_size));
}

// capacity must be >= 0.
void check_capacity(const char* op, int64_t capacity);

template <Padded (*Run)(const RadiusCall&, int64_t)>
Padded radius_padded_op(Tensor x, Tensor y, double r, int64_t capacity,
                        std::optional<Tensor> batch_x, std::optional<Tensor> batch_y,
                        std::optional<int64_t> max_num_neighbors, bool ignore_same_index,
                        std::optional<int64_t> batch_size) {
  const char* op = EXT_NS_STR ".radius_padded";
  check_capacity(op, capacity);
  return Run(make_radius_call(x, y, r, batch_x, batch_y, max_num_neighbors, ignore_same_index,
                              batch_size, op), capacity);
}

template <Padded (*Run)(const RadiusCall&, int64_t)>
Padded radius_graph_padded_op(Tensor x, double r, int64_t capacity, std::optional<Tensor> batch,
                              bool loop, std::optional<int64_t> max_num_neighbors,
                              std::string flow, std::optional<int64_t> batch_size) {
  const char* op = EXT_NS_STR ".radius_graph_padded";
  check_capacity(op, capacity);
  return Run(make_radius_graph_call(x, r, batch, loop, max_num_neighbors, flow, batch_size, op),
             capacity);
}

template <Tensor (*Run)(const RadiusCall&)>
Padded padded_from_exact(const RadiusCall& call, int64_t capacity) {
  return pad_edges(call, Run(call), capacity);
}

// [2, 0] int64 on the inputs' device.
Tensor empty_edges(const RadiusCall& call);

// The [2, edges] int64 output (new_edges of points.h, with radius's advice).
Tensor new_edges(const RadiusCall& call, int64_t edges);

}  // namespace ops
