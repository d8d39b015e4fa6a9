#pragma once
// The search passes of the CUDA kernel (count, fill), one translation unit per
// point dimension (search_d*.cu) so a change rebuilds a fraction of the code.
// Torch-free: the caller (radius_kernel.cu) owns allocation and syncs.
#include <cuda_runtime.h>

#include <cstdint>

#include "../grid.h"

namespace cuneb {

// One search over points already grouped by cell (x) and queries in cell
// order (y). All pointers are device memory.
template <typename acc_t>
struct Scan {
  GridSpec g;
  const acc_t* __restrict__ xc;      // x coords, cell order
  const int32_t* __restrict__ xi;    // original x index, cell order
  const int32_t* __restrict__ start; // cell -> first slot
  const acc_t* __restrict__ yc;      // query coords, cell order
  const int32_t* __restrict__ yi;    // original query index, cell order
  const int64_t* __restrict__ batch_y;
  int64_t ny, dim, k;
  acc_t r2;
  bool ignore_same_index;
};

// found[q] = neighbours of query q within r; keep[q] = min(found[q], k).
template <int DIM, typename acc_t>
cudaError_t launch_count(const Scan<acc_t>& s, int32_t* found, int64_t* keep, cudaStream_t stream);

// Writes query q's kept neighbours at offset[q] (exclusive scan of keep):
// centre[...] = q, neighbour[...] = x indices, ascending.
template <int DIM, typename acc_t>
cudaError_t launch_fill(const Scan<acc_t>& s, const int32_t* found, const int64_t* offset,
                        int64_t* centre, int64_t* neighbour, cudaStream_t stream);

}  // namespace cuneb
