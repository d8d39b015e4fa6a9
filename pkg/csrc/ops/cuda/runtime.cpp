// What every CUDA kernel's host code stands on; see runtime.h.
#include "runtime.h"

namespace ops {
namespace cuda {

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
