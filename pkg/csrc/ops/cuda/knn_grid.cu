// knn grid search (D <= 3, Euclidean), the ring search of knn_search.h (the
// code the CPU kernel runs) in one of two ways: one WARP per query when every
// query keeps <= 32 (WarpTop: candidates tested 32 at a time, the top k
// spread over the lanes; cells of ~32/3 points, so grid_knn_near's one pass
// over the 27 cells around the query mostly suffices), else one thread per
// query (TopK in local memory or the scratch buffer). Queries run in cell
// order either way, so neighbouring warps read the same cells.
#include "knn.h"

namespace ops {
namespace knn_grid_impl {  // named, not anonymous: reproducible builds (see prepare.cu)
constexpr int kBlock = 128;

template <int DIM, typename acc_t>
static __global__ void __launch_bounds__(kBlock)
grid_kernel(KnnGrid<acc_t, int32_t> s, const acc_t* __restrict__ yc,
            const int32_t* __restrict__ yi, const int64_t* __restrict__ batch_y, int64_t ny,
            KnnOut<acc_t> out) {
  const int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (t >= ny) return;
  const int64_t q = yi[t];
  QueryTop<acc_t> qt(out, q, true);
  if (qt.n == 0) return;
  grid_knn<DIM>(s, yc + t * DIM, q, batch_of(batch_y, q), qt.top);
  qt.write(out, q);
}

// 8 blocks an SM (64 registers): 4 % faster at 1e6 points, k = 16 and 32
// (H200), than the 72 registers the compiler picks on its own.
template <int DIM, typename acc_t>
static __global__ void __launch_bounds__(kBlock, 8)
grid_warp_kernel(KnnGrid<acc_t, int32_t> s, const acc_t* __restrict__ yc,
                 const int32_t* __restrict__ yi, const int64_t* __restrict__ batch_y, int64_t ny,
                 KnnOut<acc_t> out) {
  const int64_t t = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;  // warp-uniform
  if (t >= ny) return;
  const int64_t q = yi[t];
  const int64_t base = out.first_slot(q);
  WarpTop<acc_t> top(out.slots(q, base));
  if (top.cap == 0) return;
  const int64_t b = batch_of(batch_y, q);
  if (!grid_knn_near<DIM>(s, yc + t * DIM, q, b, top)) {  // rarely: rings beyond the first
    top.clear();
    grid_knn<DIM>(s, yc + t * DIM, q, b, top);
  }
  top.write(out.centre, out.neighbour, base, q);
}
}  // namespace knn_grid_impl
using namespace knn_grid_impl;

template <int DIM, typename acc_t>
cudaError_t launch_knn_grid(const KnnGrid<acc_t, int32_t>& grid, const acc_t* yc,
                            const int32_t* yi, const int64_t* batch_y, int64_t ny, int64_t k,
                            const KnnOut<acc_t>& out, cudaStream_t stream) {
  if (ny == 0) return cudaSuccess;
  if (k <= kWarpK) {
    const int64_t warps_per_block = kBlock / 32;
    grid_warp_kernel<DIM, acc_t><<<(ny + warps_per_block - 1) / warps_per_block, kBlock, 0,
                                   stream>>>(grid, yc, yi, batch_y, ny, out);
  } else {
    grid_kernel<DIM, acc_t><<<(ny + kBlock - 1) / kBlock, kBlock, 0, stream>>>(grid, yc, yi,
                                                                            batch_y, ny, out);
  }
  return cudaGetLastError();
}

#define INSTANTIATE_KNN_GRID(DIM, ACC)                                                         \
  template cudaError_t launch_knn_grid<DIM, ACC>(const KnnGrid<ACC, int32_t>&, const ACC*,      \
                                                 const int32_t*, const int64_t*, int64_t,       \
                                                 int64_t, const KnnOut<ACC>&, cudaStream_t);
INSTANTIATE_KNN_GRID(1, float)
INSTANTIATE_KNN_GRID(2, float)
INSTANTIATE_KNN_GRID(3, float)
INSTANTIATE_KNN_GRID(1, double)
INSTANTIATE_KNN_GRID(2, double)
INSTANTIATE_KNN_GRID(3, double)

}  // namespace ops
