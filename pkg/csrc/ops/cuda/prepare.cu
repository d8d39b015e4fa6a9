// Point preparation kernels; see prepare.h.
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <algorithm>
#include <cstring>

#include "prepare.h"

namespace ops {
// A named namespace with static functions rather than an anonymous one:
// nvcc names anonymous namespaces with a per-process hash, which would make
// every CUDA build differ (reproducible wheels need identical bytes).
namespace prepare_impl {
using u64 = unsigned long long;
constexpr int kBlock = 256;

int64_t blocks_for(int64_t n) { return (n + kBlock - 1) / kBlock; }
// Grid-stride kernels that reduce: a bounded grid keeps the atomics few.
int reduce_blocks(int64_t n) { return int(std::min<int64_t>(std::max<int64_t>(blocks_for(n), 1), 1024)); }

// Doubles mapped to unsigned keys whose order matches, for atomicMin/Max.
static __device__ u64 order_key(double v) {
  const u64 b = static_cast<u64>(__double_as_longlong(v));
  return (b >> 63) ? ~b : (b | 0x8000000000000000ULL);
}
}  // namespace prepare_impl
using namespace prepare_impl;

double from_order_key(u64 k) {
  const u64 b = (k >> 63) ? (k & 0x7FFFFFFFFFFFFFFFULL) : ~k;
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

namespace prepare_impl {
template <typename T> static __device__ double widen(T v) { return double(static_cast<float>(v)); }
static __device__ double widen(double v) { return v; }

template <typename in_t>
static __global__ void scan_points(const in_t* __restrict__ p, int64_t n, int64_t dim, int gdim,
                            DeviceStats* st, int32_t* nonfinite) {
  double lo[kMaxGridDims], hi[kMaxGridDims];
  for (int d = 0; d < kMaxGridDims; ++d) {
    lo[d] = INFINITY;
    hi[d] = -INFINITY;
  }
  bool bad = false;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    for (int64_t d = 0; d < dim; ++d) {
      const double v = widen(p[i * dim + d]);
      bad |= !isfinite(v);
      if (d < gdim) {
        lo[d] = fmin(lo[d], v);
        hi[d] = fmax(hi[d], v);
      }
    }
  }
  for (int off = 16; off > 0; off /= 2) {
    for (int d = 0; d < kMaxGridDims; ++d) {
      lo[d] = fmin(lo[d], __shfl_down_sync(0xffffffffu, lo[d], off));
      hi[d] = fmax(hi[d], __shfl_down_sync(0xffffffffu, hi[d], off));
    }
  }
  bad = __any_sync(0xffffffffu, bad);
  if ((threadIdx.x & 31) == 0) {
    for (int d = 0; d < gdim; ++d) {
      atomicMin(&st->lo[d], order_key(lo[d]));
      atomicMax(&st->hi[d], order_key(hi[d]));
    }
    if (bad) atomicExch(nonfinite, 1);
  }
}

static __global__ void scan_batch(const int64_t* __restrict__ b, int64_t n, int32_t* unsorted) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    if (i == 0 ? b[0] < 0 : b[i] < b[i - 1]) atomicExch(unsorted, 1);
  }
}

template <typename in_t>
static __global__ void cell_keys(const in_t* __restrict__ p, const int64_t* __restrict__ batch,
                          int64_t n, int64_t dim, GridSpec g, int32_t* __restrict__ key,
                          int32_t* __restrict__ rank, int32_t* __restrict__ count) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  int64_t c[kMaxGridDims];
  for (int d = 0; d < kMaxGridDims; ++d) c[d] = d < g.gdim ? g.coord(widen(p[i * dim + d]), d) : 0;
  const int32_t k = int32_t(g.key(batch_of(batch, i), c));
  key[i] = k;
  rank[i] = atomicAdd(&count[k], 1);
}

template <typename in_t, typename acc_t>
static __global__ void scatter_points(const in_t* __restrict__ p, int64_t n, int64_t dim,
                               const int32_t* __restrict__ key, const int32_t* __restrict__ rank,
                               const int32_t* __restrict__ start,
                               acc_t* __restrict__ coords, int32_t* __restrict__ index) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t j = int64_t(start[key[i]]) + rank[i];
  index[j] = int32_t(i);
  for (int64_t d = 0; d < dim; ++d) coords[j * dim + d] = acc_t(widen(p[i * dim + d]));
}

template <typename in_t, typename acc_t>
static __global__ void widen_points(const in_t* __restrict__ in, int64_t n,
                                    acc_t* __restrict__ out) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = acc_t(widen(in[i]));
}

}  // namespace prepare_impl
using namespace prepare_impl;

template <typename in_t, typename acc_t>
cudaError_t launch_widen(const in_t* in, int64_t n, acc_t* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  widen_points<<<blocks_for(n), kBlock, 0, stream>>>(in, n, out);
  return cudaGetLastError();
}

template <typename in_t>
cudaError_t launch_scan_points(const in_t* p, int64_t n, int64_t dim, int gdim, DeviceStats* st,
                               int32_t* nonfinite, cudaStream_t stream) {
  scan_points<<<reduce_blocks(n), kBlock, 0, stream>>>(p, n, dim, gdim, st, nonfinite);
  return cudaGetLastError();
}

cudaError_t launch_scan_batch(const int64_t* batch, int64_t n, int32_t* unsorted,
                              cudaStream_t stream) {
  scan_batch<<<reduce_blocks(n), kBlock, 0, stream>>>(batch, n, unsorted);
  return cudaGetLastError();
}

template <typename in_t>
cudaError_t launch_cell_keys(const in_t* p, const int64_t* batch, int64_t n, int64_t dim,
                             const GridSpec& g, int32_t* key, int32_t* rank, int32_t* count,
                             cudaStream_t stream) {
  cell_keys<<<blocks_for(n), kBlock, 0, stream>>>(p, batch, n, dim, g, key, rank, count);
  return cudaGetLastError();
}

template <typename in_t, typename acc_t>
cudaError_t launch_scatter(const in_t* p, int64_t n, int64_t dim, const int32_t* key,
                           const int32_t* rank, const int32_t* start, acc_t* coords,
                           int32_t* index, cudaStream_t stream) {
  scatter_points<<<blocks_for(n), kBlock, 0, stream>>>(p, n, dim, key, rank, start, coords, index);
  return cudaGetLastError();
}

#define INSTANTIATE_PREPARE(IN, ACC)                                                      \
  template cudaError_t launch_scan_points<IN>(const IN*, int64_t, int64_t, int, DeviceStats*,   \
                                              int32_t*, cudaStream_t);                          \
  template cudaError_t launch_cell_keys<IN>(const IN*, const int64_t*, int64_t, int64_t,        \
                                            const GridSpec&, int32_t*, int32_t*, int32_t*,     \
                                            cudaStream_t);                                      \
  template cudaError_t launch_scatter<IN, ACC>(const IN*, int64_t, int64_t, const int32_t*,     \
                                               const int32_t*, const int32_t*, ACC*, int32_t*,   \
                                               cudaStream_t);
template cudaError_t launch_widen<c10::Half, float>(const c10::Half*, int64_t, float*, cudaStream_t);
template cudaError_t launch_widen<c10::BFloat16, float>(const c10::BFloat16*, int64_t, float*,
                                                        cudaStream_t);
INSTANTIATE_PREPARE(c10::Half, float)
INSTANTIATE_PREPARE(c10::BFloat16, float)
INSTANTIATE_PREPARE(float, float)
INSTANTIATE_PREPARE(double, double)

}  // namespace ops
