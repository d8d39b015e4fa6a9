#pragma once
// Exclusive prefix sums into new memory from torch's caching allocator
// (prefix_sum.cpp, on scan.cu's kernels): queries' output offsets, cells'
// first slots.
#include <cuda_runtime_api.h>
#include <torch/csrc/stable/tensor.h>

#include <cstdint>

namespace ops {
using torch::stable::Tensor;
namespace cuda {

// The [n + 1] exclusive prefix sum of a 1-D int32/int64 tensor (scan.cu),
// at the start of the returned byte buffer: read it with data<T>().
Tensor exclusive_sum(const Tensor& in, cudaStream_t stream);
// The same for n int32 values at `in` (device memory), allocated like `like`.
Tensor exclusive_sum_raw(const int32_t* in, int64_t n, const Tensor& like, cudaStream_t stream);

}  // namespace cuda
}  // namespace ops
