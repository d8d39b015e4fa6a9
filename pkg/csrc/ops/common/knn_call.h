#pragma once
// What every backend of knn / knn_graph shares: the validated call, the
// number of neighbours each query keeps, and the grid cell edge for the
// D <= 3 search (the statistics and checks are points.h's).
#include <torch/csrc/stable/tensor.h>

#include <cstdint>
#include <optional>
#include <string>

#include "../knn_search.h"
#include "points.h"

namespace ops {
using torch::stable::Tensor;

// A validated knn call: the point sets (points.h) and the knn options.
struct KnnCall : PointSets {
  int64_t k;                 // >= 1
  bool cosine;               // distance 1 - cos(x, y) instead of |x - y|^2
  bool ignore_same_index;    // knn_graph without loops: x is y, the point itself is no neighbour
  bool neighbour_first;      // rows are (x index, y index) instead of (y, x)

  // Neighbours a query keeps when its batch segment of x holds `candidates`
  // points (the query itself among them when ignore_same_index).
  int64_t kept(int64_t candidates) const { return knn_kept(candidates, k, ignore_same_index); }
  // Whether the grid search applies (else the tiled brute force).
  bool use_grid() const { return !cosine && dim() <= kMaxGridDims; }
};

// `op` names the op in messages (the padded variants validate the same way).
KnnCall make_knn_call(Tensor x, Tensor y, int64_t k, std::optional<Tensor> batch_x,
                      std::optional<Tensor> batch_y, bool cosine,
                      std::optional<int64_t> batch_size, const char* op = EXT_NS_STR ".knn");

KnnCall make_knn_graph_call(Tensor x, int64_t k, std::optional<Tensor> batch, bool loop,
                            const std::string& flow, bool cosine,
                            std::optional<int64_t> batch_size,
                            const char* op = EXT_NS_STR ".knn_graph");

// A grid with about `points_per_cell` points of x per cell over the box of
// the inputs (the ring search of knn_search.h is exact for any cell edge;
// the best size depends on how a backend tests candidates: one at a time on
// the CPU, 32 at a time by a GPU warp).
GridSpec make_grid(const KnnCall& call, const InputStats& s, int64_t num_batches,
                   double points_per_cell);

// Points per cell for one-at-a-time candidate tests: ~max(1, k/8), capped at
// 64 (smaller cells prune better; measured on the CPU, k = 16 and 32).
inline double cpu_points_per_cell(int64_t k) {
  return double(k / 8 < 1 ? 1 : (k / 8 > 64 ? 64 : k / 8));
}

// The [2, edges] int64 output (new_edges of points.h, with knn's advice).
Tensor new_edges(const KnnCall& call, int64_t edges);

// The registered entry points, for a backend's run(call).
template <Tensor (*Run)(const KnnCall&)>
Tensor knn_op(Tensor x, Tensor y, int64_t k, std::optional<Tensor> batch_x,
              std::optional<Tensor> batch_y, bool cosine, std::optional<int64_t> batch_size) {
  return Run(make_knn_call(x, y, k, batch_x, batch_y, cosine, batch_size));
}

// The padded variants (padded.h): [2, ny * k] edges, which always hold all
// of them, and their count. No capacity to choose: no overflow.
template <Padded (*Run)(const KnnCall&)>
Padded knn_padded_op(Tensor x, Tensor y, int64_t k, std::optional<Tensor> batch_x,
                     std::optional<Tensor> batch_y, bool cosine,
                     std::optional<int64_t> batch_size) {
  return Run(make_knn_call(x, y, k, batch_x, batch_y, cosine, batch_size,
                           EXT_NS_STR ".knn_padded"));
}

template <Padded (*Run)(const KnnCall&)>
Padded knn_graph_padded_op(Tensor x, int64_t k, std::optional<Tensor> batch, bool loop,
                           std::string flow, bool cosine, std::optional<int64_t> batch_size) {
  return Run(make_knn_graph_call(x, k, batch, loop, flow, cosine, batch_size,
                                 EXT_NS_STR ".knn_graph_padded"));
}

// Slots of the padded result: every query's k.
inline int64_t padded_capacity(const KnnCall& c) { return c.ny() * c.k; }

template <Tensor (*Run)(const KnnCall&)>
Padded knn_padded_from_exact(const KnnCall& c) {
  return pad_edges(c, Run(c), padded_capacity(c));
}

template <Tensor (*Run)(const KnnCall&)>
Tensor knn_graph_op(Tensor x, int64_t k, std::optional<Tensor> batch, bool loop,
                    std::string flow, bool cosine, std::optional<int64_t> batch_size) {
  return Run(make_knn_graph_call(x, k, batch, loop, flow, cosine, batch_size));
}

}  // namespace ops
