#pragma once
// What the neighbour ops' CUDA host code (cuda/*_kernel.cpp) stands on
// (runtime.cpp), beyond stream.h's error checks and current stream: typed
// pointers into tensors, the dtype dispatch of an op's entry (on_device), and
// the two refusals under CUDA graph capture.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "../common/points.h"
#include "stream.h"

namespace ops {
namespace cuda {
using torch::headeronly::ScalarType;

// A tensor's memory as T* (the caller knows its dtype); data_or_null: null
// for an absent optional tensor.
template <typename T>
T* data(Tensor& t) { return static_cast<T*>(t.mutable_data_ptr()); }

template <typename T>
const T* data_or_null(const std::optional<Tensor>& t) {
  return t ? static_cast<const T*>(t->const_data_ptr()) : nullptr;
}

// Byte offset of the next 256-byte aligned sub-buffer after `bytes`.
inline int64_t aligned(int64_t bytes) { return (bytes + 255) / 256 * 256; }

// The dtype of the distance type acc_t (float or double).
template <typename acc_t>
ScalarType acc_scalar() {
  return std::is_same_v<acc_t, double> ? ScalarType::Double : ScalarType::Float;
}

// An op's CUDA entry: the device guard and torch's current stream, then
// typed(Type<in_t>{}, stream) for the points' dtype.
template <typename F>
auto on_device(const PointSets& c, F&& typed) {
  EXT_CHECK(c.x.is_cuda(), c.op, ": internal error: CUDA kernel got a non-CUDA tensor");
  const CurrentStream on(c.x);
  return dispatch_floating(c.x.scalar_type(), [&](auto in, auto) { return typed(in, on.stream); });
}

// CUDA graph capture: an op that waits on the host cannot be captured.
// Both raise if `stream` is being captured, each with its own advice.
//
// The exact ops (radius, knn, ...) always wait for their output size: `op`
// is told to use its _padded form (a fixed-shape result, no sync) instead.
void refuse_capture_for_exact_op(const char* op, cudaStream_t stream);
// The padded ops wait only on inputs too large for their sync-free search
// (the grid path sizes its grid on the host): the message names the
// sync-free `limits` and advises a call outside the capture or smaller calls.
void refuse_capture_for_large_padded_input(const PointSets& c, cudaStream_t stream,
                                           const std::string& limits);

}  // namespace cuda
}  // namespace ops
