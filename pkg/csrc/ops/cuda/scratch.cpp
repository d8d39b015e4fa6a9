// This thread's reusable scratch memory; see scratch.h.
#include "scratch.h"

#include <cstring>

#include "runtime.h"

namespace ops {
namespace cuda {

namespace {
// Page-locked, so device-to-host copies of a few bytes skip the staging copy
// that pageable memory needs, and mapped (portable: for every device), so
// kernels can write it; one per thread (calls may run on many).
struct PinnedBuffer {
  void* host = nullptr;
  void* device = nullptr;
  PinnedBuffer() {
    CUDA_CHECK(cudaHostAlloc(&host, kPinnedBytes, cudaHostAllocMapped | cudaHostAllocPortable));
    std::memset(host, 0, kPinnedBytes);
    CUDA_CHECK(cudaHostGetDevicePointer(&device, host, 0));
  }
  ~PinnedBuffer() { cudaFreeHost(host); }
};
PinnedBuffer& pinned_buffer() {
  thread_local PinnedBuffer buffer;
  return buffer;
}

uint64_t next_ticket() {
  thread_local uint64_t last = 0;
  return ++last;
}

void wait_for_ticket(const uint64_t* slot, uint64_t ticket, cudaStream_t stream) {
  // Spin as cudaEventSynchronize does by default; every so often ask the
  // stream whether it failed, or finished without writing the ticket.
  for (uint32_t spins = 1; __atomic_load_n(slot, __ATOMIC_ACQUIRE) != ticket; ++spins) {
    if (spins % 4096) continue;
    const cudaError_t state = cudaStreamQuery(stream);
    if (state == cudaErrorNotReady) continue;
    CUDA_CHECK(state);
    if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) == ticket) break;
    fail(EXT_NS_STR ": internal error: the stream finished without the kernel's result");
  }
}
}  // namespace

void copy_to_host(void* dst, const void* device_src, size_t bytes, cudaStream_t stream) {
  EXT_CHECK(bytes <= kPinnedBytes, EXT_NS_STR ": internal error: a copy of ", bytes,
            " bytes does not fit the pinned buffer");
  void* pinned = pinned_buffer().host;
  CUDA_CHECK(cudaMemcpyAsync(pinned, device_src, bytes, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  std::memcpy(dst, pinned, bytes);
}

void* self_zeroing_scratch() {
  constexpr int kMaxDevices = 64;
  thread_local struct Buffers {
    void* p[kMaxDevices] = {};
    ~Buffers() {
      for (void* x : p) if (x) cudaFree(x);
    }
  } buffers;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  EXT_CHECK(device >= 0 && device < kMaxDevices, EXT_NS_STR ": CUDA device ", device,
            " is beyond the ", kMaxDevices, " this build keeps scratch memory for");
  void*& p = buffers.p[device];
  if (!p) {
    CUDA_CHECK(cudaMalloc(&p, kSelfZeroingBytes));
    CUDA_CHECK(cudaMemset(p, 0, kSelfZeroingBytes));  // once, synchronously
  }
  return p;
}

ReportSlot::ReportSlot(cudaStream_t stream)
    : device(static_cast<BruteReport*>(pinned_buffer().device)),
      ticket(next_ticket()),
      host_(static_cast<const BruteReport*>(pinned_buffer().host)),
      stream_(stream) {
  static_assert(sizeof(BruteReport) <= kPinnedBytes, "the report must fit the pinned buffer");
}

BruteReport ReportSlot::wait() {
  pending_ = false;
  wait_for_ticket(&host_->ticket, ticket, stream_);
  return *host_;
}

ReportSlot::~ReportSlot() {
  if (!pending_) return;
  try {
    wait_for_ticket(&host_->ticket, ticket, stream_);
  } catch (...) {  // the call is raising already; a failed stream says so again next call
  }
}

BruteStats* count_pass_stats(BruteStats* own, const BruteReport* report, cudaStream_t stream) {
  static_assert(sizeof(BruteStats) <= kSelfZeroingBytes, "the stats must fit the scratch");
  if (report) return static_cast<BruteStats*>(self_zeroing_scratch());
  CUDA_CHECK(cudaMemsetAsync(own, 0, sizeof(BruteStats), stream));
  return own;
}

}  // namespace cuda
}  // namespace ops
