// Host-side CUDA pieces every op's kernel shares; see host.h.
#include "host.h"

#include <torch/csrc/stable/c/shim.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

#include "../padded.h"

namespace ops {
namespace cuda {

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

namespace {
bool capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  return capture != cudaStreamCaptureStatusNone;
}
}  // namespace

void check_not_capturing(const PointSets& c, cudaStream_t stream, const std::string& limits) {
  EXT_CHECK(!capturing(stream), c.op, ": x has ", c.nx(), " points and y ",
            c.ny(), ", more than the sync-free search takes (", limits, "); larger inputs "
            "sync once to size the grid, which CUDA graph capture forbids: call it outside the "
            "captured region, or split the input into smaller calls");
}

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

void* pinned_scratch() { return pinned_buffer().host; }

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

void check_not_captured(const char* op, cudaStream_t stream) {
  EXT_CHECK(!capturing(stream), op, ": the stream is being captured into a "
            "CUDA graph, and this op waits on the host for its output size, which a capture "
            "cannot do; call its _padded form (a fixed-shape result, no sync) instead");
}

namespace {
bool brute_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("EXT_CUDA_BRUTE");
    return !(v && v[0] == '0');
  }();
  return enabled;
}
}  // namespace

int64_t small_input_segment(const PointSets& c, bool any_x) {
  if (!brute_enabled()) return 0;
  const int64_t pairs_per_query = kBruteMaxPairs / std::max<int64_t>(c.ny(), 1);
  if (!c.batch_x) {  // one segment of all of x: the work is known
    const bool fits = (any_x || c.nx() <= kBruteMaxSegment) && c.nx() <= pairs_per_query;
    return fits ? std::max<int64_t>(c.nx(), 1) : 0;
  }
  if (c.ny() > kBruteMaxTries) return 0;
  return any_x ? pairs_per_query : std::min(kBruteMaxSegment, pairs_per_query);
}

std::string small_input_limits(bool any_x) {
  if (!brute_enabled()) return "none: EXT_CUDA_BRUTE=0 turns it off";
  const std::string pairs = std::to_string(kBruteMaxPairs), most = std::to_string(kBruteMaxSegment);
  const std::string per_query = pairs + " / len(y)";
  return "without batch vectors at most " + (any_x ? "" : most + " points of x and ") + pairs +
         " x-y pairs; with them at most " + std::to_string(kBruteMaxTries) +
         " points of y and batch segments of at most " +
         (any_x ? per_query : "min(" + most + ", " + per_query + ")") + " points";
}

Tensor edges_from_buffer(const Tensor& buf, int64_t edges, int64_t capacity) {
  const int64_t sizes[2] = {2, edges}, strides[2] = {edges, 1};
  AtenTensorHandle view = nullptr;
  SHIM_CHECK(aoti_torch__reinterpret_tensor(buf.get(), 2, sizes, strides, 0, &view));
  Tensor out(view);
  return capacity <= 2 * edges + 4096 ? out : torch::stable::clone(out);
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
  mirror_x_stats(c, s);
  return s;
}

}  // namespace cuda
}  // namespace ops
