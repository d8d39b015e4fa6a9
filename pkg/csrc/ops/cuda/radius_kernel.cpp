// CUDA backend of radius / radius_graph: host orchestration (device code in
// prepare.cu, search_d*.cu and radius_brute.cu). Two searches, chosen by size
// alone (so the choice needs no sync):
//  * small inputs (radius_brute.h's limits: batches of molecules, one small
//    system), where a call's cost is its launches and syncs: a warp per
//    query tests its whole batch segment; count kernel (with the data
//    checks), scan, one device-to-host copy (checks + edge count), fill
//    kernel, queued before the host waits for the count into a buffer sized
//    by a guess (see edge_guess). The padded ops do not wait: no sync.
//  * everything else, the same algorithm as the CPU kernel:
//    1. one pass over the inputs: bounding box, non-finite and batch checks;
//    2. counting sort of x (and of the queries y, for coherent warps) by cell;
//    3. count pass: neighbours per query -> exclusive scan -> exact size;
//    4. fill pass: each query writes its (k nearest) neighbours, index order.
//    Two small device-to-host copies sync.
// Temporary memory comes from torch's caching allocator, work runs on
// torch's current stream.
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>

#include "../common/library.h"
#include "../common/radius_call.h"
#include "buckets.h"
#include "inputs.h"
#include "prefix_sum.h"
#include "radius_brute.h"
#include "runtime.h"
#include "scratch.h"
#include "search.h"
#include "small_inputs.h"

