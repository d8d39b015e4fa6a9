// CUDA backend of knn / knn_graph: host orchestration (device code in
// knn_prep.cu, knn_grid.cu, knn_brute.cu; the search itself is
// knn_search.h's, shared with the CPU kernel).
// Small inputs (small_inputs.h's small_input_segment; batches of molecules,
// small clouds): no grid. A count pass (brute_pass.h: the checks and each
// query's output slots) and the tiled brute force, two launches; the exact
// ops wait only for the count pass' report, the brute force already queued
// into a buffer of len(y) * min(k, |x|) edges. Everything else:
//   1. one scan of the inputs (bounding box, non-finite and batch checks)
//      and, with batch vectors, each query's neighbour count and their
//      prefix sum, brought back to the host in ONE device-to-host copy (the
//      only sync): the checks, and the exact output size. Without batch
//      vectors every query keeps min(k, |x|) (minus itself without loops),
//      known on the host;
//   2. D <= 3 (Euclidean): counting sort of x and the queries by grid cell,
//      then the ring search; otherwise the tiled brute force per batch
//      segment. Both run one warp per query (WarpTop) when k <= 32, else one
//      thread per query.
// Work runs on torch's current stream, temporaries come from torch's
// caching allocator.
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "../common/knn_call.h"
#include "../common/library.h"
#include "../padded.h"
#include "brute_pass.h"
#include "buckets.h"
#include "inputs.h"
#include "knn_launch.h"
#include "prefix_sum.h"
#include "runtime.h"
#include "scratch.h"
#include "small_inputs.h"

