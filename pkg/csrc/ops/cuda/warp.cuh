#pragma once
// Warp-wide pieces several kernels share. Device code only; all 32 lanes
// must call each of them.
#include <cstdint>

#include "../grid.h"

namespace ops {

// The sum of v over lanes 0 .. this one (an inclusive scan across the warp).
template <typename T>
__device__ inline T warp_inclusive_sum(T v) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const T up = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += up;
  }
  return v;
}

// The sum of v over the warp, in every lane (one instruction from sm_80 on).
__device__ inline int32_t warp_sum(int32_t v) {
#if __CUDA_ARCH__ >= 800
  return __reduce_add_sync(0xffffffffu, v);
#else
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
#endif
}

// The largest v over the warp, in every lane (v never NaN).
template <typename T>
__device__ inline T warp_max(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const T other = __shfl_xor_sync(0xffffffffu, v, o);
    v = other > v ? other : v;
  }
  return v;
}

// The slots of the 3 x 3 x 3 cells around cell c of example `batch`
// (clamped to the grid) as `rows` runs of consecutive slots (grid.h's
// row_keys): lane i < rows holds row i's [begin, begin + len), other lanes
// an empty row.
struct AroundRows {
  int64_t lo[kMaxGridDims], hi[kMaxGridDims];
  int rows;
  int32_t begin = 0, len = 0;

  __device__ AroundRows(const GridSpec& g, const int32_t* start, int64_t batch,
                        const int64_t c[kMaxGridDims]) {
    const int lane = threadIdx.x & 31;
    g.around(c, lo, hi);
    rows = GridSpec::rows(lo, hi);
    if (lane < rows) {
      int64_t first_key, last_key;
      g.row_keys(batch, lo, hi, lane, first_key, last_key);
      begin = start[first_key];
      len = start[last_key + 1] - begin;
    }
  }
};

}  // namespace ops
