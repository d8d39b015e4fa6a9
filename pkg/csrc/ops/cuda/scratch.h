#pragma once
// This thread's reusable memory for a call's few bytes of device-to-host
// traffic (scratch.cpp): a pinned, mapped host buffer (copy_to_host, and the
// reports of ReportSlot) and a self-zeroing device buffer (count_pass_stats).
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "brute_pass.h"

namespace ops {
namespace cuda {

// kPinnedBytes of page-locked host memory for this thread's small
// device-to-host copies (the stats, an edge count), reused across calls.
// It is mapped, so kernels may also write it directly (ReportSlot).
constexpr size_t kPinnedBytes = 256;

// Copies `bytes` (at most kPinnedBytes) at `device_src` to `dst` through the
// pinned buffer: the copy is queued on `stream`, then the host waits for the
// stream (the call's sync) and copies the bytes out.
void copy_to_host(void* dst, const void* device_src, size_t bytes, cudaStream_t stream);
// The same for one T, its size checked at compile time.
template <typename T>
void copy_to_host(T& dst, const void* device_src, cudaStream_t stream) {
  static_assert(sizeof(T) <= kPinnedBytes, "must fit the pinned buffer");
  static_assert(std::is_trivially_copyable_v<T>, "copied as bytes");
  copy_to_host(&dst, device_src, sizeof(T), stream);
}

// kSelfZeroingBytes of device memory, this thread's, zero whenever none of
// its calls is using it: a kernel using it zeroes it again before it writes
// its ticket, so the next call needs no memset. Only for ops that wait for
// their ticket before returning (no two calls of a thread overlap then).
constexpr size_t kSelfZeroingBytes = 256;
void* self_zeroing_scratch();

// Where an exact op's count pass reports (brute_pass.h): this thread's
// pinned buffer as the kernel sees it and as the host reads it, and the
// ticket (a number new to this thread) the kernel writes after the report.
// The host waits for the ticket rather than for a copy and an event: two
// CUDA calls fewer on the host, no copy on the GPU. wait() raises if the
// stream fails, or finishes without the ticket.
// Once queued() says the pass is on the stream, a call that raises before
// wait() still waits for the ticket on its way out (quietly): the pass uses
// this thread's self-zeroing scratch, which the thread's next call, on any
// stream, would otherwise share while the pass still runs.
class ReportSlot {
 public:
  BruteReport* const device;
  const uint64_t ticket;
  explicit ReportSlot(cudaStream_t stream);
  ReportSlot(const ReportSlot&) = delete;
  ReportSlot& operator=(const ReportSlot&) = delete;
  ~ReportSlot();
  void queued() { pending_ = true; }
  BruteReport wait();  // the report, once its ticket is there

 private:
  const BruteReport* host_;
  cudaStream_t stream_;
  bool pending_ = false;
};

// The stats a count pass gathers into: `own` (the call's device memory,
// zeroed here) for the padded ops, or with a report the self-zeroing scratch
// (the pass leaves it zeroed: no memset).
BruteStats* count_pass_stats(BruteStats* own, const BruteReport* report, cudaStream_t stream);

}  // namespace cuda
}  // namespace ops
