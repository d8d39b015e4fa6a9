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

// One warp per query, kQueriesPerWarp queries per warp (their tops in
// registers), the block's queries staged in shared memory; the x tile has a
// padded stride (dim + 1) so that 32 lanes reading 32 points hit 32 banks.
constexpr int kWarpBlock = 128;
constexpr int kQueriesPerWarp = kBruteWarpQueries / (kWarpBlock / 32);

template <bool COSINE, typename acc_t>
static __global__ void __launch_bounds__(kWarpBlock)
brute_warp_kernel(KnnBrute<acc_t> a, KnnOut<acc_t> out) {
  extern __shared__ unsigned long long smem_words[];
  const int64_t dim = a.dim, stride = dim + 1;
  acc_t* tile_x = reinterpret_cast<acc_t*>(smem_words);
  acc_t* tile_norm = tile_x + int64_t(a.tile) * stride;
  acc_t* ys = tile_norm + (COSINE ? a.tile : 0);
  __shared__ unsigned long long block_lo, block_hi;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t q0 = blockIdx.x * int64_t(kBruteWarpQueries);

  // Loads row by row, lanes along the row (no per-element division).
  for (int64_t r = warp; r < kBruteWarpQueries; r += kWarpBlock / 32) {
    const int64_t q = q0 + r;
    for (int64_t d = lane; d < dim; d += 32) ys[r * dim + d] = q < a.ny ? a.y[q * dim + d] : acc_t(0);
  }
  if (threadIdx.x == 0) {
    block_lo = static_cast<unsigned long long>(a.nx);
    block_hi = 0;
  }
  __syncthreads();
  WarpTop<acc_t> top[kQueriesPerWarp];
  int64_t lo[kQueriesPerWarp], hi[kQueriesPerWarp], base[kQueriesPerWarp];
  acc_t qnorm[kQueriesPerWarp];
#pragma unroll
  for (int w = 0; w < kQueriesPerWarp; ++w) {
    const int64_t q = q0 + warp * kQueriesPerWarp + w;
    lo[w] = hi[w] = base[w] = 0;
    qnorm[w] = acc_t(0);
    if (q < a.ny) {
      segment_range(a.batch_x, a.nx, batch_of(a.batch_y, q), lo[w], hi[w]);
      base[w] = out.offset ? out.offset[q] : q * out.uniform;
      top[w] = WarpTop<acc_t>(out.offset ? out.offset[q + 1] - base[w] : out.uniform);
      if (COSINE) qnorm[w] = a.y_norm[q];
      if (lane == 0 && top[w].cap > 0) {
        atomicMin(&block_lo, static_cast<unsigned long long>(lo[w]));
        atomicMax(&block_hi, static_cast<unsigned long long>(hi[w]));
      }
    }
  }
  __syncthreads();
  const int64_t first = int64_t(block_lo), last = int64_t(block_hi);
  const acc_t* my_y = ys + int64_t(warp) * kQueriesPerWarp * dim;
  for (int64_t start = first; start < last; start += a.tile) {
    const int64_t m = last - start < a.tile ? last - start : a.tile;
    for (int64_t r = warp; r < m; r += kWarpBlock / 32) {
      for (int64_t d = lane; d < dim; d += 32) tile_x[r * stride + d] = a.x[(start + r) * dim + d];
    }
    if (COSINE) {
      for (int64_t i = threadIdx.x; i < m; i += kWarpBlock) tile_norm[i] = a.x_norm[start + i];
    }
    __syncthreads();
    for (int64_t p0 = 0; p0 < m; p0 += 32) {  // warp-uniform
      const int64_t p = p0 + lane, j = start + p;
      const bool inside = p < m;
      acc_t sum[kQueriesPerWarp];
#pragma unroll
      for (int w = 0; w < kQueriesPerWarp; ++w) sum[w] = acc_t(0);
      if (inside) {
        const acc_t* xp = tile_x + p * stride;
        for (int64_t d = 0; d < dim; ++d) {  // the arithmetic of arith.h's dist2 / dot
          const acc_t xv = xp[d];
#pragma unroll
          for (int w = 0; w < kQueriesPerWarp; ++w) {
            const acc_t yv = my_y[w * dim + d];
            if (COSINE) {
              sum[w] = add_rn(sum[w], mul_rn(xv, yv));
            } else {
              const acc_t t = sub_rn(xv, yv);
              sum[w] = add_rn(sum[w], mul_rn(t, t));
            }
          }
        }
      }
#pragma unroll
      for (int w = 0; w < kQueriesPerWarp; ++w) {
        const int64_t q = q0 + warp * kQueriesPerWarp + w;
        const bool valid = inside && j >= lo[w] && j < hi[w] && !(a.ignore_same_index && j == q);
        const acc_t dist = COSINE ? cosine_distance(sum[w], inside ? tile_norm[p] : acc_t(0), qnorm[w])
                                  : sum[w];
        top[w].offer_lanes(dist, j, valid);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int w = 0; w < kQueriesPerWarp; ++w) {
    const int64_t q = q0 + warp * kQueriesPerWarp + w;
    if (q < a.ny) top[w].write(out.centre, out.neighbour, base[w], q);
  }
}
}  // namespace knn_brute_impl
using namespace knn_brute_impl;

template <bool COSINE, typename acc_t>
cudaError_t launch_knn_brute_warp(const KnnBrute<acc_t>& a, const KnnOut<acc_t>& out,
                                  cudaStream_t stream) {
  if (a.ny == 0) return cudaSuccess;
  if (a.tile <= 0 || a.tile % 32) return cudaErrorInvalidValue;
  const size_t smem = knn_warp_tile_bytes<acc_t>(a.tile, a.dim, COSINE);
  if (smem > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(brute_warp_kernel<COSINE, acc_t>,
                                                 cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 int(smem));
    if (err != cudaSuccess) return err;
  }
  const int64_t blocks = (a.ny + kBruteWarpQueries - 1) / kBruteWarpQueries;
  brute_warp_kernel<COSINE, acc_t><<<blocks, kWarpBlock, smem, stream>>>(a, out);
  return cudaGetLastError();
}

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

template cudaError_t launch_knn_brute_warp<false, float>(const KnnBrute<float>&,
                                                         const KnnOut<float>&, cudaStream_t);
template cudaError_t launch_knn_brute_warp<true, float>(const KnnBrute<float>&,
                                                        const KnnOut<float>&, cudaStream_t);
template cudaError_t launch_knn_brute_warp<false, double>(const KnnBrute<double>&,
                                                          const KnnOut<double>&, cudaStream_t);
template cudaError_t launch_knn_brute_warp<true, double>(const KnnBrute<double>&,
                                                         const KnnOut<double>&, cudaStream_t);
template cudaError_t launch_knn_brute<false, float>(const KnnBrute<float>&, const KnnOut<float>&,
                                                    cudaStream_t);
template cudaError_t launch_knn_brute<true, float>(const KnnBrute<float>&, const KnnOut<float>&,
                                                   cudaStream_t);
template cudaError_t launch_knn_brute<false, double>(const KnnBrute<double>&,
                                                     const KnnOut<double>&, cudaStream_t);
template cudaError_t launch_knn_brute<true, double>(const KnnBrute<double>&, const KnnOut<double>&,
                                                    cudaStream_t);

}  // namespace ops
