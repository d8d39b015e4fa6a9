#pragma once
// Device side of knn / knn_graph (knn_prep.cu, knn_grid.cu, knn_brute.cu).
// Torch-free: knn_kernel.cpp owns memory and the one sync. All pointers are
// device memory.
#include <cuda_runtime.h>

#include <cstdint>

#include "../knn_search.h"

namespace ops {

// A query keeps at most this many neighbours in registers/local memory;
// more spill their distances to a scratch buffer the size of the output.
constexpr int64_t kLocalK = 32;

// Where each query's neighbours go: offset[q] .. offset[q + 1] (offset null:
// every query keeps `uniform`, from q * uniform), in both output rows.
template <typename acc_t>
struct KnnOut {
  const int64_t* offset;
  int64_t uniform;
  int64_t* centre;
  int64_t* neighbour;
  acc_t* scratch;  // [edges] distances, for queries keeping > kLocalK (else unused)
};

#if defined(__CUDACC__)
// Query q's top k on the GPU: in local memory when it keeps <= kLocalK,
// else in the scratch buffer (distances) and the output row (indices).
template <typename acc_t>
struct QueryTop {
  acc_t local_d[kLocalK];
  int64_t local_id[kLocalK];
  int64_t base, n;
  TopK<acc_t> top;

  __device__ QueryTop(const KnnOut<acc_t>& out, int64_t q, bool active) {
    base = active ? (out.offset ? out.offset[q] : q * out.uniform) : 0;
    n = active ? (out.offset ? out.offset[q + 1] - base : out.uniform) : 0;
    const bool local = n <= kLocalK;
    top = TopK<acc_t>{local ? local_d : out.scratch + base, local ? local_id : out.neighbour + base,
                      n, 0};
  }
  // Both output rows of the query's slice, nearest first.
  __device__ void write(const KnnOut<acc_t>& out, int64_t q) const {
    for (int64_t i = 0; i < n; ++i) {
      out.centre[base + i] = q;
      if (n <= kLocalK) out.neighbour[base + i] = local_id[i];
    }
  }
};
#endif

// kept[q] = neighbours query q keeps: min(k, points of x in its segment,
// minus itself when ignore_same_index).
cudaError_t launch_knn_counts(const int64_t* batch_x, int64_t nx, const int64_t* batch_y,
                              int64_t ny, int64_t k, bool ignore_same_index, int64_t* kept,
                              cudaStream_t stream);

// out[i] = acc_t(in[i]) for n values.
template <typename in_t, typename acc_t>
cudaError_t launch_widen(const in_t* in, int64_t n, acc_t* out, cudaStream_t stream);

// norms[i] = |p_i| (dot and sqrt rounded like the CPU kernel).
template <typename acc_t>
cudaError_t launch_norms(const acc_t* p, int64_t n, int64_t dim, acc_t* norms,
                         cudaStream_t stream);

// Grid search (D <= 3, Euclidean): one thread per query, queries in cell
// order (yc, yi: the queries' coordinates and original indices, grouped by
// cell like x in `grid`).
template <int DIM, typename acc_t>
cudaError_t launch_knn_grid(const KnnGrid<acc_t, int32_t>& grid, const acc_t* yc,
                            const int32_t* yi, const int64_t* batch_y, int64_t ny,
                            const KnnOut<acc_t>& out, cudaStream_t stream);

// Brute force over each query's batch segment, any D, Euclidean or cosine:
// a block of consecutive queries walks the union of their segments in tiles
// of x held in shared memory; each thread keeps its query's top k.
template <typename acc_t>
struct KnnBrute {
  const acc_t* x;         // [nx, dim]
  const acc_t* y;         // [ny, dim]
  const acc_t* x_norm;    // [nx] (cosine only)
  const acc_t* y_norm;    // [ny] (cosine only)
  const int64_t* batch_x;
  const int64_t* batch_y;
  int64_t nx, ny, dim;
  bool ignore_same_index;
  int32_t tile;           // points of x per shared-memory tile; 0: read x from global memory
};

template <bool COSINE, typename acc_t>
cudaError_t launch_knn_brute(const KnnBrute<acc_t>& args, const KnnOut<acc_t>& out,
                             cudaStream_t stream);

// Shared memory a brute-force block needs for `tile` points.
template <typename acc_t>
EXT_HD inline size_t knn_tile_bytes(int32_t tile, int64_t dim, bool cosine) {
  return size_t(tile) * size_t(dim + (cosine ? 1 : 0)) * sizeof(acc_t);
}

}  // namespace ops
