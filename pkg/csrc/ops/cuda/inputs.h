#pragma once
// The CUDA kernels' one scan of the inputs (bounding box, non-finite
// coordinates, batch order: prepare.cu's kernels) into common/points.h's
// InputStats (inputs.cpp decodes it), and the points widened to the distance
// type. cpu/inputs.h is the CPU kernels' scan.
#include <torch/csrc/stable/tensor.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../common/points.h"
#include "prepare.h"
#include "runtime.h"
#include "scratch.h"

namespace ops {
namespace cuda {

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
  if (!c.y_is_x) {  // else read_stats copies x's half
    CUDA_CHECK(launch_scan_points(static_cast<const in_t*>(c.y.const_data_ptr()), c.ny(),
                                  c.dim(), gdim, st, &st->y_nonfinite, stream));
  }
  const int64_t* bx = data_or_null<int64_t>(c.batch_x);
  const int64_t* by = c.y_is_x ? nullptr : data_or_null<int64_t>(c.batch_y);
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
  Tensor buf = new_uninit(c.x, {int64_t(sizeof(DeviceStats))}, ScalarType::Byte);
  auto* st = reinterpret_cast<DeviceStats*>(data<uint8_t>(buf));
  enqueue_scan<in_t>(c, st, stream);
  DeviceStats host;
  copy_to_host(host, st, stream);
  return read_stats(c, host);
}

// The points as a contiguous acc_t tensor (the input itself when it already is).
template <typename in_t, typename acc_t>
Tensor widened(const Tensor& p, cudaStream_t stream) {
  if constexpr (std::is_same_v<in_t, acc_t>) {
    return p;
  } else {
    Tensor out = new_uninit(p, {p.size(0), p.size(1)}, acc_scalar<acc_t>());
    CUDA_CHECK((launch_widen<in_t, acc_t>(static_cast<const in_t*>(p.const_data_ptr()),
                                          p.size(0) * p.size(1), data<acc_t>(out), stream)));
    return out;
  }
}

// x and y in the distance type, y widened only where it is not x itself
// (radius_graph and knn_graph pass the same tensor twice: widen it once).
template <typename in_t, typename acc_t>
std::pair<Tensor, Tensor> widened_points(const PointSets& c, cudaStream_t stream) {
  Tensor x = widened<in_t, acc_t>(c.x, stream);
  return {x, c.y_is_x ? x : widened<in_t, acc_t>(c.y, stream)};
}

}  // namespace cuda
}  // namespace ops
