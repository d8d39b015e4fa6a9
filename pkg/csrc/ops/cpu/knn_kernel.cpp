// CPU kernel of knn / knn_graph. Each query's neighbour count is known from
// its batch segment before the search, so the output is allocated once and
// every query writes its slice directly (nearest first), spread over torch's
// intra-op threads:
//  * D <= 3 (Euclidean): a counting-sort cell list and the ring search of
//    knn_search.h, queries in cell order (cache-friendly);
//  * otherwise, and cosine: each query scans its batch segment of x.
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "../common/knn_call.h"
#include "../common/library.h"
#include "../knn_search.h"
#include "buckets.h"
#include "inputs.h"

namespace ops {
namespace {
using torch::headeronly::ScalarType;
using namespace cpu;

constexpr int64_t kChunk = 256;  // queries per parallel task

template <typename in_t>
std::vector<typename acc_type<in_t>::type> widen(const Tensor& t) {
  using acc_t = typename acc_type<in_t>::type;
  const auto* p = static_cast<const in_t*>(t.const_data_ptr());
  std::vector<acc_t> out(size_t(t.size(0) * t.size(1)));
  for (size_t i = 0; i < out.size(); ++i) out[i] = acc_t(as_double(p[i]));
  return out;
}

template <typename in_t>
Tensor knn_typed(const KnnCall& c) {
  using acc_t = typename acc_type<in_t>::type;
  const InputStats stats = scan_inputs<in_t>(c);
  const int64_t num_batches = check_stats(c, stats);  // empty inputs are checked too
  const int64_t nx = c.nx(), ny = c.ny(), dim = c.dim();
  const int64_t* bx = batch_ptr(c.batch_x);
  const int64_t* by = batch_ptr(c.batch_y);
  // offset[q]: where query q's neighbours start in the output.
  std::vector<int64_t> offset(ny + 1, 0);
  for (int64_t q = 0; q < ny; ++q) {
    int64_t lo, hi;
    segment_range(bx, nx, batch_of(by, q), lo, hi);
    offset[q + 1] = offset[q] + c.kept(hi - lo);
  }
  const int64_t edges = offset[ny];
  Tensor result = new_edges(c, edges);
  if (edges == 0) return result;
  int64_t* rows = static_cast<int64_t*>(result.mutable_data_ptr());
  int64_t* centre = rows + (c.neighbour_first ? edges : 0);
  int64_t* neighbour = rows + (c.neighbour_first ? 0 : edges);
  // Runs search(q, point of q, top) for every query, q in `order` (or 0..ny).
  auto for_queries = [&](const int32_t* order, auto&& search) {
    torch::stable::parallel_for(0, (ny + kChunk - 1) / kChunk, 1, [&](int64_t c0, int64_t c1) {
      std::vector<acc_t> dist;
      for (int64_t t = c0 * kChunk; t < std::min(ny, c1 * kChunk); ++t) {
        const int64_t q = order ? order[t] : t;
        const int64_t base = offset[q], n = offset[q + 1] - base;
        if (n == 0) continue;
        dist.resize(std::max<size_t>(dist.size(), size_t(n)));
        TopK<acc_t> top{dist.data(), neighbour + base, n, 0};
        search(t, q, top);
        std::fill(centre + base, centre + base + n, q);
      }
    });
  };
  if (c.use_grid()) {
    const GridSpec grid = make_grid(c, stats, num_batches, cpu_points_per_cell(c.k));
    const CellSets<acc_t> cells = bucket_sets<in_t, acc_t>(grid, c);
    const CellList<acc_t>& xs = cells.x;
    const CellList<acc_t>& ys = cells.y();
    const KnnGrid<acc_t, int64_t> s{grid, xs.coords.data(), xs.index.data(), xs.start.data(), dim,
                                    c.ignore_same_index};
    auto run = [&](auto dim_tag) {
      constexpr int DIM = decltype(dim_tag)::value;
      for_queries(ys.index.data(), [&](int64_t t, int64_t q, TopK<acc_t>& top) {
        grid_knn<DIM>(s, &ys.coords[t * dim], q, batch_of(by, q), top);
      });
    };
    if (dim == 1) run(std::integral_constant<int, 1>{});
    else if (dim == 2) run(std::integral_constant<int, 2>{});
    else run(std::integral_constant<int, 3>{});
    return result;
  }
  const std::vector<acc_t> xs = widen<in_t>(c.x), ys = widen<in_t>(c.y);
  std::vector<acc_t> xn(c.cosine ? nx : 0), yn(c.cosine ? ny : 0);
  for (int64_t j = 0; j < int64_t(xn.size()); ++j) xn[j] = norm(&xs[j * dim], dim);
  for (int64_t q = 0; q < int64_t(yn.size()); ++q) yn[q] = norm(&ys[q * dim], dim);
  auto run = [&](auto cosine_tag) {
    constexpr bool COSINE = decltype(cosine_tag)::value;
    for_queries(nullptr, [&](int64_t, int64_t q, TopK<acc_t>& top) {
      int64_t lo, hi;
      segment_range(bx, nx, batch_of(by, q), lo, hi);
      const acc_t* yq = &ys[q * dim];
      const acc_t nq = COSINE ? yn[q] : acc_t(0);
      for (int64_t j = lo; j < hi; ++j) {
        if (c.ignore_same_index && j == q) continue;
        top.offer(knn_distance<0, COSINE>(&xs[j * dim], yq, dim, COSINE ? xn[j] : acc_t(0), nq), j);
      }
    });
  };
  if (c.cosine) run(std::true_type{});
  else run(std::false_type{});
  return result;
}

Tensor run(const KnnCall& call) {
  EXT_CHECK(call.x.is_cpu(), call.op, ": internal error: CPU kernel got a non-CPU tensor");
  switch (call.x.scalar_type()) {
    case ScalarType::Half: return knn_typed<c10::Half>(call);
    case ScalarType::BFloat16: return knn_typed<c10::BFloat16>(call);
    case ScalarType::Float: return knn_typed<float>(call);
    default: return knn_typed<double>(call);
  }
}

}  // namespace
}  // namespace ops

EXT_LIBRARY_IMPL(CPU, m) {
  m.impl("knn", TORCH_BOX(&ops::knn_op<ops::run>));
  m.impl("knn_graph", TORCH_BOX(&ops::knn_graph_op<ops::run>));
  m.impl("knn_padded", TORCH_BOX(&ops::knn_padded_op<ops::knn_padded_from_exact<ops::run>>));
  m.impl("knn_graph_padded",
         TORCH_BOX(&ops::knn_graph_padded_op<ops::knn_padded_from_exact<ops::run>>));
}
