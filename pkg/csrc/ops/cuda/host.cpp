// Host-side CUDA pieces every op's kernel shares; see host.h.
#include "host.h"

#include <torch/csrc/stable/c/shim.h>

#include <array>

#ifndef EXT_CUDA_ARCHS
#define EXT_CUDA_ARCHS "unknown"
#endif

namespace ops {
namespace cuda {

void check_cuda(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidDeviceFunction ||
      err == cudaErrorUnsupportedPtxVersion) {
    int dev = 0;
    cudaDeviceProp prop{};
    cudaGetDevice(&dev);
    cudaGetDeviceProperties(&prop, dev);
    fail(EXT_NS_STR ": this GPU (", prop.name, ", sm_", prop.major, prop.minor,
         ") is not covered by the CUDA architectures this build contains (" EXT_CUDA_ARCHS
         ") and no PTX can be compiled for it; rebuild with sm_", prop.major, prop.minor,
         " in the arch list (see the README's build knobs)");
  }
  fail(EXT_NS_STR ": CUDA error in ", what, ": ", cudaGetErrorString(err));
}

void check_shim(AOTITorchError err, const char* what) {
  if (err != AOTI_TORCH_SUCCESS) fail(EXT_NS_STR ": torch call failed: ", what);
}

cudaStream_t current_stream(int32_t device) {
  void* stream = nullptr;
  SHIM_CHECK(aoti_torch_get_current_cuda_stream(device, &stream));
  return static_cast<cudaStream_t>(stream);
}

Tensor exclusive_sum(const Tensor& in, cudaStream_t stream) {
  const int64_t n = in.size(0);
  Tensor out = torch::stable::new_empty(in, {n + 1}, in.scalar_type());
  CUDA_CHECK(cudaMemsetAsync(out.mutable_data_ptr(), 0, out.element_size(), stream));
  Tensor tail = torch::stable::narrow(out, 0, 1, n);
  std::array<StableIValue, 4> stack{
      torch::stable::detail::from(in), torch::stable::detail::from(int64_t(0)),
      torch::stable::detail::from(std::optional<ScalarType>(in.scalar_type())),
      torch::stable::detail::from(tail)};
  SHIM_CHECK(
      torch_call_dispatcher("aten::cumsum", "out", stack.data(), TORCH_ABI_VERSION));
  return out;
}

InputStats read_stats(const PointSets& c, const DeviceStats& host) {
  const int gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  InputStats s{};
  for (int d = 0; d < kMaxGridDims; ++d) {
    s.lo[d] = d < gdim ? from_order_key(host.lo[d]) : 0.0;
    s.hi[d] = d < gdim ? from_order_key(host.hi[d]) : 0.0;
  }
  s.x_nonfinite = host.x_nonfinite;
  s.y_nonfinite = host.y_nonfinite;
  s.bx_unsorted = host.bx_unsorted;
  s.by_unsorted = host.by_unsorted;
  s.bx_max = c.batch_x ? host.bx_last : -1;
  s.by_max = c.batch_y ? host.by_last : -1;
  return s;
}

}  // namespace cuda
}  // namespace ops
