// Exclusive prefix sums into torch memory; see prefix_sum.h.
#include "prefix_sum.h"

#include "../common/args.h"
#include "runtime.h"
#include "scan.h"

namespace ops {
namespace cuda {

namespace {
template <typename T>
Tensor scan_into_new_buffer(const T* in, int64_t n, const Tensor& like, cudaStream_t stream) {
  size_t temp_bytes = 0;
  CUDA_CHECK(exclusive_scan<T>(nullptr, temp_bytes, nullptr, nullptr, n, stream));
  // One allocation: the [n + 1] sums, then the scan's scratch.
  const int64_t at = aligned((n + 1) * int64_t(sizeof(T)));
  Tensor buf = new_uninit(like, {at + int64_t(temp_bytes) + 1}, ScalarType::Byte);
  auto* base = data<uint8_t>(buf);
  CUDA_CHECK(exclusive_scan<T>(base + at, temp_bytes, in, reinterpret_cast<T*>(base), n, stream));
  return buf;
}
}  // namespace

Tensor exclusive_sum(const Tensor& in, cudaStream_t stream) {
  const int64_t n = in.size(0);
  if (in.scalar_type() == ScalarType::Long) {
    return scan_into_new_buffer(static_cast<const int64_t*>(in.const_data_ptr()), n, in, stream);
  }
  return scan_into_new_buffer(static_cast<const int32_t*>(in.const_data_ptr()), n, in, stream);
}

Tensor exclusive_sum_raw(const int32_t* in, int64_t n, const Tensor& like, cudaStream_t stream) {
  return scan_into_new_buffer(in, n, like, stream);
}

}  // namespace cuda
}  // namespace ops
