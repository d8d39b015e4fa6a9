// knn preparation kernels: per-query neighbour counts (the grid path's, and
// the small-input path's count pass), norms.
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include "brute_pass.cuh"
#include "knn_launch.h"
#include "segment.cuh"

namespace ops {
// Named, not anonymous: see prepare.cu (reproducible builds).
namespace knn_prep_impl {
constexpr int kBlock = 256;
inline int64_t blocks_for(int64_t n) { return (n + kBlock - 1) / kBlock; }

static __global__ void counts(const int64_t* __restrict__ bx, int64_t nx,
                              const int64_t* __restrict__ by, int64_t ny, int64_t k,
                              bool ignore_same_index, int64_t* __restrict__ kept) {
  const int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (q >= ny) return;
  int64_t lo, hi;
  segment_range(bx, nx, batch_of(by, q), lo, hi);
  kept[q] = knn_kept(hi - lo, k, ignore_same_index);
}

// The small-input path's count pass (brute_pass.h): warp w checks point w
// of x and of y and counts query w's output slots.
template <typename acc_t>
static __global__ void __launch_bounds__(kPassWarps * 32)
count_pass(KnnBrute<acc_t> a, int64_t k, int64_t max_segment, BruteWork out, int64_t batch_size) {
  const int lane = threadIdx.x & 31;
  const int64_t w = int64_t(blockIdx.x) * kPassWarps + (threadIdx.x >> 5);
  check_points(a.x, a.batch_x, a.nx, a.y, a.batch_y, a.ny, a.dim, &out.stats->checks, w, lane);
  if (w < a.ny) {
    int64_t lo, hi;
    warp_segment_range(a.batch_x, a.nx, batch_of(a.batch_y, w), lo, hi);
    const bool too_big = hi - lo > max_segment;  // the grid's job: keep nothing, say so
    if (lane == 0) {
      out.keep[w] = too_big ? 0 : knn_kept(hi - lo, k, a.ignore_same_index);
      if (too_big) out.stats->too_big = 1;
    }
  }
  finish_count_pass(out, a.ny, batch_size);
}

template <typename acc_t>
static __global__ void norms(const acc_t* __restrict__ p, int64_t n, int64_t dim,
                             acc_t* __restrict__ out) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = norm(p + i * dim, dim);
}
}  // namespace knn_prep_impl
using namespace knn_prep_impl;

cudaError_t launch_knn_counts(const int64_t* batch_x, int64_t nx, const int64_t* batch_y,
                              int64_t ny, int64_t k, bool ignore_same_index, int64_t* kept,
                              cudaStream_t stream) {
  if (ny == 0) return cudaSuccess;
  counts<<<blocks_for(ny), kBlock, 0, stream>>>(batch_x, nx, batch_y, ny, k, ignore_same_index,
                                                kept);
  return cudaGetLastError();
}

template <typename acc_t>
cudaError_t launch_knn_count_pass(const KnnBrute<acc_t>& a, int64_t k, int64_t max_segment,
                                  const BruteWork& out, int64_t batch_size, cudaStream_t stream) {
  count_pass<<<count_pass_blocks(a.nx > a.ny ? a.nx : a.ny), kPassWarps * 32, 0, stream>>>(
      a, k, max_segment, out, batch_size);
  return cudaGetLastError();
}
template cudaError_t launch_knn_count_pass<float>(const KnnBrute<float>&, int64_t, int64_t,
                                                  const BruteWork&, int64_t, cudaStream_t);
template cudaError_t launch_knn_count_pass<double>(const KnnBrute<double>&, int64_t, int64_t,
                                                   const BruteWork&, int64_t, cudaStream_t);

template <typename acc_t>
cudaError_t launch_norms(const acc_t* p, int64_t n, int64_t dim, acc_t* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  norms<<<blocks_for(n), kBlock, 0, stream>>>(p, n, dim, out);
  return cudaGetLastError();
}

template cudaError_t launch_norms<float>(const float*, int64_t, int64_t, float*, cudaStream_t);
template cudaError_t launch_norms<double>(const double*, int64_t, int64_t, double*, cudaStream_t);

}  // namespace ops
