#pragma once
// The CUDA kernels' cell lists: points converted to the distance type and
// grouped by grid cell with a counting sort on the device (prepare.cu's
// kernels; cpu/buckets.h is the CPU's). Temporary memory comes from torch's
// caching allocator.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "../common/points.h"
#include "prefix_sum.h"
#include "prepare.h"
#include "runtime.h"

namespace ops {
namespace cuda {

// Points grouped by cell: start[k]..start[k+1] are cell k's slots in
// coords/index. The pointers live in `work` and `sums` (kept alive here).
template <typename acc_t>
struct CellList {
  Tensor work, sums;
  acc_t* coords;
  int32_t* index;
  int32_t* start;
};

template <typename in_t, typename acc_t>
CellList<acc_t> bucket(const Tensor& pts, const std::optional<Tensor>& batch, const GridSpec& g,
                       cudaStream_t stream) {
  const int64_t n = pts.size(0), dim = pts.size(1);
  // One allocation for the sort's arrays (each allocation through the
  // stable ABI costs microseconds of host time, which small inputs feel):
  // coords | key | rank | index | count.
  const int64_t at_key = aligned(n * dim * int64_t(sizeof(acc_t)));
  const int64_t at_rank = at_key + aligned(n * 4), at_index = at_rank + aligned(n * 4);
  const int64_t at_count = at_index + aligned(n * 4), bytes = at_count + g.num_cells * 4;
  Tensor work = new_uninit(pts, {bytes}, ScalarType::Byte);
  auto* base = data<uint8_t>(work);
  auto* key = reinterpret_cast<int32_t*>(base + at_key);
  auto* rank = reinterpret_cast<int32_t*>(base + at_rank);
  auto* count = reinterpret_cast<int32_t*>(base + at_count);
  CUDA_CHECK(cudaMemsetAsync(count, 0, size_t(g.num_cells) * 4, stream));
  const auto* p = static_cast<const in_t*>(pts.const_data_ptr());
  CUDA_CHECK(launch_cell_keys(p, data_or_null<int64_t>(batch), n, dim, g, key, rank, count, stream));
  CellList<acc_t> out{work, exclusive_sum_raw(count, g.num_cells, pts, stream),
                      reinterpret_cast<acc_t*>(base), reinterpret_cast<int32_t*>(base + at_index),
                      nullptr};
  out.start = data<int32_t>(out.sums);
  CUDA_CHECK(launch_scatter(p, n, dim, key, rank, out.start, out.coords, out.index, stream));
  return out;
}

// x's and y's cell lists; y's is x's where y is x (sorted once).
template <typename in_t, typename acc_t>
std::pair<CellList<acc_t>, CellList<acc_t>> bucket_sets(const PointSets& c, const GridSpec& g,
                                                        cudaStream_t stream) {
  CellList<acc_t> xs = bucket<in_t, acc_t>(c.x, c.batch_x, g, stream);
  return {xs, c.y_is_x ? xs : bucket<in_t, acc_t>(c.y, c.batch_y, g, stream)};
}

}  // namespace cuda
}  // namespace ops
