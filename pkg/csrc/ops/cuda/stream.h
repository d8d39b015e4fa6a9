#pragma once
// What every CUDA kernel's host code needs first (stream.cpp): CUDA and
// shim errors as exceptions that name the call, and the device guard plus
// torch's current stream for a tensor's device.
#include <cuda_runtime_api.h>
#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/tensor.h>

namespace ops {
namespace cuda {
void check_cuda(cudaError_t err, const char* what);
#define CUDA_CHECK(expr) ::ops::cuda::check_cuda((expr), #expr)

// Errors from torch's C shim (the stable ABI's calls into libtorch).
void check_shim(AOTITorchError err, const char* what);
#define SHIM_CHECK(expr) ::ops::cuda::check_shim((expr), #expr)

// torch's current stream on `device`.
cudaStream_t current_stream(int32_t device);

// For the lifetime of a kernel's host code: t's device made current, and
// torch's current stream on it.
struct CurrentStream {
  torch::stable::accelerator::DeviceGuard guard;
  cudaStream_t stream;
  explicit CurrentStream(const torch::stable::Tensor& t)
      : guard(t.get_device_index()), stream(current_stream(t.get_device_index())) {}
};
}  // namespace cuda
}  // namespace ops