namespace ops {
namespace {
using torch::headeronly::ScalarType;
using namespace cuda;

template <int DIM, typename acc_t, typename in_t>
void grid_search(const KnnCall& c, const GridSpec& g, const KnnOut<acc_t>& out,
                 cudaStream_t stream) {
  // The warp kernel tells a query from its own slot (knn_grid.cu).
  EXT_CHECK(!c.ignore_same_index || c.y_is_x, c.op, ": internal error: loop=False needs y = x");
  auto [xs, ys] = bucket_sets<in_t, acc_t>(c, g, stream);
  const KnnGrid<acc_t, int32_t> s{g, xs.coords, xs.index,
                                  xs.start, c.dim(), c.ignore_same_index};
  CUDA_CHECK((launch_knn_grid<DIM, acc_t>(s, ys.coords, ys.index,
                                          data_or_null<int64_t>(c.batch_y), c.ny(), c.k, out,
                                          stream)));
}

// x and y: the points in the distance type (widened<>).
template <typename acc_t>
void brute_search(const KnnCall& c, Tensor x, Tensor y, const KnnOut<acc_t>& out,
                  cudaStream_t stream) {
  std::optional<Tensor> xn, yn;
  if (c.cosine) {
    xn = new_uninit(x, {c.nx()}, acc_scalar<acc_t>());
    yn = new_uninit(y, {c.ny()}, acc_scalar<acc_t>());
    CUDA_CHECK(launch_norms(data<acc_t>(x), c.nx(), c.dim(), data<acc_t>(*xn), stream));
    CUDA_CHECK(launch_norms(data<acc_t>(y), c.ny(), c.dim(), data<acc_t>(*yn), stream));
  }
  const KnnBrute<acc_t> a{data<acc_t>(x), data<acc_t>(y),
                          xn ? data<acc_t>(*xn) : nullptr, yn ? data<acc_t>(*yn) : nullptr,
                          data_or_null<int64_t>(c.batch_x), data_or_null<int64_t>(c.batch_y),
                          c.nx(), c.ny(), c.dim(), c.ignore_same_index, 0};
  if (c.k <= kWarpK && c.nx() < std::numeric_limits<int32_t>::max()) {
    // Warp per query (WarpTop keeps 32-bit indices): tiles of 32..256 points
    // in up to 36 KiB of shared memory (6 blocks an SM, see knn_brute.cu).
    KnnBrute<acc_t> w = a;
    w.tile = 256;
    while (w.tile >= 32 && knn_warp_tile_bytes<acc_t>(w.tile, c.dim(), c.cosine) > 36 * 1024) w.tile -= 32;
    if (w.tile >= 32) {
      CUDA_CHECK((c.cosine ? launch_knn_brute_warp<true, acc_t>(w, out, stream)
                           : launch_knn_brute_warp<false, acc_t>(w, out, stream)));
      return;
    }
  }
  // Thread per query: up to 32 KiB of shared memory per block (several blocks
  // per SM), at most 256 points a tile; dims too wide for one point read x
  // from global memory.
  KnnBrute<acc_t> t = a;
  t.tile = 256;
  while (t.tile > 0 && knn_tile_bytes<acc_t>(t.tile, c.dim(), c.cosine) > 32 * 1024) t.tile >>= 1;
  CUDA_CHECK((c.cosine ? launch_knn_brute<true, acc_t>(t, out, stream)
                       : launch_knn_brute<false, acc_t>(t, out, stream)));
}

// With batch vectors (and queries), each query's output slots: the
// exclusive scan of what it keeps (queued; offset[ny] is the edge count).
std::optional<Tensor> queue_offsets(const KnnCall& c, cudaStream_t stream) {
  const int64_t ny = c.ny();
  if (!(c.batch_x.has_value() || c.batch_y.has_value()) || ny == 0) return std::nullopt;
  Tensor kept = new_uninit(c.y, {ny}, ScalarType::Long);
  CUDA_CHECK(launch_knn_counts(data_or_null<int64_t>(c.batch_x), c.nx(),
                               data_or_null<int64_t>(c.batch_y), ny, c.k, c.ignore_same_index,
                               data<int64_t>(kept), stream));
  return exclusive_sum(kept, stream);
}

// ------------------------------------------------------------ small inputs
// The longest segment the small-input path (knn_launch.h) may meet (0: not
// this call's path); WarpTop's indices are 32-bit.
int64_t knn_small_segment(const KnnCall& c) {
  return c.nx() < std::numeric_limits<int32_t>::max() ? small_input_segment(c, true) : 0;
}

// The points in the distance type and the count pass, queued. One allocation
// holds keep | offset [ny + 1] | BruteStats. Exactly one of `count` (the
// padded ops) and `report` (the exact ones) is set.
template <typename acc_t>
struct CountPass {
  Tensor x, y, work;
  BruteWork w;
};

template <typename in_t, typename acc_t>
CountPass<acc_t> queue_count_pass(const KnnCall& c, int64_t max_segment, int64_t* count,
                                  BruteReport* report, uint64_t ticket, cudaStream_t stream) {
  const int64_t ny = c.ny();
  auto [x, y] = widened_points<in_t, acc_t>(c, stream);
  const int64_t at_offset = aligned(ny * 8), at_stats = at_offset + (ny + 1) * 8;
  static_assert(sizeof(BruteStats) % 8 == 0, "the stats follow the int64 offsets");
  Tensor work = new_uninit(c.x, {at_stats + int64_t(sizeof(BruteStats))}, ScalarType::Byte);
  uint8_t* base = data<uint8_t>(work);
  CountPass<acc_t> p{x, y, work,
                     {nullptr, reinterpret_cast<int64_t*>(base),
                      reinterpret_cast<int64_t*>(base + at_offset), nullptr, 0,
                      reinterpret_cast<BruteStats*>(base + at_stats), count, report, ticket}};
  p.w.stats = count_pass_stats(p.w.stats, report, stream);
  const KnnBrute<acc_t> a{data<acc_t>(p.x), data<acc_t>(p.y), nullptr, nullptr,
                          data_or_null<int64_t>(c.batch_x), data_or_null<int64_t>(c.batch_y),
                          c.nx(), ny, c.dim(), c.ignore_same_index, 0};
  CUDA_CHECK(launch_knn_count_pass(a, c.k, max_segment, p.w, c.batch_size, stream));
  return p;
}

// Where the kernels write into `rows` ([2, slots]): each query's slots from
// `offset` (null: `uniform` each), and the distance scratch that k > kLocalK
// needs (kept alive in `scratch`).
template <typename acc_t>
KnnOut<acc_t> slots_of(const KnnCall& c, const int64_t* offset, int64_t uniform, int64_t* rows,
                       int64_t slots, std::optional<Tensor>& scratch) {
  if (c.k > kLocalK && slots > 0) scratch = new_uninit(c.x, {slots}, acc_scalar<acc_t>());
  return {offset, uniform, rows + (c.neighbour_first ? slots : 0),
          rows + (c.neighbour_first ? 0 : slots), scratch ? data<acc_t>(*scratch) : nullptr};
}

// The exact op: two launches, then the wait for the count pass' report (the
// brute force already queued, into a buffer of ny * min(k, nx) edges: room
// for every query's most). Nothing if a segment was too long (the grid's job).
template <typename in_t>
std::optional<Tensor> small_exact(const KnnCall& c, int64_t max_segment, cudaStream_t stream) {
  using acc_t = typename acc_type<in_t>::type;
  ReportSlot slot(stream);
  const CountPass<acc_t> p =
      queue_count_pass<in_t, acc_t>(c, max_segment, nullptr, slot.device, slot.ticket, stream);
  slot.queued();
  const int64_t slots = c.ny() * c.kept(c.nx());
  Tensor buf = new_edges(c, slots);
  std::optional<Tensor> scratch;
  KnnOut<acc_t> out = slots_of<acc_t>(c, p.w.offset, 0, data<int64_t>(buf), slots, scratch);
  out.second_row_at = p.w.offset + c.ny();  // the edge count, on the device
  if (slots > 0) brute_search(c, p.x, p.y, out, stream);
  const BruteReport report = slot.wait();
  check_stats(c, read_stats(c, report.stats.checks));
  if (report.stats.too_big) return std::nullopt;
  return edges_from_buffer(buf, report.edges, slots);
}

// ------------------------------------------------------------- any input
template <typename in_t>
Tensor knn_typed(const KnnCall& c, cudaStream_t stream) {
  using acc_t = typename acc_type<in_t>::type;
  refuse_capture_for_exact_op(c.op, stream);
  if (const int64_t max_segment = knn_small_segment(c)) {
    if (std::optional<Tensor> edges = small_exact<in_t>(c, max_segment, stream)) return *edges;
  }
  const int64_t nx = c.nx(), ny = c.ny();
  const bool batched = c.batch_x.has_value() || c.batch_y.has_value();
  // [DeviceStats | int64 edge count]: DeviceStats' size is a multiple of 8.
  static_assert(sizeof(DeviceStats) % 8 == 0, "the edge count must stay aligned");
  constexpr size_t kStatsBytes = sizeof(DeviceStats) + sizeof(int64_t);
  Tensor buf = new_uninit(c.x, {int64_t(kStatsBytes)}, ScalarType::Byte);
  CUDA_CHECK(cudaMemsetAsync(buf.mutable_data_ptr(), 0, kStatsBytes, stream));
  auto* st = reinterpret_cast<DeviceStats*>(data<uint8_t>(buf));
  auto* edges_dev = reinterpret_cast<int64_t*>(data<uint8_t>(buf) + sizeof(DeviceStats));
  enqueue_scan<in_t>(c, st, stream);
  std::optional<Tensor> offset = queue_offsets(c, stream);
  if (offset) {
    CUDA_CHECK(cudaMemcpyAsync(edges_dev, data<int64_t>(*offset) + ny, sizeof(int64_t),
                               cudaMemcpyDeviceToDevice, stream));
  }
  struct {
    DeviceStats stats;
    int64_t edges;  // with batch vectors: the edge count
  } host;
  static_assert(sizeof host == kStatsBytes, "the host copy has the device buffer's layout");
  copy_to_host(host, st, stream);
  const InputStats stats = read_stats(c, host.stats);
  const int64_t num_batches = check_stats(c, stats);  // empty inputs are checked too
  const int64_t uniform = batched ? 0 : c.kept(nx);
  const int64_t edges = batched ? host.edges : ny * uniform;
  Tensor result = new_edges(c, edges);
  if (edges == 0) return result;
  std::optional<Tensor> scratch;
  const KnnOut<acc_t> out = slots_of<acc_t>(c, offset ? data<int64_t>(*offset) : nullptr, uniform,
                                            data<int64_t>(result), edges, scratch);
  if (!c.use_grid()) {
    auto [x, y] = widened_points<in_t, acc_t>(c, stream);
    brute_search(c, x, y, out, stream);
    return result;
  }
  // The warp kernel (k <= 32) searches the 27 cells around a query in one
  // pass (knn_grid.cu's near_select): cells of ~32 / 3 points keep the k-th
  // neighbour (k <= 32) within a cell of the query, where that pass is the
  // whole search, and a row of three cells within two steps of 32 lanes.
  // A thread per query prunes best with small cells, as on the CPU.
  const double per_cell = c.k <= kWarpK ? kWarpPointsPerCell : cpu_points_per_cell(c.k);
  const GridSpec g = make_grid(c, stats, num_batches, per_cell);
  EXT_CHECK(g.num_cells < std::numeric_limits<int32_t>::max(), c.op, ": the grid needs ",
            g.num_cells, " cells, more than this kernel indexes; split the batch");
  switch (c.dim()) {
    case 1: grid_search<1, acc_t, in_t>(c, g, out, stream); break;
    case 2: grid_search<2, acc_t, in_t>(c, g, out, stream); break;
    default: grid_search<3, acc_t, in_t>(c, g, out, stream); break;
  }
  return result;
}

// The padded result with no sync: the count pass' checks and edge count stay
// on the device; bad input turns the count negative (padded.h).
template <typename in_t>
Padded padded_typed(const KnnCall& c, cudaStream_t stream) {
  using acc_t = typename acc_type<in_t>::type;
  const int64_t capacity = padded_capacity(c);
  const int64_t max_segment = knn_small_segment(c);
  if (!max_segment) {
    refuse_capture_for_large_padded_input(c, stream, small_input_limits(true));
    return pad_edges(c, knn_typed<in_t>(c, stream), capacity);
  }
  Tensor count = new_uninit(c.x, {}, ScalarType::Long);
  const CountPass<acc_t> p = queue_count_pass<in_t, acc_t>(c, max_segment, data<int64_t>(count),
                                                           nullptr, 0, stream);
  Tensor edges = new_edges(c, capacity);
  CUDA_CHECK(cudaMemsetAsync(edges.mutable_data_ptr(), 0xFF, size_t(capacity) * 16, stream));
  if (capacity == 0) return {edges, count};
  std::optional<Tensor> scratch;
  brute_search(c, p.x, p.y,
               slots_of<acc_t>(c, p.w.offset, 0, data<int64_t>(edges), capacity, scratch), stream);
  return {edges, count};
}

Padded run_padded(const KnnCall& c) {
  return on_device(c, [&](auto t, cudaStream_t st) {
    return padded_typed<typename decltype(t)::type>(c, st);
  });
}

Tensor run(const KnnCall& c) {
  return on_device(c, [&](auto t, cudaStream_t st) {
    return knn_typed<typename decltype(t)::type>(c, st);
  });
}

}  // namespace
}  // namespace ops

EXT_LIBRARY_IMPL(CUDA, m) {
  m.impl("knn", TORCH_BOX(&ops::knn_op<ops::run>));
  m.impl("knn_graph", TORCH_BOX(&ops::knn_graph_op<ops::run>));
  m.impl("knn_padded", TORCH_BOX(&ops::knn_padded_op<ops::run_padded>));
  m.impl("knn_graph_padded", TORCH_BOX(&ops::knn_graph_padded_op<ops::run_padded>));
}
