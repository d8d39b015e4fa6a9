// What every CUDA kernel's host code stands on; see runtime.h.
#include "runtime.h"

#include <torch/csrc/stable/c/shim.h>

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

namespace {
bool capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  return capture != cudaStreamCaptureStatusNone;
}
}  // namespace

void refuse_capture_for_exact_op(const char* op, cudaStream_t stream) {
  EXT_CHECK(!capturing(stream), op, ": the stream is being captured into a "
            "CUDA graph, and this op waits on the host for its output size, which a capture "
            "cannot do; call its _padded form (a fixed-shape result, no sync) instead");
}

void refuse_capture_for_large_padded_input(const PointSets& c, cudaStream_t stream,
                                           const std::string& limits) {
  EXT_CHECK(!capturing(stream), c.op, ": x has ", c.nx(), " points and y ",
            c.ny(), ", more than the sync-free search takes (", limits, "); larger inputs "
            "sync once to size the grid, which CUDA graph capture forbids: call it outside the "
            "captured region, or split the input into smaller calls");
}

}  // namespace cuda
}  // namespace ops
