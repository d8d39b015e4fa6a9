// CUDA errors, the device guard and torch's current stream; see stream.h.
#include "cuda/stream.h"

#include "common/args.h"

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

}  // namespace cuda
}  // namespace ops
