// Exclusive prefix sums on the device, our own: torch's cumsum through the
// stable ABI's dispatcher cost tens of microseconds of host time per call
// (small inputs feel it), and CUB's kernels carry nvcc's per-process
// anonymous-namespace hashes (no reproducible wheels). One kernel per tile
// of 4096 values; the tile totals are scanned the same way, recursively.
#include "scan.h"
#include "warp.cuh"

namespace ops {
namespace scan_impl {  // named, not anonymous: reproducible builds (see prepare.cu)
constexpr int kThreads = 1024;
constexpr int kItems = 4;
constexpr int64_t kTile = int64_t(kThreads) * kItems;

int64_t tiles_for(int64_t n) { return (n + kTile - 1) / kTile; }

// out[1 + i] = in[0] + ... + in[i] within each tile of kTile values (out has
// n + 1 slots; out[0] is the caller's); tile_sums[t] = tile t's total.
template <typename T>
static __global__ void __launch_bounds__(kThreads)
tile_scan(const T* __restrict__ in, T* __restrict__ out, int64_t n, T* __restrict__ tile_sums) {
  __shared__ T warp_sums[kThreads / 32];
  const int64_t first = blockIdx.x * kTile + int64_t(threadIdx.x) * kItems;
  T v[kItems];
  T run = 0;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    run += first + i < n ? in[first + i] : T(0);
    v[i] = run;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  const T incl = warp_inclusive_sum(run);  // of the threads' totals within the warp
  if (lane == 31) warp_sums[warp] = incl;
  __syncthreads();
  if (warp == 0) {  // scan the warps' totals
    const T w = warp_inclusive_sum(lane < kThreads / 32 ? warp_sums[lane] : T(0));
    if (lane < kThreads / 32) warp_sums[lane] = w;
  }
  __syncthreads();
  const T before = (incl - run) + (warp > 0 ? warp_sums[warp - 1] : T(0));
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    if (first + i < n) out[1 + first + i] = before + v[i];
  }
  if (threadIdx.x == kThreads - 1) tile_sums[blockIdx.x] = before + run;
}

// out[1 + i] += offsets[tile of i], from the second tile on.
template <typename T>
static __global__ void __launch_bounds__(kThreads)
add_offsets(T* __restrict__ out, int64_t n, const T* __restrict__ offsets) {
  const int64_t tile = blockIdx.x + 1;
  const T add = offsets[tile];
  for (int64_t i = tile * kTile + threadIdx.x; i < n && i < (tile + 1) * kTile; i += kThreads) {
    out[1 + i] += add;
  }
}

// Scratch of a scan of n values: the tile totals, their exclusive sums, and
// what scanning those needs in turn.
template <typename T>
size_t scratch_bytes(int64_t n) {
  const int64_t tiles = tiles_for(n);
  if (tiles <= 1) return sizeof(T);
  return size_t(tiles + tiles + 1) * sizeof(T) + scratch_bytes<T>(tiles);
}
}  // namespace scan_impl
using namespace scan_impl;

template <typename T>
cudaError_t exclusive_scan(void* temp, size_t& temp_bytes, const T* in, T* out, int64_t n,
                           cudaStream_t stream) {
  if (temp == nullptr) {
    temp_bytes = scratch_bytes<T>(n);
    return cudaSuccess;
  }
  cudaError_t err = cudaMemsetAsync(out, 0, sizeof(T), stream);
  if (err != cudaSuccess || n == 0) return err;
  const int64_t tiles = tiles_for(n);
  T* sums = static_cast<T*>(temp);
  tile_scan<T><<<tiles, kThreads, 0, stream>>>(in, out, n, sums);
  if ((err = cudaGetLastError()) != cudaSuccess || tiles == 1) return err;
  T* offsets = sums + tiles;  // [tiles + 1]: exclusive sums of the tile totals
  size_t inner = 0;
  if ((err = exclusive_scan<T>(nullptr, inner, sums, offsets, tiles, stream)) != cudaSuccess) return err;
  if ((err = exclusive_scan<T>(offsets + tiles + 1, inner, sums, offsets, tiles, stream)) != cudaSuccess) {
    return err;
  }
  add_offsets<T><<<tiles - 1, kThreads, 0, stream>>>(out, n, offsets);
  return cudaGetLastError();
}

template cudaError_t exclusive_scan<int32_t>(void*, size_t&, const int32_t*, int32_t*, int64_t,
                                             cudaStream_t);
template cudaError_t exclusive_scan<int64_t>(void*, size_t&, const int64_t*, int64_t*, int64_t,
                                             cudaStream_t);

}  // namespace ops
