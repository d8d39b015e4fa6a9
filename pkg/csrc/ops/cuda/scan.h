#pragma once
// Exclusive prefix sum on the device (scan.cu, our own kernels); torch-free.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ops {

// out[0] = 0, out[i + 1] = in[0] + ... + in[i] for i < n ([n + 1] values).
// With temp == nullptr only sets temp_bytes (the scratch the scan needs).
template <typename T>
cudaError_t exclusive_scan(void* temp, size_t& temp_bytes, const T* in, T* out, int64_t n,
                           cudaStream_t stream);

}  // namespace ops
