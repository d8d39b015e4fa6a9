// CPU kernel of radius / radius_graph: a counting-sort cell list, then a count
// pass and a fill pass over the queries in cell order (cache-friendly), both
// spread over torch's intra-op threads.
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "../arith.h"
#include "../common/library.h"
#include "../common/radius_call.h"
#include "buckets.h"
#include "inputs.h"

namespace ops {
namespace {
using torch::headeronly::ScalarType;
using namespace cpu;

template <int DIM, typename acc_t>
struct Searcher {
  const GridSpec& grid;
  const CellList<acc_t>& xs;
  const CellList<acc_t>& ys;
  const int64_t* batch_y;
  int64_t dim;  // == DIM when DIM > 0: constant strides let the compiler unroll
  acc_t r2;
  bool ignore_same_index;

  // Calls f(original x index, squared distance) for every x within r of
  // query slot t (a position in ys' cell order).
  template <typename F>
  void for_each(int64_t t, F&& f) const {
    const int64_t stride = DIM > 0 ? DIM : dim;
    const acc_t* q = &ys.coords[t * stride];
    const int64_t qi = ys.index[t];
    int64_t cc[kMaxGridDims];
    for (int d = 0; d < kMaxGridDims; ++d) {
      cc[d] = d < grid.gdim ? grid.coord(double(q[d]), d) : 0;
    }
    const int64_t b = batch_of(batch_y, qi);
    int64_t lo[kMaxGridDims], hi[kMaxGridDims];
    grid.around(cc, lo, hi);
    const acc_t* coords = xs.coords.data();
    const int32_t* index = xs.index.data();
    for (int row = 0; row < GridSpec::rows(lo, hi); ++row) {
      int64_t first, last;
      grid.row_keys(b, lo, hi, row, first, last);
      const int64_t end = xs.start[last + 1];
      for (int64_t j = xs.start[first]; j < end; ++j) {
        const acc_t d2 = dist2<DIM>(coords + j * stride, q, stride);
        if (d2 < r2 && !(ignore_same_index && index[j] == qi)) f(index[j], d2);
      }
    }
  }
};

// One pass: each chunk of queries (in cell order, for cache locality) keeps
// its queries' neighbours (the k nearest, ties by index, sorted by index) in
// its own buffer; after a prefix sum over the counts, chunks copy them into
// the exactly sized output.
template <int DIM, typename acc_t>
Tensor search(const RadiusCall& call, const GridSpec& grid, const CellList<acc_t>& xs,
              const CellList<acc_t>& ys, const int64_t* batch_y) {
  const acc_t r_acc = acc_t(call.r);
  const Searcher<DIM, acc_t> s{grid, xs, ys, batch_y, call.dim(), r_acc * r_acc,
                               call.ignore_same_index};
  const int64_t ny = call.ny();
  const int64_t k = call.max_neighbors;
  const int64_t chunk = 512;
  const int64_t chunks = (ny + chunk - 1) / chunk;
  std::vector<std::vector<int32_t>> hits(chunks);  // per chunk: its queries' neighbours
  std::vector<int64_t> kept(ny + 1, 0);             // by original query index, then offsets
  torch::stable::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<std::pair<acc_t, int32_t>> near;
    for (int64_t c = c0; c < c1; ++c) {
      std::vector<int32_t>& out = hits[c];
      for (int64_t t = c * chunk; t < std::min(ny, (c + 1) * chunk); ++t) {
        const size_t first = out.size();
        if (k < 0) {
          s.for_each(t, [&](int32_t xi, acc_t) { out.push_back(xi); });
        } else {
          near.clear();
          s.for_each(t, [&](int32_t xi, acc_t d2) { near.emplace_back(d2, xi); });
          if (int64_t(near.size()) > k) {
            std::nth_element(near.begin(), near.begin() + k, near.end());
            near.resize(k);
          }
          for (const auto& p : near) out.push_back(p.second);
        }
        std::sort(out.begin() + first, out.end());
        kept[ys.index[t] + 1] = int64_t(out.size() - first);
      }
    }
  });
  for (int64_t q = 0; q < ny; ++q) kept[q + 1] += kept[q];
  const int64_t edges = kept[ny];
  Tensor result = new_edges(call, edges);
  int64_t* rows = static_cast<int64_t*>(result.mutable_data_ptr());
  int64_t* centre = rows + (call.neighbour_first ? edges : 0);
  int64_t* neighbour = rows + (call.neighbour_first ? 0 : edges);
  torch::stable::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int32_t* from = hits[c].data();
      for (int64_t t = c * chunk; t < std::min(ny, (c + 1) * chunk); ++t) {
        const int64_t q = ys.index[t];
        for (int64_t i = kept[q]; i < kept[q + 1]; ++i) {
          centre[i] = q;
          neighbour[i] = *from++;
        }
      }
      std::vector<int32_t>().swap(hits[c]);  // release as we go
    }
  });
  return result;
}

template <typename in_t>
Tensor radius_typed(const RadiusCall& call) {
  using acc_t = typename acc_type<in_t>::type;
  const int64_t* by = batch_ptr(call.batch_y);
  const InputStats stats = scan_inputs<in_t>(call);
  const int64_t num_batches = check_stats(call, stats);  // empty inputs are checked too
  if (call.nx() == 0 || call.ny() == 0) return empty_edges(call);
  const GridSpec grid = make_grid(call, stats, num_batches);
  const CellSets<acc_t> cells = bucket_sets<in_t, acc_t>(grid, call);
  const CellList<acc_t>& xs = cells.x;
  const CellList<acc_t>& ys = cells.y();
  switch (call.dim()) {
    case 1: return search<1>(call, grid, xs, ys, by);
    case 2: return search<2>(call, grid, xs, ys, by);
    case 3: return search<3>(call, grid, xs, ys, by);
    default: return search<0>(call, grid, xs, ys, by);
  }
}

Tensor run(const RadiusCall& call) {
  EXT_CHECK(call.x.is_cpu(), call.op, ": internal error: CPU kernel got a non-CPU tensor");
  switch (call.x.scalar_type()) {
    case ScalarType::Half: return radius_typed<c10::Half>(call);
    case ScalarType::BFloat16: return radius_typed<c10::BFloat16>(call);
    case ScalarType::Float: return radius_typed<float>(call);
    default: return radius_typed<double>(call);
  }
}

}  // namespace
}  // namespace ops

EXT_LIBRARY_IMPL(CPU, m) {
  m.impl("radius", TORCH_BOX(&ops::radius_op<ops::run>));
  m.impl("radius_graph", TORCH_BOX(&ops::radius_graph_op<ops::run>));
  m.impl("radius_padded", TORCH_BOX(&ops::radius_padded_op<ops::padded_from_exact<ops::run>>));
  m.impl("radius_graph_padded",
         TORCH_BOX(&ops::radius_graph_padded_op<ops::padded_from_exact<ops::run>>));
}
