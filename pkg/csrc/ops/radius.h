#pragma once
// What every backend of radius / radius_graph shares: the validated call, the
// statistics a backend gathers from the data, and the uniform grid built from
// them. The backends differ only in how they scan the grid.
#include <torch/csrc/stable/tensor.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/args.h"
#include "grid.h"

namespace ops {
using torch::stable::Tensor;

// A validated call: x and y are 2-D, contiguous, of one floating dtype and on
// one device; batches (if given) are contiguous int64 vectors of matching
// length on that device. Everything the data alone can tell (finite
// coordinates, sorted batches) is checked later by check_stats().
struct RadiusCall {
  const char* op;            // e.g. "<namespace>.radius", used in messages
  const char* bx_name;       // the batch arguments' names, for messages
  const char* by_name;
  Tensor x, y;               // [Nx, D], [Ny, D]
  std::optional<Tensor> batch_x, batch_y;
  double r;
  int64_t max_neighbors;     // < 0: unlimited
  bool ignore_same_index;    // drop pairs whose x index equals the y index
  bool neighbour_first;      // rows are (x index, y index) instead of (y, x)
  int64_t batch_size;        // < 0: taken from the data
  int64_t nx() const { return x.size(0); }
  int64_t ny() const { return y.size(0); }
  int64_t dim() const { return x.size(1); }
};

RadiusCall make_radius_call(
    Tensor x, Tensor y, double r, std::optional<Tensor> batch_x,
    std::optional<Tensor> batch_y, std::optional<int64_t> max_num_neighbors,
    bool ignore_same_index, std::optional<int64_t> batch_size);

RadiusCall make_radius_graph_call(
    Tensor x, double r, std::optional<Tensor> batch, bool loop,
    std::optional<int64_t> max_num_neighbors, const std::string& flow,
    std::optional<int64_t> batch_size);

// What a backend reads off the data in one pass before building the grid.
struct InputStats {
  double lo[kMaxGridDims];      // bounding box of x and y over the grid dims
  double hi[kMaxGridDims];
  int32_t x_nonfinite, y_nonfinite;
  int32_t bx_unsorted, by_unsorted;  // decreasing somewhere, or negative
  int64_t bx_max, by_max;            // last (largest) batch id, -1 if none
};

// Throws the documented message for whatever InputStats says is wrong and
// returns the number of batch segments.
int64_t check_stats(const RadiusCall& call, const InputStats& s);

// Cell edge r (plus a margin that covers rounding in the distance test),
// grown only if the grid would need more than ~2 cells per point.
GridSpec make_grid(const RadiusCall& call, const InputStats& s,
                   int64_t num_batches);

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

// [2, 0] int64 on the inputs' device.
Tensor empty_edges(const RadiusCall& call);

// The [2, edges] int64 output; an allocation failure names the size and the
// ways to shrink it instead of the allocator's generic message.
Tensor new_edges(const RadiusCall& call, int64_t edges);

}  // namespace ops
