#pragma once
// Point preparation on the GPU (prepare.cu): one scan of the inputs for the
// bounding box and validity, then the per-point cell keys and the scatter of
// a counting sort. Torch-free; radius_kernel.cpp owns memory and syncs.
#include <cuda_runtime.h>

#include <cstdint>

#include "../grid.h"

namespace ops {

// Bounding-box corners are stored as order-preserving unsigned keys so that
// atomicMin/atomicMax work on doubles; decode with from_order_key().
struct DeviceStats {
  unsigned long long lo[kMaxGridDims], hi[kMaxGridDims];
  int32_t x_nonfinite, y_nonfinite, bx_unsorted, by_unsorted;
  int64_t bx_last, by_last;
};
double from_order_key(unsigned long long key);

// Folds n points into st's box (grid dims only) and sets *nonfinite on NaN/inf.
template <typename in_t>
cudaError_t launch_scan_points(const in_t* p, int64_t n, int64_t dim, int gdim, DeviceStats* st,
                               int32_t* nonfinite, cudaStream_t stream);

// Sets *unsorted if batch ids decrease anywhere or start negative.
cudaError_t launch_scan_batch(const int64_t* batch, int64_t n, int32_t* unsorted,
                              cudaStream_t stream);

// key[i] = grid key of point i; rank[i] = its arrival order in that cell
// (count[key[i]]++, an atomic whose result the scatter reuses).
template <typename in_t>
cudaError_t launch_cell_keys(const in_t* p, const int64_t* batch, int64_t n, int64_t dim,
                             const GridSpec& g, int32_t* key, int32_t* rank, int32_t* count,
                             cudaStream_t stream);

// Counting-sort scatter: slot j = start[key[i]] + rank[i] gets point i's
// coordinates (in the distance type) and index[j] = i. No atomics.
template <typename in_t, typename acc_t>
cudaError_t launch_scatter(const in_t* p, int64_t n, int64_t dim, const int32_t* key,
                           const int32_t* rank, const int32_t* start, acc_t* coords,
                           int32_t* index, cudaStream_t stream);

// out[i] = acc_t(in[i]) for n values (half / bfloat16 to float).
template <typename in_t, typename acc_t>
cudaError_t launch_widen(const in_t* in, int64_t n, acc_t* out, cudaStream_t stream);

}  // namespace ops
