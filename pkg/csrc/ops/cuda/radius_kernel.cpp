// CUDA backend of radius / radius_graph: host orchestration (device code in
// prepare.cu and search_d*.cu). Same algorithm as the CPU kernel:
//   1. one pass over the inputs: bounding box, non-finite and batch checks;
//   2. counting sort of x (and of the queries y, for coherent warps) by cell;
//   3. count pass: neighbours per query -> exclusive scan -> exact size;
//   4. fill pass: each query writes its (k nearest) neighbours, index order.
// Temporary memory comes from torch's caching allocator, work runs on
// torch's current stream, and only two small device-to-host copies sync.
#include <cuda_runtime_api.h>
#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/c/shim.h>
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <array>
#include <cstdint>
#include <limits>

#include "../library.h"
#include "../radius.h"
#include "prepare.h"
#include "search.h"

#ifndef EXT_CUDA_ARCHS
#define EXT_CUDA_ARCHS "unknown"
#endif

namespace ops {
namespace {
using torch::headeronly::ScalarType;

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
#define CUDA_CHECK(expr) check_cuda((expr), #expr)

// Errors from torch's C shim (the stable ABI's calls into libtorch).
void check_shim(AOTITorchError err, const char* what) {
  if (err != AOTI_TORCH_SUCCESS) fail(EXT_NS_STR ": torch call failed: ", what);
}
#define SHIM_CHECK(expr) check_shim((expr), #expr)

template <typename T>
T* data(Tensor& t) { return static_cast<T*>(t.mutable_data_ptr()); }

template <typename T>
const T* data_or_null(const std::optional<Tensor>& t) {
  return t ? static_cast<const T*>(t->const_data_ptr()) : nullptr;
}

// [n + 1] exclusive prefix sum of a 1-D tensor, through torch's own cumsum.
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

template <typename in_t>
InputStats scan_inputs(const RadiusCall& c, cudaStream_t stream) {
  Tensor buf = torch::stable::new_empty(c.x, {int64_t(sizeof(DeviceStats))}, ScalarType::Byte);
  auto* st = reinterpret_cast<DeviceStats*>(data<uint8_t>(buf));
  CUDA_CHECK(cudaMemsetAsync(st, 0, sizeof(DeviceStats), stream));
  CUDA_CHECK(cudaMemsetAsync(st->lo, 0xFF, sizeof(st->lo), stream));
  const int gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  CUDA_CHECK(launch_scan_points(static_cast<const in_t*>(c.x.const_data_ptr()), c.nx(), c.dim(),
                                gdim, st, &st->x_nonfinite, stream));
  CUDA_CHECK(launch_scan_points(static_cast<const in_t*>(c.y.const_data_ptr()), c.ny(), c.dim(),
                                gdim, st, &st->y_nonfinite, stream));
  const int64_t* bx = data_or_null<int64_t>(c.batch_x);
  const int64_t* by = data_or_null<int64_t>(c.batch_y);
  if (bx && c.nx() > 0) {
    CUDA_CHECK(launch_scan_batch(bx, c.nx(), &st->bx_unsorted, stream));
    CUDA_CHECK(cudaMemcpyAsync(&st->bx_last, bx + c.nx() - 1, 8, cudaMemcpyDeviceToDevice, stream));
  }
  if (by && c.ny() > 0) {
    CUDA_CHECK(launch_scan_batch(by, c.ny(), &st->by_unsorted, stream));
    CUDA_CHECK(cudaMemcpyAsync(&st->by_last, by + c.ny() - 1, 8, cudaMemcpyDeviceToDevice, stream));
  }
  DeviceStats host{};
  CUDA_CHECK(cudaMemcpyAsync(&host, st, sizeof host, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  InputStats s{};
  for (int d = 0; d < kMaxGridDims; ++d) {
    s.lo[d] = d < gdim ? from_order_key(host.lo[d]) : 0.0;
    s.hi[d] = d < gdim ? from_order_key(host.hi[d]) : 0.0;
  }
  s.x_nonfinite = host.x_nonfinite;
  s.y_nonfinite = host.y_nonfinite;
  s.bx_unsorted = host.bx_unsorted;
  s.by_unsorted = host.by_unsorted;
  s.bx_max = bx ? host.bx_last : -1;
  s.by_max = by ? host.by_last : -1;
  return s;
}

// Points grouped by cell: start[k]..start[k+1] are cell k's slots in coords/index.
struct CellList {
  Tensor coords, index, start;
};

template <typename in_t, typename acc_t>
CellList bucket(const Tensor& pts, const std::optional<Tensor>& batch, const GridSpec& g,
                cudaStream_t stream) {
  const int64_t n = pts.size(0), dim = pts.size(1);
  const ScalarType acc = std::is_same_v<acc_t, double> ? ScalarType::Double : ScalarType::Float;
  Tensor key = torch::stable::new_empty(pts, {n}, ScalarType::Int);
  Tensor rank = torch::stable::new_empty(pts, {n}, ScalarType::Int);
  Tensor count = torch::stable::new_zeros(pts, {g.num_cells}, ScalarType::Int);
  const auto* p = static_cast<const in_t*>(pts.const_data_ptr());
  CUDA_CHECK(launch_cell_keys(p, data_or_null<int64_t>(batch), n, dim, g, data<int32_t>(key),
                              data<int32_t>(rank), data<int32_t>(count), stream));
  CellList out{torch::stable::new_empty(pts, {n * dim}, acc),
               torch::stable::new_empty(pts, {n}, ScalarType::Int), exclusive_sum(count, stream)};
  CUDA_CHECK(launch_scatter(p, n, dim, data<int32_t>(key), data<int32_t>(rank),
                            data<int32_t>(out.start), data<acc_t>(out.coords),
                            data<int32_t>(out.index), stream));
  return out;
}

template <int DIM, typename acc_t>
Tensor search(const RadiusCall& c, const Scan<acc_t>& s, cudaStream_t stream) {
  const int64_t ny = c.ny();
  Tensor found = torch::stable::new_empty(c.y, {ny}, ScalarType::Int);
  Tensor keep = torch::stable::new_empty(c.y, {ny}, ScalarType::Long);
  CUDA_CHECK((launch_count<DIM, acc_t>(s, data<int32_t>(found), data<int64_t>(keep), stream)));
  Tensor offset = exclusive_sum(keep, stream);
  int64_t edges = 0;
  CUDA_CHECK(cudaMemcpyAsync(&edges, data<int64_t>(offset) + ny, 8, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  Tensor out = new_edges(c, edges);
  if (edges == 0) return out;
  int64_t* rows = data<int64_t>(out);
  CUDA_CHECK((launch_fill<DIM, acc_t>(s, data<int32_t>(found), data<int64_t>(offset),
                                      rows + (c.neighbour_first ? edges : 0),
                                      rows + (c.neighbour_first ? 0 : edges), stream)));
  return out;
}

// Candidates a cell warp lists in shared memory: twice the average
// neighbourhood (3^gdim cells), at least 128, at most 2048 (10 KiB a warp
// for float, 40 KiB a block); more overflow to the per-query kernels.
template <typename acc_t>
int32_t cell_warp_capacity(const RadiusCall& c, const GridSpec& g) {
  double expected = double(c.nx()) / double(g.num_cells);
  for (int d = 0; d < g.gdim; ++d) expected *= 3.0;
  int32_t cap = 128;
  while (cap < 2048 && cap < 2.0 * expected) cap <<= 1;
  while (kCellWarps * cell_warp_bytes<acc_t>(cap, true) > 40 * 1024) cap >>= 1;
  return cap;
}

template <typename in_t>
Tensor radius_typed(const RadiusCall& c, cudaStream_t stream) {
  using acc_t = typename acc_type<in_t>::type;
  const InputStats stats = scan_inputs<in_t>(c, stream);
  const int64_t num_batches = check_stats(c, stats);  // empty inputs are checked too
  if (c.nx() == 0 || c.ny() == 0) return empty_edges(c);
  const GridSpec g = make_grid(c, stats, num_batches);
  EXT_CHECK(g.num_cells < std::numeric_limits<int32_t>::max(), c.op, ": the grid needs ",
              g.num_cells, " cells, more than this kernel indexes; split the batch");
  CellList xs = bucket<in_t, acc_t>(c.x, c.batch_x, g, stream);
  CellList ys = bucket<in_t, acc_t>(c.y, c.batch_y, g, stream);
  const acc_t r = acc_t(c.r);
  Tensor big = torch::stable::new_zeros(c.y, {g.num_cells + 4}, ScalarType::Byte);
  const Scan<acc_t> s{g, data<acc_t>(xs.coords), data<int32_t>(xs.index), data<int32_t>(xs.start),
                      data<acc_t>(ys.coords), data<int32_t>(ys.index), data<int32_t>(ys.start),
                      data_or_null<int64_t>(c.batch_y), c.ny(), c.dim(), c.max_neighbors,
                      r * r, c.ignore_same_index, cell_warp_capacity<acc_t>(c, g),
                      data<uint8_t>(big) + 4, reinterpret_cast<int32_t*>(data<uint8_t>(big))};
  switch (c.dim()) {
    case 1: return search<1>(c, s, stream);
    case 2: return search<2>(c, s, stream);
    case 3: return search<3>(c, s, stream);
    default: return search<0>(c, s, stream);
  }
}

Tensor run(const RadiusCall& c) {
  EXT_CHECK(c.x.is_cuda(), c.op, ": internal error: CUDA kernel got a non-CUDA tensor");
  const auto device = c.x.get_device_index();
  torch::stable::accelerator::DeviceGuard guard(device);
  void* stream = nullptr;
  SHIM_CHECK(aoti_torch_get_current_cuda_stream(device, &stream));
  const auto st = static_cast<cudaStream_t>(stream);
  switch (c.x.scalar_type()) {
    case ScalarType::Half: return radius_typed<c10::Half>(c, st);
    case ScalarType::BFloat16: return radius_typed<c10::BFloat16>(c, st);
    case ScalarType::Float: return radius_typed<float>(c, st);
    default: return radius_typed<double>(c, st);
  }
}

}  // namespace
}  // namespace ops

EXT_LIBRARY_IMPL(CUDA, m) {
  m.impl("radius", TORCH_BOX(&ops::radius_op<ops::run>));
  m.impl("radius_graph", TORCH_BOX(&ops::radius_graph_op<ops::run>));
}
