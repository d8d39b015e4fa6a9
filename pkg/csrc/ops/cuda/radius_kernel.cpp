// CUDA backend of radius / radius_graph: host orchestration (device code in
// prepare.cu and search_d*.cu). Same algorithm as the CPU kernel:
//   1. one pass over the inputs: bounding box, non-finite and batch checks;
//   2. counting sort of x (and of the queries y, for coherent warps) by cell;
//   3. count pass: neighbours per query -> exclusive scan -> exact size;
//   4. fill pass: each query writes its (k nearest) neighbours, index order.
// Temporary memory comes from torch's caching allocator, work runs on
// torch's current stream, and only two small device-to-host copies sync.
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <cstdint>
#include <cstring>
#include <limits>

#include "../library.h"
#include "../radius.h"
#include "host.h"
#include "search.h"

namespace ops {
namespace {
using torch::headeronly::ScalarType;
using namespace cuda;

template <int DIM, typename acc_t>
Tensor search(const RadiusCall& c, const Scan<acc_t>& s, cudaStream_t stream) {
  const int64_t ny = c.ny();
  Tensor found = torch::stable::new_empty(c.y, {ny}, ScalarType::Int);
  Tensor keep = torch::stable::new_empty(c.y, {ny}, ScalarType::Long);
  CUDA_CHECK((launch_count<DIM, acc_t>(s, data<int32_t>(found), data<int64_t>(keep), stream)));
  Tensor offset = exclusive_sum(keep, stream);
  int64_t edges = 0;
  void* pinned = pinned_scratch();
  CUDA_CHECK(cudaMemcpyAsync(pinned, data<int64_t>(offset) + ny, 8, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  std::memcpy(&edges, pinned, 8);
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

template <typename in_t>
Tensor radius_typed(const RadiusCall& c, cudaStream_t stream) {
  using acc_t = typename acc_type<in_t>::type;
  const InputStats stats = scan_inputs<in_t>(c, stream);
  const int64_t num_batches = check_stats(c, stats);  // empty inputs are checked too
  if (c.nx() == 0 || c.ny() == 0) return empty_edges(c);
  const GridSpec g = make_grid(c, stats, num_batches);
  EXT_CHECK(g.num_cells < std::numeric_limits<int32_t>::max(), c.op, ": the grid needs ",
              g.num_cells, " cells, more than this kernel indexes; split the batch");
  auto xs = bucket<in_t, acc_t>(c.x, c.batch_x, g, stream);
  auto ys = bucket<in_t, acc_t>(c.y, c.batch_y, g, stream);
  const acc_t r = acc_t(c.r);
  Tensor big = torch::stable::new_empty(c.y, {g.num_cells + 4}, ScalarType::Byte);
  CUDA_CHECK(cudaMemsetAsync(big.mutable_data_ptr(), 0, size_t(g.num_cells + 4), stream));
  const Scan<acc_t> s{g, xs.coords, xs.index, xs.start,
                      ys.coords, ys.index, ys.start,
                      data_or_null<int64_t>(c.batch_y), c.ny(), c.dim(), c.max_neighbors,
                      r * r, c.ignore_same_index, cell_warp_capacity<acc_t>(c, g),
                      data<uint8_t>(big) + 4, reinterpret_cast<int32_t*>(data<uint8_t>(big))};
  switch (c.dim()) {
    case 1: return search<1>(c, s, stream);
    case 2: return search<2>(c, s, stream);
    case 3: return search<3>(c, s, stream);
    default: return search<0>(c, s, stream);
  }
}

Tensor run(const RadiusCall& c) {
  EXT_CHECK(c.x.is_cuda(), c.op, ": internal error: CUDA kernel got a non-CUDA tensor");
  const auto device = c.x.get_device_index();
  torch::stable::accelerator::DeviceGuard guard(device);
  const cudaStream_t st = current_stream(device);
  switch (c.x.scalar_type()) {
    case ScalarType::Half: return radius_typed<c10::Half>(c, st);
    case ScalarType::BFloat16: return radius_typed<c10::BFloat16>(c, st);
    case ScalarType::Float: return radius_typed<float>(c, st);
    default: return radius_typed<double>(c, st);
  }
}

}  // namespace
}  // namespace ops

EXT_LIBRARY_IMPL(CUDA, m) {
  m.impl("radius", TORCH_BOX(&ops::radius_op<ops::run>));
  m.impl("radius_graph", TORCH_BOX(&ops::radius_graph_op<ops::run>));
}
