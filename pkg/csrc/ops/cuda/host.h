#pragma once
// Host-side CUDA pieces every op's kernel shares (host.cpp): error checks,
// torch's current stream, torch's cumsum as an exclusive prefix sum, the one
// scan of the inputs, and the counting-sort cell list on the device.
// Temporary memory comes from torch's caching allocator.
#include <cuda_runtime_api.h>
#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "../common/points.h"
#include "brute_pass.h"
#include "prepare.h"
#include "scan.h"

namespace ops {
namespace cuda {
using torch::headeronly::ScalarType;

void check_cuda(cudaError_t err, const char* what);
#define CUDA_CHECK(expr) ::ops::cuda::check_cuda((expr), #expr)

// Errors from torch's C shim (the stable ABI's calls into libtorch).
void check_shim(AOTITorchError err, const char* what);
#define SHIM_CHECK(expr) ::ops::cuda::check_shim((expr), #expr)

// torch's current stream on `device`.
cudaStream_t current_stream(int32_t device);

template <typename T>
T* data(Tensor& t) { return static_cast<T*>(t.mutable_data_ptr()); }

template <typename T>
const T* data_or_null(const std::optional<Tensor>& t) {
  return t ? static_cast<const T*>(t->const_data_ptr()) : nullptr;
}

// The [n + 1] exclusive prefix sum of a 1-D int32/int64 tensor (scan.cu),
// at the start of the returned byte buffer: read it with data<T>().
Tensor exclusive_sum(const Tensor& in, cudaStream_t stream);
// The same for n int32 values at `in` (device memory), allocated like `like`.
Tensor exclusive_sum_raw(const int32_t* in, int64_t n, const Tensor& like, cudaStream_t stream);

// The padded ops on inputs too large for their sync-free search: raises,
// naming the sync-free `limits`, if `stream` is being captured into a CUDA
// graph (the grid path's sync would break the capture).
void check_not_capturing(const PointSets& c, cudaStream_t stream, const std::string& limits);

// kPinnedBytes of page-locked host memory for this thread's small
// device-to-host copies (the stats, an edge count), reused across calls.
// It is mapped, so kernels may also write it directly (ReportSlot).
constexpr size_t kPinnedBytes = 256;
void* pinned_scratch();

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

// The longest batch segment the small-input search (a warp per query over
// its batch segment, no grid, so no sync to size one) may meet in this call,
// from sizes alone; 0: it does not apply (padded.h's kBrute* limits). With
// `any_x`, the op's brute force takes a segment of any length (knn); radius
// keeps a bit per candidate, at most kBruteMaxSegment. EXT_CUDA_BRUTE=0 in
// the environment turns it off, so that tests can check the grid search on
// small inputs too.
int64_t small_input_segment(const PointSets& c, bool any_x);
// Those limits in words, for messages.
std::string small_input_limits(bool any_x);

// The [2, edges] result from a [2, capacity] buffer whose rows the kernels
// wrote back to back (the second at slot `edges`), allocated before the edge
// count was known: a view, or a copy where the buffer is more than about
// twice the result (a result never holds much more memory than its size).
Tensor edges_from_buffer(const Tensor& buf, int64_t edges, int64_t capacity);

// Raises if `stream` is being captured into a CUDA graph: `op` waits for a
// result on the host, which a capture cannot (its _padded form need not).
void check_not_captured(const char* op, cudaStream_t stream);

// The scan of the inputs, in two halves so that an op can queue more work
// before the one sync: enqueue_scan() launches the kernels into `st`
// (device memory, e.g. the start of a byte tensor), read_stats() decodes the
// copy brought back to the host.
template <typename in_t>
void enqueue_scan(const PointSets& c, DeviceStats* st, cudaStream_t stream) {
  CUDA_CHECK(cudaMemsetAsync(st, 0, sizeof(DeviceStats), stream));
  CUDA_CHECK(cudaMemsetAsync(st->lo, 0xFF, sizeof(st->lo), stream));
  const int gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  CUDA_CHECK(launch_scan_points(static_cast<const in_t*>(c.x.const_data_ptr()), c.nx(), c.dim(),
                                gdim, st, &st->x_nonfinite, stream));
  if (!c.y_is_x) {  // else read_stats copies x's half
    CUDA_CHECK(launch_scan_points(static_cast<const in_t*>(c.y.const_data_ptr()), c.ny(),
                                  c.dim(), gdim, st, &st->y_nonfinite, stream));
  }
  const int64_t* bx = data_or_null<int64_t>(c.batch_x);
  const int64_t* by = c.y_is_x ? nullptr : data_or_null<int64_t>(c.batch_y);
  if (bx && c.nx() > 0) {
    CUDA_CHECK(launch_scan_batch(bx, c.nx(), &st->bx_unsorted, stream));
    CUDA_CHECK(cudaMemcpyAsync(&st->bx_last, bx + c.nx() - 1, 8, cudaMemcpyDeviceToDevice, stream));
  }
  if (by && c.ny() > 0) {
    CUDA_CHECK(launch_scan_batch(by, c.ny(), &st->by_unsorted, stream));
    CUDA_CHECK(cudaMemcpyAsync(&st->by_last, by + c.ny() - 1, 8, cudaMemcpyDeviceToDevice, stream));
  }
}
InputStats read_stats(const PointSets& c, const DeviceStats& host);

// Both halves with the sync between them (one device-to-host copy).
template <typename in_t>
InputStats scan_inputs(const PointSets& c, cudaStream_t stream) {
  Tensor buf = new_uninit(c.x, {int64_t(sizeof(DeviceStats))}, ScalarType::Byte);
  auto* st = reinterpret_cast<DeviceStats*>(data<uint8_t>(buf));
  enqueue_scan<in_t>(c, st, stream);
  static_assert(sizeof(DeviceStats) <= kPinnedBytes, "the stats must fit the pinned buffer");
  void* pinned = pinned_scratch();
  CUDA_CHECK(cudaMemcpyAsync(pinned, st, sizeof(DeviceStats), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  DeviceStats host;
  std::memcpy(&host, pinned, sizeof host);
  return read_stats(c, host);
}

template <typename acc_t>
ScalarType acc_scalar() {
  return std::is_same_v<acc_t, double> ? ScalarType::Double : ScalarType::Float;
}

// The points as a contiguous acc_t tensor (the input itself when it already is).
template <typename in_t, typename acc_t>
Tensor widened(const Tensor& p, cudaStream_t stream) {
  if constexpr (std::is_same_v<in_t, acc_t>) {
    return p;
  } else {
    Tensor out = new_uninit(p, {p.size(0), p.size(1)}, acc_scalar<acc_t>());
    CUDA_CHECK((launch_widen<in_t, acc_t>(static_cast<const in_t*>(p.const_data_ptr()),
                                          p.size(0) * p.size(1), data<acc_t>(out), stream)));
    return out;
  }
}

// x and y in the distance type, y widened only where it is not x itself
// (radius_graph and knn_graph pass the same tensor twice: widen it once).
template <typename in_t, typename acc_t>
std::pair<Tensor, Tensor> widened_points(const PointSets& c, cudaStream_t stream) {
  Tensor x = widened<in_t, acc_t>(c.x, stream);
  return {x, c.y_is_x ? x : widened<in_t, acc_t>(c.y, stream)};
}

template <typename T> struct Type { using type = T; };

// An op's CUDA entry: the device guard and torch's current stream, then
// typed(Type<in_t>{}, stream) for the points' dtype.
template <typename F>
auto on_device(const PointSets& c, F&& typed) {
  EXT_CHECK(c.x.is_cuda(), c.op, ": internal error: CUDA kernel got a non-CUDA tensor");
  const auto device = c.x.get_device_index();
  torch::stable::accelerator::DeviceGuard guard(device);
  const cudaStream_t st = current_stream(device);
  switch (c.x.scalar_type()) {
    case ScalarType::Half: return typed(Type<c10::Half>{}, st);
    case ScalarType::BFloat16: return typed(Type<c10::BFloat16>{}, st);
    case ScalarType::Float: return typed(Type<float>{}, st);
    default: return typed(Type<double>{}, st);
  }
}

// Points grouped by cell: start[k]..start[k+1] are cell k's slots in
// coords/index. The pointers live in `work` and `sums` (kept alive here).
template <typename acc_t>
struct CellList {
  Tensor work, sums;
  acc_t* coords;
  int32_t* index;
  int32_t* start;
};

// Byte offset of the next 256-byte aligned sub-buffer after `bytes`.
inline int64_t aligned(int64_t bytes) { return (bytes + 255) / 256 * 256; }

template <typename in_t, typename acc_t>
CellList<acc_t> bucket(const Tensor& pts, const std::optional<Tensor>& batch, const GridSpec& g,
                       cudaStream_t stream) {
  const int64_t n = pts.size(0), dim = pts.size(1);
  // One allocation for the sort's arrays (each allocation through the
  // stable ABI costs microseconds of host time, which small inputs feel):
  // coords | key | rank | index | count.
  const int64_t at_key = aligned(n * dim * int64_t(sizeof(acc_t)));
  const int64_t at_rank = at_key + aligned(n * 4), at_index = at_rank + aligned(n * 4);
  const int64_t at_count = at_index + aligned(n * 4), bytes = at_count + g.num_cells * 4;
  Tensor work = new_uninit(pts, {bytes}, ScalarType::Byte);
  auto* base = data<uint8_t>(work);
  auto* key = reinterpret_cast<int32_t*>(base + at_key);
  auto* rank = reinterpret_cast<int32_t*>(base + at_rank);
  auto* count = reinterpret_cast<int32_t*>(base + at_count);
  CUDA_CHECK(cudaMemsetAsync(count, 0, size_t(g.num_cells) * 4, stream));
  const auto* p = static_cast<const in_t*>(pts.const_data_ptr());
  CUDA_CHECK(launch_cell_keys(p, data_or_null<int64_t>(batch), n, dim, g, key, rank, count, stream));
  CellList<acc_t> out{work, exclusive_sum_raw(count, g.num_cells, pts, stream),
                      reinterpret_cast<acc_t*>(base), reinterpret_cast<int32_t*>(base + at_index),
                      nullptr};
  out.start = data<int32_t>(out.sums);
  CUDA_CHECK(launch_scatter(p, n, dim, key, rank, out.start, out.coords, out.index, stream));
  return out;
}

// x's and y's cell lists; y's is x's where y is x (sorted once).
template <typename in_t, typename acc_t>
std::pair<CellList<acc_t>, CellList<acc_t>> bucket_sets(const PointSets& c, const GridSpec& g,
                                                        cudaStream_t stream) {
  CellList<acc_t> xs = bucket<in_t, acc_t>(c.x, c.batch_x, g, stream);
  return {xs, c.y_is_x ? xs : bucket<in_t, acc_t>(c.y, c.batch_y, g, stream)};
}

}  // namespace cuda
}  // namespace ops
