#pragma once
// The search passes of the CUDA kernel (count, fill), one translation unit per
// point dimension and distance type (search_d*_f*.cu) so a change rebuilds
// a fraction of the code.
// Torch-free: the caller (radius_kernel.cpp) owns allocation and syncs.
#include <cuda_runtime.h>

#include <cstdint>

#include "../grid.h"

namespace ops {

// One search over points already grouped by cell (x) and queries in cell
// order (y). All pointers are device memory.
//
// Two strategies, chosen per query cell:
//  * cell warp (the common case): one warp per query cell lists the
//    candidates of the neighbouring cells in shared memory once and tests
//    them against each query of the cell, 32 at a time, counting with
//    ballots. For the fill pass the list is first sorted by original index,
//    so every query's hits come out in index order and are written with
//    coalesced stores (no per-query sort). Keeping only the k nearest uses a
//    warp-wide binary search for the k-th smallest distance. Only the list
//    lives in shared memory (coordinates stay in L1), so many cells are in
//    flight per SM to hide memory latency.
//  * per query (cells whose candidates overflow shared memory, flagged in
//    big[] by the count pass): one thread per query scans the neighbouring
//    cells in global memory and sorts its output slice in place.
template <typename acc_t>
struct Scan {
  GridSpec g;
  const acc_t* __restrict__ xc;      // x coords, cell order
  const int32_t* __restrict__ xi;    // original x index, cell order
  const int32_t* __restrict__ start; // cell -> first slot
  const acc_t* __restrict__ yc;      // query coords, cell order
  const int32_t* __restrict__ yi;    // original query index, cell order
  const int32_t* __restrict__ ystart; // cell -> first query slot
  const int64_t* __restrict__ batch_y;
  int64_t ny, dim, k;
  acc_t r2;
  bool ignore_same_index;
  int32_t cap;                       // candidates a cell warp holds (power of 2, or 0)
  uint8_t* big;                      // [num_cells] zeroed: cell overflowed cap
  int32_t* any_big;                  // zeroed: some cell did
};

// Warps (query cells) per thread block of the cell-warp kernels.
constexpr int kCellWarps = 4;

// Shared memory one cell warp needs: its candidate list, plus (fill pass) the
// candidates' squared-distance bits.
template <typename acc_t>
EXT_HD inline size_t cell_warp_bytes(int32_t cap, bool fill) {
  return size_t(cap) * (sizeof(unsigned long long) + (fill ? sizeof(acc_t) : 0));
}

// found[q] = neighbours of query q within r; keep[q] = min(found[q], k).
template <int DIM, typename acc_t>
cudaError_t launch_count(const Scan<acc_t>& s, int32_t* found, int64_t* keep, cudaStream_t stream);

// Writes query q's kept neighbours at offset[q] (exclusive scan of keep):
// centre[...] = q, neighbour[...] = x indices, ascending.
template <int DIM, typename acc_t>
cudaError_t launch_fill(const Scan<acc_t>& s, const int32_t* found, const int64_t* offset,
                        int64_t* centre, int64_t* neighbour, cudaStream_t stream);

}  // namespace ops