namespace ops {
namespace {
using torch::headeronly::ScalarType;
using namespace cuda;

template <int DIM, typename acc_t>
Tensor search(const RadiusCall& c, const Scan<acc_t>& s, cudaStream_t stream) {
  const int64_t ny = c.ny();
  Tensor found = new_uninit(c.y, {ny}, ScalarType::Int);
  Tensor keep = new_uninit(c.y, {ny}, ScalarType::Long);
  CUDA_CHECK((launch_count<DIM, acc_t>(s, data<int32_t>(found), data<int64_t>(keep), stream)));
  Tensor offset = exclusive_sum(keep, stream);
  int64_t edges = 0;
  copy_to_host(edges, data<int64_t>(offset) + ny, stream);
  Tensor out = new_edges(c, edges);
  if (edges == 0) return out;
  int64_t* rows = data<int64_t>(out);
  CUDA_CHECK((launch_fill<DIM, acc_t>(s, data<int32_t>(found), data<int64_t>(offset),
                                      rows + (c.neighbour_first ? edges : 0),
                                      rows + (c.neighbour_first ? 0 : edges), stream)));
  return out;
}

// Candidates a cell warp lists in shared memory: twice the average
// neighbourhood (3^gdim cells), at least 128, at most 2048 (10 KiB a warp
// for float, 40 KiB a block); more overflow to the per-query kernels.
template <typename acc_t>
int32_t cell_warp_capacity(const RadiusCall& c, const GridSpec& g) {
  double expected = double(c.nx()) / double(g.num_cells);
  for (int d = 0; d < g.gdim; ++d) expected *= 3.0;
  int32_t cap = 128;
  while (cap < 2048 && cap < 2.0 * expected) cap <<= 1;
  while (kCellWarps * cell_warp_bytes<acc_t>(cap, true) > 40 * 1024) cap >>= 1;
  return cap;
}

// ------------------------------------------------------------ small inputs
// The count pass of the brute force (with the scan of its counts), queued.
// One allocation holds found | keep | offset [ny + 1] | BruteStats | masks,
// with offset[ny] (the edge count) right before the stats so that a single
// copy brings both back.
template <typename acc_t>
struct BruteCount {
  Tensor x, y, work;  // x, y in the distance type (the inputs themselves if already)
  BruteRadius<acc_t> s;
  BruteWork w;
};

// Exactly one of `count` (the padded ops) and `report` (the exact op) is set.
template <int DIM, typename in_t, typename acc_t>
BruteCount<acc_t> brute_count(const RadiusCall& c, int64_t max_segment, int64_t* count,
                              BruteReport* report, uint64_t ticket, cudaStream_t stream) {
  const int64_t ny = c.ny(), mask_stride = (max_segment + 31) / 32;
  auto [x, y] = widened_points<in_t, acc_t>(c, stream);
  const int64_t at_keep = aligned(ny * 4), at_offset = at_keep + aligned(ny * 8);
  const int64_t at_stats = at_offset + (ny + 1) * 8;
  const int64_t at_masks = aligned(at_stats + int64_t(sizeof(BruteStats)));
  static_assert(sizeof(BruteStats) % 8 == 0, "the stats follow the int64 offsets");
  Tensor work = new_uninit(c.x, {at_masks + ny * mask_stride * 4}, ScalarType::Byte);
  uint8_t* base = data<uint8_t>(work);
  BruteCount<acc_t> b{x, y, work,
                      {data<acc_t>(x), data<acc_t>(y), data_or_null<int64_t>(c.batch_x),
                       data_or_null<int64_t>(c.batch_y), c.nx(), ny, c.dim(), c.max_neighbors,
                       acc_t(c.r) * acc_t(c.r), c.ignore_same_index, max_segment},
                      {reinterpret_cast<int32_t*>(base), reinterpret_cast<int64_t*>(base + at_keep),
                       reinterpret_cast<int64_t*>(base + at_offset),
                       reinterpret_cast<uint32_t*>(base + at_masks), mask_stride,
                       reinterpret_cast<BruteStats*>(base + at_stats), count, report, ticket}};
  b.w.stats = count_pass_stats(b.w.stats, report, stream);
  CUDA_CHECK((launch_brute_count<DIM, acc_t>(b.s, b.w, c.batch_size, stream)));
  return b;
}

// The exact op's output is allocated before the edge count is known, so
// that the fill is queued behind the count and the host waits only for the
// count's copy: room for max_num_neighbors per query where that is fewer,
// else for 1.25x the edges per query of this thread's last call (a training
// loop's batches are alike). A wrong guess costs a second fill after the
// sync; one far too large is copied out (see edges_from_buffer).
thread_local double last_edges_per_query = 32;

int64_t edge_guess(const RadiusCall& c, int64_t max_segment) {
  const double guess = double(c.ny()) * last_edges_per_query * 1.25 + 256;
  const int64_t bound = c.max_neighbors >= 0 ? c.ny() * std::min(c.max_neighbors, max_segment)
                                             : std::numeric_limits<int64_t>::max();
  return guess < double(bound) ? int64_t(guess) : bound;
}

// The edges, or nothing if a segment was too long (the grid's job then).
// Two launches, no memset, no copy: the count pass reports the edge count
// and the checks straight into host memory (scratch.h's ReportSlot).
template <int DIM, typename in_t, typename acc_t>
std::optional<Tensor> brute(const RadiusCall& c, int64_t max_segment, cudaStream_t stream) {
  ReportSlot slot(stream);
  const BruteCount<acc_t> b =
      brute_count<DIM, in_t, acc_t>(c, max_segment, nullptr, slot.device, slot.ticket, stream);
  slot.queued();
  const int64_t guess = edge_guess(c, max_segment);
  Tensor buf = new_edges(c, guess);  // [2, guess]; used flat
  CUDA_CHECK((launch_brute_fill<DIM, acc_t>(
      b.s, b.w, {data<int64_t>(buf), -1, guess, false, c.neighbour_first}, stream)));
  const BruteReport report = slot.wait();
  const int64_t edges = report.edges;
  check_stats(c, read_stats(c, report.stats.checks));
  if (report.stats.too_big) return std::nullopt;
  last_edges_per_query = double(edges) / double(std::max<int64_t>(c.ny(), 1));
  if (edges <= guess) return edges_from_buffer(buf, edges, guess);
  Tensor out = new_edges(c, edges);
  CUDA_CHECK((launch_brute_fill<DIM, acc_t>(
      b.s, b.w, {data<int64_t>(out), edges, edges, false, c.neighbour_first}, stream)));
  return out;
}

// The padded result with no sync: the edge count (or the code of bad input)
// stays on the device. Two launches and a memset.
template <int DIM, typename in_t, typename acc_t>
Padded brute_padded(const RadiusCall& c, int64_t capacity, int64_t max_segment,
                    cudaStream_t stream) {
  Tensor count = new_uninit(c.x, {}, ScalarType::Long);
  const BruteCount<acc_t> b =
      brute_count<DIM, in_t, acc_t>(c, max_segment, data<int64_t>(count), nullptr, 0, stream);
  Tensor out = new_edges(c, capacity);
  CUDA_CHECK((launch_brute_fill<DIM, acc_t>(
      b.s, b.w, {data<int64_t>(out), capacity, capacity, true, c.neighbour_first}, stream)));
  return {out, count};
}

// ------------------------------------------------------------- grid search
template <typename in_t>
Tensor radius_typed(const RadiusCall& c, cudaStream_t stream) {
  using acc_t = typename acc_type<in_t>::type;
  // Before anything waits for a result that never comes.
  refuse_capture_for_exact_op(c.op, stream);
  if (const int64_t seg = small_input_segment(c, false)) {
    std::optional<Tensor> edges;
    edges = c.dim() == 3 ? brute<3, in_t, acc_t>(c, seg, stream) : brute<0, in_t, acc_t>(c, seg, stream);
    if (edges) return *edges;
  }
  const InputStats stats = scan_inputs<in_t>(c, stream);
  const int64_t num_batches = check_stats(c, stats);  // empty inputs are checked too
  if (c.nx() == 0 || c.ny() == 0) return empty_edges(c);
  const GridSpec g = make_grid(c, stats, num_batches);
  EXT_CHECK(g.num_cells < std::numeric_limits<int32_t>::max(), c.op, ": the grid needs ",
              g.num_cells, " cells, more than this kernel indexes; split the batch");
  auto [xs, ys] = bucket_sets<in_t, acc_t>(c, g, stream);
  const acc_t r = acc_t(c.r);
  Tensor big = new_uninit(c.y, {g.num_cells + 4}, ScalarType::Byte);
  CUDA_CHECK(cudaMemsetAsync(big.mutable_data_ptr(), 0, size_t(g.num_cells + 4), stream));
  const Scan<acc_t> s{g, xs.coords, xs.index, xs.start,
                      ys.coords, ys.index, ys.start,
                      data_or_null<int64_t>(c.batch_y), c.ny(), c.dim(), c.max_neighbors,
                      r * r, c.ignore_same_index, cell_warp_capacity<acc_t>(c, g),
                      data<uint8_t>(big) + 4, reinterpret_cast<int32_t*>(data<uint8_t>(big))};
  return c.dim() == 3 ? search<3>(c, s, stream) : search<0>(c, s, stream);
}

template <typename in_t>
Padded padded_typed(const RadiusCall& c, int64_t capacity, cudaStream_t stream) {
  using acc_t = typename acc_type<in_t>::type;
  if (const int64_t seg = small_input_segment(c, false)) {
    return c.dim() == 3 ? brute_padded<3, in_t, acc_t>(c, capacity, seg, stream)
                        : brute_padded<0, in_t, acc_t>(c, capacity, seg, stream);
  }
  // The grid is sized from the data: this path syncs, which a CUDA graph
  // being captured would not survive. Say so instead of failing inside it.
  refuse_capture_for_large_padded_input(c, stream, small_input_limits(false));
  return pad_edges(c, radius_typed<in_t>(c, stream), capacity);
}

Tensor run(const RadiusCall& c) {
  return on_device(c, [&](auto t, cudaStream_t st) {
    return radius_typed<typename decltype(t)::type>(c, st);
  });
}

Padded run_padded(const RadiusCall& c, int64_t capacity) {
  return on_device(c, [&](auto t, cudaStream_t st) {
    return padded_typed<typename decltype(t)::type>(c, capacity, st);
  });
}

}  // namespace
}  // namespace ops

EXT_LIBRARY_IMPL(CUDA, m) {
  m.impl("radius", TORCH_BOX(&ops::radius_op<ops::run>));
  m.impl("radius_graph", TORCH_BOX(&ops::radius_graph_op<ops::run>));
  m.impl("radius_padded", TORCH_BOX(&ops::radius_padded_op<ops::run_padded>));
  m.impl("radius_graph_padded", TORCH_BOX(&ops::radius_graph_padded_op<ops::run_padded>));
}
