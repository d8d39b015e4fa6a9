#pragma once
// What every neighbour-search op (radius, knn) shares on the host: the
// validated pair of point sets with their batch vectors, the statistics a
// backend reads off the data in one pass, the checks of those statistics,
// the uniform grid built from them, and the exactly sized edge output.
#include <torch/csrc/stable/tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include "args.h"
#include "../grid.h"

namespace ops {
using torch::stable::Tensor;

// x and y are 2-D, contiguous, of one floating dtype and on one device;
// batches (if given) are contiguous int64 vectors of matching length on that
// device. Everything the data alone can tell (finite coordinates, sorted
// batches) is checked later by check_stats().
struct PointSets {
  const char* op;            // e.g. "<namespace>.radius", used in messages
  const char* bx_name;       // the batch arguments' names, for messages
  const char* by_name;
  Tensor x, y;               // [Nx, D], [Ny, D]
  std::optional<Tensor> batch_x, batch_y;
  int64_t batch_size;        // < 0: taken from the data
  // y (with batch_y) is x (with batch_x), as in the graph ops: the backends
  // scan and sort the points once.
  bool y_is_x = false;
  int64_t nx() const { return x.size(0); }
  int64_t ny() const { return y.size(0); }
  int64_t dim() const { return x.size(1); }
};

// The argument checks shared by every op: x, y as points of one kind, their
// batch vectors, batch_size >= 1 or None.
PointSets make_point_sets(const char* op, const char* bx_name, const char* by_name, Tensor x,
                          Tensor y, std::optional<Tensor> batch_x, std::optional<Tensor> batch_y,
                          std::optional<int64_t> batch_size);

// flow must be 'source_to_target' or 'target_to_source' (the *_graph ops).
void check_flow(const char* op, const std::string& flow);

// What a backend reads off the data in one pass before building the grid.
struct InputStats {
  double lo[kMaxGridDims];      // bounding box of x and y over the grid dims
  double hi[kMaxGridDims];
  int32_t x_nonfinite, y_nonfinite;
  int32_t bx_unsorted, by_unsorted;  // decreasing somewhere, or negative
  int64_t bx_max, by_max;            // last (largest) batch id, -1 if none
};

// Where y is x, y's half of the stats is x's (the scans ran once).
inline void mirror_x_stats(const PointSets& c, InputStats& s) {
  if (!c.y_is_x) return;
  s.y_nonfinite = s.x_nonfinite;
  s.by_unsorted = s.bx_unsorted;
  s.by_max = s.bx_max;
}

// Throws the documented message for whatever InputStats says is wrong and
// returns the number of batch segments.
int64_t check_stats(const PointSets& c, const InputStats& s);

// The messages for bad data, shared by check_stats and check_padded
// (padded.cpp, which turns a padded op's negative count into them).
[[noreturn]] void fail_nonfinite(const char* op, const char* points);
[[noreturn]] void fail_unsorted(const char* op, const char* batch);

// A grid over the box of s with cells of edge >= `cell` (an infinite edge:
// one cell per batch), coarsened only if it would need more than ~2 cells
// per point.
GridSpec make_grid(const PointSets& c, const InputStats& s, int64_t num_batches, double cell);

// The [2, edges] int64 output; an allocation failure names the size and
// `shrink` (how to make it smaller) instead of the allocator's message.
Tensor new_edges(const PointSets& c, int64_t edges, const char* shrink);

// The padded ops (padded.h): [2, capacity] edges, the first min(E, capacity)
// of what the exact op returns and -1 after them, and E (an int64 scalar
// tensor on the inputs' device).
using Padded = std::tuple<Tensor, Tensor>;

// The padded result from the exact one (for backends whose every call syncs
// anyway, and for inputs too large for the sync-free CUDA path).
Padded pad_edges(const PointSets& c, Tensor edges, int64_t capacity);

}  // namespace ops
