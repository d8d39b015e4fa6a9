// knn brute force per batch segment (any D; cosine): a block of kBlock
// consecutive queries (one per thread) walks the union of their segments of
// x in tiles staged in shared memory; each thread offers the tile's points of
// its own segment to its query's top k. Never materialises distances beyond
// one tile.
#include <cstdint>
#include <type_traits>

#include "knn_launch.h"

namespace ops {
namespace knn_brute_impl {  // named, not anonymous: reproducible builds (see prepare.cu)
constexpr int kBlock = 128;
constexpr int32_t kGlobalStep = 256;  // points per step when x is read from global memory

template <bool COSINE, typename acc_t>
static __global__ void __launch_bounds__(kBlock)
brute_kernel(KnnBrute<acc_t> a, KnnOut<acc_t> given) {
  const KnnOut<acc_t> out = given.placed();
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
// registers), the block's queries staged in shared memory; lanes over the x
// tile's points. The tile's rows are padded (knn_warp_stride) so that 32
// lanes reading 32 points hit distinct banks; when dim is a multiple of the
// 16-byte vector (knn_warp_vector), a lane reads 16 bytes of its point and
// of each query per load, which leaves the arithmetic as the limit.
constexpr int kWarpBlock = 128;
constexpr int kQueriesPerWarp = kBruteWarpQueries / (kWarpBlock / 32);

// One step of the distance sum over dimension d (arith.h's order and
// rounding: dist2 for Euclidean, dot for cosine).
template <bool COSINE, typename acc_t>
__device__ inline acc_t term(acc_t sum, acc_t xv, acc_t yv) {
  if (COSINE) return add_rn(sum, mul_rn(xv, yv));
  const acc_t t = sub_rn(xv, yv);
  return add_rn(sum, mul_rn(t, t));
}
template <bool COSINE>
__device__ inline float terms(float sum, const float4& x, const float4& y) {
  sum = term<COSINE>(sum, x.x, y.x);
  sum = term<COSINE>(sum, x.y, y.y);
  sum = term<COSINE>(sum, x.z, y.z);
  return term<COSINE>(sum, x.w, y.w);
}
template <bool COSINE>
__device__ inline double terms(double sum, const double2& x, const double2& y) {
  return term<COSINE>(term<COSINE>(sum, x.x, y.x), x.y, y.y);
}

// The 16-byte vector of knn_warp_vector.
template <typename acc_t>
using Vec = std::conditional_t<sizeof(acc_t) == 4, float4, double2>;

// sum[w] = the distance sums of lane's tile point xp to the warp's queries ys.
template <bool COSINE, bool VEC, typename acc_t>
__device__ inline void sums(const acc_t* xp, const acc_t* ys, int dim, acc_t (&sum)[kQueriesPerWarp]) {
  if constexpr (VEC) {
    using vec_t = Vec<acc_t>;
    const int n = dim / knn_warp_vector<acc_t>();
    const vec_t* xv = reinterpret_cast<const vec_t*>(xp);
    const vec_t* yv = reinterpret_cast<const vec_t*>(ys);
#pragma unroll 2
    for (int d = 0; d < n; ++d) {
      const vec_t x = xv[d];
#pragma unroll
      for (int w = 0; w < kQueriesPerWarp; ++w) sum[w] = terms<COSINE>(sum[w], x, yv[w * n + d]);
    }
  } else {
    for (int d = 0; d < dim; ++d) {
      const acc_t x = xp[d];
#pragma unroll
      for (int w = 0; w < kQueriesPerWarp; ++w) sum[w] = term<COSINE>(sum[w], x, ys[w * dim + d]);
    }
  }
}

// Rows [0, m) of src (`per` units each) into dst (rows `dst_stride` units
// apart), the block's threads over all units: the loads of a thread are
// independent, so several are in flight (a loop per row had one at a time).
template <typename T>
__device__ inline void copy_rows(const T* __restrict__ src, T* dst, int per, int dst_stride, int m) {
  const int step_r = kWarpBlock / per, step_c = kWarpBlock % per;
  int r = threadIdx.x / per, c = threadIdx.x % per;
#pragma unroll 4
  for (int i = threadIdx.x; i < m * per; i += kWarpBlock) {
    dst[r * dst_stride + c] = src[int64_t(r) * per + c];
    r += step_r;
    c += step_c;
    if (c >= per) {
      c -= per;
      ++r;
    }
  }
}

// 6 blocks an SM (80 registers; brute_search keeps a block's tiles within
// 36 KiB): D = 64, 32 x 1,024 points, k = 20 took 0.70 ms against 0.71 ms
// with the compiler's 86 registers and 5 blocks (H200).
template <bool COSINE, bool VEC, typename acc_t>
static __global__ void __launch_bounds__(kWarpBlock, 6)
brute_warp_kernel(KnnBrute<acc_t> a, KnnOut<acc_t> given) {
  const KnnOut<acc_t> out = given.placed();
  extern __shared__ unsigned long long smem_words[];
  const int dim = int(a.dim), stride = knn_warp_stride<acc_t>(a.dim);
  acc_t* tile_x = reinterpret_cast<acc_t*>(smem_words);
  acc_t* tile_norm = tile_x + a.tile * stride;
  acc_t* ys = tile_norm + (COSINE ? a.tile : 0);
  // The queries' segments in shared memory, not registers: read once a step,
  // they would otherwise cost the registers that keep occupancy up.
  __shared__ long long seg_lo[kBruteWarpQueries], seg_hi[kBruteWarpQueries];
  __shared__ unsigned long long block_lo, block_hi;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t q0 = blockIdx.x * int64_t(kBruteWarpQueries);

  // Loads row by row, lanes along the row (no per-element division).
  for (int r = warp; r < kBruteWarpQueries; r += kWarpBlock / 32) {
    const int64_t q = q0 + r;
    for (int d = lane; d < dim; d += 32) ys[r * dim + d] = q < a.ny ? a.y[q * dim + d] : acc_t(0);
  }
  if (threadIdx.x == 0) {
    block_lo = static_cast<unsigned long long>(a.nx);
    block_hi = 0;
  }
  __syncthreads();
  WarpTop<acc_t> top[kQueriesPerWarp];
  acc_t qnorm[kQueriesPerWarp];
#pragma unroll
  for (int w = 0; w < kQueriesPerWarp; ++w) {
    const int r = warp * kQueriesPerWarp + w;
    const int64_t q = q0 + r;
    qnorm[w] = acc_t(0);
    int64_t lo = 0, hi = 0;
    if (q < a.ny) {
      segment_range(a.batch_x, a.nx, batch_of(a.batch_y, q), lo, hi);
      top[w] = WarpTop<acc_t>(out.slots(q, out.first_slot(q)));
      if (COSINE) qnorm[w] = a.y_norm[q];
      if (top[w].cap == 0) lo = hi = 0;
      if (lane == 0 && top[w].cap > 0) {
        atomicMin(&block_lo, static_cast<unsigned long long>(lo));
        atomicMax(&block_hi, static_cast<unsigned long long>(hi));
      }
    }
    if (lane == 0) {
      seg_lo[r] = lo;
      seg_hi[r] = hi;
    }
  }
  __syncthreads();
  const int64_t first = int64_t(block_lo), last = int64_t(block_hi);
  const acc_t* my_y = ys + warp * kQueriesPerWarp * dim;
  // Vector loads of x need 16-byte alignment (a view may start anywhere).
  const bool x_aligned = (reinterpret_cast<uintptr_t>(a.x) & 15) == 0;
  for (int64_t start = first; start < last; start += a.tile) {
    const int m = int(last - start < a.tile ? last - start : a.tile);
    if (VEC && x_aligned) {
      using vec_t = Vec<acc_t>;
      constexpr int v = knn_warp_vector<acc_t>();
      copy_rows(reinterpret_cast<const vec_t*>(a.x + start * dim), reinterpret_cast<vec_t*>(tile_x),
                dim / v, stride / v, m);
    } else {
      copy_rows(a.x + start * dim, tile_x, dim, stride, m);
    }
    if (COSINE) {
      for (int i = threadIdx.x; i < m; i += kWarpBlock) tile_norm[i] = a.x_norm[start + i];
    }
    __syncthreads();
    for (int p0 = 0; p0 < m; p0 += 32) {  // warp-uniform
      const int p = p0 + lane;
      const int64_t j = start + p;
      const bool inside = p < m;
      acc_t sum[kQueriesPerWarp];
#pragma unroll
      for (int w = 0; w < kQueriesPerWarp; ++w) sum[w] = acc_t(0);
      if (inside) sums<COSINE, VEC>(tile_x + p * stride, my_y, dim, sum);
#pragma unroll
      for (int w = 0; w < kQueriesPerWarp; ++w) {
        const int r = warp * kQueriesPerWarp + w;
        const int64_t q = q0 + r;
        const bool valid = inside && j >= seg_lo[r] && j < seg_hi[r] && !(a.ignore_same_index && j == q);
        const acc_t dist = COSINE ? cosine_distance(sum[w], inside ? tile_norm[p] : acc_t(0), qnorm[w])
                                  : sum[w];
        top[w].offer_lanes(dist, int32_t(j), valid);  // j < 2^31: brute_search checks
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int w = 0; w < kQueriesPerWarp; ++w) {
    const int64_t q = q0 + warp * kQueriesPerWarp + w;
    if (q < a.ny) top[w].write(out.centre, out.neighbour, out.first_slot(q), q);
  }
}
}  // namespace knn_brute_impl
using namespace knn_brute_impl;

template <bool COSINE, bool VEC, typename acc_t>
cudaError_t launch_warp(const KnnBrute<acc_t>& a, const KnnOut<acc_t>& out, size_t smem,
                        cudaStream_t stream) {
  if (smem > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(brute_warp_kernel<COSINE, VEC, acc_t>,
                                                 cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 int(smem));
    if (err != cudaSuccess) return err;
  }
  const int64_t blocks = (a.ny + kBruteWarpQueries - 1) / kBruteWarpQueries;
  brute_warp_kernel<COSINE, VEC, acc_t><<<blocks, kWarpBlock, smem, stream>>>(a, out);
  return cudaGetLastError();
}

template <bool COSINE, typename acc_t>
cudaError_t launch_knn_brute_warp(const KnnBrute<acc_t>& a, const KnnOut<acc_t>& out,
                                  cudaStream_t stream) {
  if (a.ny == 0) return cudaSuccess;
  if (a.tile <= 0 || a.tile % 32) return cudaErrorInvalidValue;
  const size_t smem = knn_warp_tile_bytes<acc_t>(a.tile, a.dim, COSINE);
  return a.dim % knn_warp_vector<acc_t>() == 0 ? launch_warp<COSINE, true>(a, out, smem, stream)
                                               : launch_warp<COSINE, false>(a, out, smem, stream);
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
