// Exclusive prefix sums with CUB (the CUDA toolkit's own device primitives),
// called directly: torch's cumsum through the stable ABI's dispatcher cost
// tens of microseconds of host time per call, which small inputs feel.
#include <cub/device/device_scan.cuh>

#include "scan.h"

namespace ops {

template <typename T>
cudaError_t exclusive_scan(void* temp, size_t& temp_bytes, const T* in, T* out, int64_t n,
                           cudaStream_t stream) {
  // out[0] = 0, out[1..n] = inclusive sums: [n + 1] values, the total last.
  if (temp == nullptr) {
    return cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, in, out + 1, n, stream);
  }
  cudaError_t err = cudaMemsetAsync(out, 0, sizeof(T), stream);
  if (err != cudaSuccess || n == 0) return err;
  return cub::DeviceScan::InclusiveSum(temp, temp_bytes, in, out + 1, n, stream);
}

template cudaError_t exclusive_scan<int32_t>(void*, size_t&, const int32_t*, int32_t*, int64_t,
                                             cudaStream_t);
template cudaError_t exclusive_scan<int64_t>(void*, size_t&, const int64_t*, int64_t*, int64_t,
                                             cudaStream_t);

}  // namespace ops
