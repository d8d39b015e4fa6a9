// knn brute force per batch segment (any D; cosine): a block of kBlock
// consecutive queries (one per thread) walks the union of their segments of
// x in tiles staged in shared memory; each thread offers the tile's points of
// its own segment to its query's top k. Never materialises distances beyond
// one tile.
#include "knn.h"

namespace ops {
namespace knn_brute_impl {  // named, not anonymous: reproducible builds (see prepare.cu)
constexpr int kBlock = 128;
constexpr int32_t kGlobalStep = 256;  // points per step when x is read from global memory

template <bool COSINE, typename acc_t>
static __global__ void __launch_bounds__(kBlock)
brute_kernel(KnnBrute<acc_t> a, KnnOut<acc_t> out) {
  extern __shared__ unsigned long long smem_words[];
  acc_t* tile_x = reinterpret_cast<acc_t*>(smem_words);
  acc_t* tile_norm = tile_x + int64_t(a.tile) * a.dim;
  __shared__ unsigned long long block_lo, block_hi;

  const int64_t q = blockIdx.x * int64_t(kBlock) + threadIdx.x;
  const bool active = q < a.ny;
  int64_t lo = 0, hi = 0;
  if (active) segment_range(a.batch_x, a.nx, batch_of(a.batch_y, q), lo, hi);
  QueryTop<acc_t> qt(out, q, active);
  const int64_t n = qt.n;
  if (threadIdx.x == 0) {
    block_lo = static_cast<unsigned long long>(a.nx);
    block_hi = 0;
  }
  __syncthreads();
  if (n > 0) {
    atomicMin(&block_lo, static_cast<unsigned long long>(lo));
    atomicMax(&block_hi, static_cast<unsigned long long>(hi));
  }
  __syncthreads();
  const int64_t first = int64_t(block_lo), last = int64_t(block_hi);

  const acc_t* yq = a.y + (active ? q : 0) * a.dim;
  const acc_t nq = COSINE && active ? a.y_norm[q] : acc_t(0);
  const int32_t step = a.tile > 0 ? a.tile : kGlobalStep;
  for (int64_t start = first; start < last; start += step) {
    const int64_t m = last - start < step ? last - start : step;
    if (a.tile > 0) {  // block-uniform
      for (int64_t i = threadIdx.x; i < m * a.dim; i += kBlock) tile_x[i] = a.x[start * a.dim + i];
      if (COSINE) {
        for (int64_t i = threadIdx.x; i < m; i += kBlock) tile_norm[i] = a.x_norm[start + i];
      }
      __syncthreads();
    }
    if (n > 0) {
      const int64_t from = lo > start ? lo - start : 0;
      const int64_t to = hi - start < m ? hi - start : m;
      for (int64_t i = from; i < to; ++i) {
        const int64_t j = start + i;
        if (a.ignore_same_index && j == q) continue;
        const acc_t* xp = a.tile > 0 ? tile_x + i * a.dim : a.x + j * a.dim;
        const acc_t nx = COSINE ? (a.tile > 0 ? tile_norm[i] : a.x_norm[j]) : acc_t(0);
        qt.top.offer(knn_distance<0, COSINE>(xp, yq, a.dim, nx, nq), j);
      }
    }
    if (a.tile > 0) __syncthreads();
  }
  qt.write(out, q);
}
}  // namespace knn_brute_impl
using namespace knn_brute_impl;

template <bool COSINE, typename acc_t>
cudaError_t launch_knn_brute(const KnnBrute<acc_t>& a, const KnnOut<acc_t>& out,
                             cudaStream_t stream) {
  if (a.ny == 0) return cudaSuccess;
  const size_t smem = knn_tile_bytes<acc_t>(a.tile, a.dim, COSINE);
  if (smem > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(brute_kernel<COSINE, acc_t>,
                                                 cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 int(smem));
    if (err != cudaSuccess) return err;
  }
  brute_kernel<COSINE, acc_t><<<(a.ny + kBlock - 1) / kBlock, kBlock, smem, stream>>>(a, out);
  return cudaGetLastError();
}

template cudaError_t launch_knn_brute<false, float>(const KnnBrute<float>&, const KnnOut<float>&,
                                                    cudaStream_t);
template cudaError_t launch_knn_brute<true, float>(const KnnBrute<float>&, const KnnOut<float>&,
                                                   cudaStream_t);
template cudaError_t launch_knn_brute<false, double>(const KnnBrute<double>&,
                                                     const KnnOut<double>&, cudaStream_t);
template cudaError_t launch_knn_brute<true, double>(const KnnBrute<double>&, const KnnOut<double>&,
                                                    cudaStream_t);

}  // namespace ops
