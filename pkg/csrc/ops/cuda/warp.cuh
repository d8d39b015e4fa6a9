#pragma once
// Warp-wide pieces several kernels share. Device code only.

namespace ops {

// The sum of v over lanes 0 .. this one (an inclusive scan across the warp);
// all 32 lanes must call it.
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

}  // namespace ops
