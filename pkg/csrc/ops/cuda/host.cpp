// Host-side CUDA pieces every op's kernel shares; see host.h.
#include "host.h"

#include <torch/csrc/stable/c/shim.h>

#include <array>
#include <cstring>

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
template <typename T>
Tensor scan_into_new_buffer(const T* in, int64_t n, const Tensor& like, cudaStream_t stream) {
  size_t temp_bytes = 0;
  CUDA_CHECK(exclusive_scan<T>(nullptr, temp_bytes, nullptr, nullptr, n, stream));
  // One allocation: the [n + 1] sums, then the scan's scratch.
  const int64_t at = aligned((n + 1) * int64_t(sizeof(T)));
  Tensor buf = new_uninit(like, {at + int64_t(temp_bytes) + 1}, ScalarType::Byte);
  auto* base = data<uint8_t>(buf);
  CUDA_CHECK(exclusive_scan<T>(base + at, temp_bytes, in, reinterpret_cast<T*>(base), n, stream));
  return buf;
}
}  // namespace

Tensor exclusive_sum(const Tensor& in, cudaStream_t stream) {
  const int64_t n = in.size(0);
  if (in.scalar_type() == ScalarType::Long) {
    return scan_into_new_buffer(static_cast<const int64_t*>(in.const_data_ptr()), n, in, stream);
  }
  return scan_into_new_buffer(static_cast<const int32_t*>(in.const_data_ptr()), n, in, stream);
}

Tensor exclusive_sum_raw(const int32_t* in, int64_t n, const Tensor& like, cudaStream_t stream) {
  return scan_into_new_buffer(in, n, like, stream);
}

void check_not_capturing(const PointSets& c, cudaStream_t stream, const std::string& limits) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  EXT_CHECK(capture == cudaStreamCaptureStatusNone, c.op, ": x has ", c.nx(), " points and y ",
            c.ny(), ", more than the sync-free search takes (", limits, "); larger inputs "
            "sync once to size the grid, which CUDA graph capture forbids: call it outside the "
            "captured region, or split the input into smaller calls");
}

void* pinned_scratch() {
  // Page-locked, so device-to-host copies of a few bytes skip the staging
  // copy that pageable memory needs; one per thread (calls may run on many).
  thread_local struct Buffer {
    void* p = nullptr;
    ~Buffer() { if (p) cudaFreeHost(p); }
  } buffer;
  if (!buffer.p) CUDA_CHECK(cudaHostAlloc(&buffer.p, kPinnedBytes, cudaHostAllocDefault));
  return buffer.p;
}

cudaEvent_t copy_event() {
  constexpr int kMaxDevices = 64;
  thread_local struct Events {
    cudaEvent_t e[kMaxDevices] = {};
    ~Events() {
      for (cudaEvent_t x : e) if (x) cudaEventDestroy(x);
    }
  } events;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  EXT_CHECK(device >= 0 && device < kMaxDevices, EXT_NS_STR ": CUDA device ", device,
            " is beyond the ", kMaxDevices, " this build keeps events for");
  cudaEvent_t& e = events.e[device];
  if (!e) CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
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
