#pragma once
// Host-side CUDA pieces every op's kernel shares (host.cpp): error checks,
// torch's current stream, torch's cumsum as an exclusive prefix sum, the one
// scan of the inputs, and the counting-sort cell list on the device.
// Temporary memory comes from torch's caching allocator.
#include <cuda_runtime_api.h>
#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/ops.h>

#include <cstdint>
#include <optional>
#include <type_traits>

#include "../points.h"
#include "prepare.h"

namespace ops {
namespace cuda {
using torch::headeronly::ScalarType;

void check_cuda(cudaError_t err, const char* what);
#define CUDA_CHECK(expr) ::ops::cuda::check_cuda((expr), #expr)

// Errors from torch's C shim (the stable ABI's calls into libtorch).
void check_shim(AOTITorchError err, const char* what);
#define SHIM_CHECK(expr) ::ops::cuda::check_shim((expr), #expr)

// torch's current stream on `device`.
cudaStream_t current_stream(int32_t device);

template <typename T>
T* data(Tensor& t) { return static_cast<T*>(t.mutable_data_ptr()); }

template <typename T>
const T* data_or_null(const std::optional<Tensor>& t) {
  return t ? static_cast<const T*>(t->const_data_ptr()) : nullptr;
}

// [n + 1] exclusive prefix sum of a 1-D tensor, through torch's own cumsum.
Tensor exclusive_sum(const Tensor& in, cudaStream_t stream);

// The scan of the inputs, in two halves so that an op can queue more work
// before the one sync: enqueue_scan() launches the kernels into `st`
// (device memory, e.g. the start of a byte tensor), read_stats() decodes the
// copy brought back to the host.
template <typename in_t>
void enqueue_scan(const PointSets& c, DeviceStats* st, cudaStream_t stream) {
  CUDA_CHECK(cudaMemsetAsync(st, 0, sizeof(DeviceStats), stream));
  CUDA_CHECK(cudaMemsetAsync(st->lo, 0xFF, sizeof(st->lo), stream));
  const int gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  CUDA_CHECK(launch_scan_points(static_cast<const in_t*>(c.x.const_data_ptr()), c.nx(), c.dim(),
                                gdim, st, &st->x_nonfinite, stream));
  CUDA_CHECK(launch_scan_points(static_cast<const in_t*>(c.y.const_data_ptr()), c.ny(), c.dim(),
                                gdim, st, &st->y_nonfinite, stream));
  const int64_t* bx = data_or_null<int64_t>(c.batch_x);
  const int64_t* by = data_or_null<int64_t>(c.batch_y);
  if (bx && c.nx() > 0) {
    CUDA_CHECK(launch_scan_batch(bx, c.nx(), &st->bx_unsorted, stream));
    CUDA_CHECK(cudaMemcpyAsync(&st->bx_last, bx + c.nx() - 1, 8, cudaMemcpyDeviceToDevice, stream));
  }
  if (by && c.ny() > 0) {
    CUDA_CHECK(launch_scan_batch(by, c.ny(), &st->by_unsorted, stream));
    CUDA_CHECK(cudaMemcpyAsync(&st->by_last, by + c.ny() - 1, 8, cudaMemcpyDeviceToDevice, stream));
  }
}
InputStats read_stats(const PointSets& c, const DeviceStats& host);

// Both halves with the sync between them (one device-to-host copy).
template <typename in_t>
InputStats scan_inputs(const PointSets& c, cudaStream_t stream) {
  Tensor buf = torch::stable::new_empty(c.x, {int64_t(sizeof(DeviceStats))}, ScalarType::Byte);
  auto* st = reinterpret_cast<DeviceStats*>(data<uint8_t>(buf));
  enqueue_scan<in_t>(c, st, stream);
  DeviceStats host{};
  CUDA_CHECK(cudaMemcpyAsync(&host, st, sizeof host, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return read_stats(c, host);
}

// Points grouped by cell: start[k]..start[k+1] are cell k's slots in coords/index.
struct CellList {
  Tensor coords, index, start;
};

template <typename in_t, typename acc_t>
CellList bucket(const Tensor& pts, const std::optional<Tensor>& batch, const GridSpec& g,
                cudaStream_t stream) {
  const int64_t n = pts.size(0), dim = pts.size(1);
  const ScalarType acc = std::is_same_v<acc_t, double> ? ScalarType::Double : ScalarType::Float;
  Tensor key = torch::stable::new_empty(pts, {n}, ScalarType::Int);
  Tensor rank = torch::stable::new_empty(pts, {n}, ScalarType::Int);
  Tensor count = torch::stable::new_zeros(pts, {g.num_cells}, ScalarType::Int);
  const auto* p = static_cast<const in_t*>(pts.const_data_ptr());
  CUDA_CHECK(launch_cell_keys(p, data_or_null<int64_t>(batch), n, dim, g, data<int32_t>(key),
                              data<int32_t>(rank), data<int32_t>(count), stream));
  CellList out{torch::stable::new_empty(pts, {n * dim}, acc),
               torch::stable::new_empty(pts, {n}, ScalarType::Int), exclusive_sum(count, stream)};
  CUDA_CHECK(launch_scatter(p, n, dim, data<int32_t>(key), data<int32_t>(rank),
                            data<int32_t>(out.start), data<acc_t>(out.coords),
                            data<int32_t>(out.index), stream));
  return out;
}

}  // namespace cuda
}  // namespace ops
