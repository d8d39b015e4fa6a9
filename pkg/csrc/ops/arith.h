#pragma once
// The distance arithmetic every backend shares, bit for bit: each operation
// rounded on its own (no fused multiply-add; on the GPU through the _rn
// intrinsics, on the CPU through -ffp-contract=off), terms summed in
// dimension order. Torch-free, for host and device code alike.
#include <cmath>
#include <cstdint>

#include "grid.h"

namespace ops {

#if defined(__CUDA_ARCH__)
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ inline double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ inline float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ inline double sqrt_rn(double a) { return __dsqrt_rn(a); }
#else
template <typename T> inline T add_rn(T a, T b) { return a + b; }
template <typename T> inline T sub_rn(T a, T b) { return a - b; }
template <typename T> inline T mul_rn(T a, T b) { return a * b; }
template <typename T> inline T div_rn(T a, T b) { return a / b; }
template <typename T> inline T sqrt_rn(T a) { return std::sqrt(a); }
#endif

// Squared distance of a and q (DIM coordinates, or dim when DIM == 0).
template <int DIM, typename acc_t>
EXT_HD inline acc_t dist2(const acc_t* a, const acc_t* q, int64_t dim) {
  const int64_t n = DIM > 0 ? DIM : dim;
  acc_t s = 0;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int64_t d = 0; d < n; ++d) {
    const acc_t t = sub_rn(a[d], q[d]);
    s = add_rn(s, mul_rn(t, t));
  }
  return s;
}

// Dot product of a and q, summed in dimension order.
template <typename acc_t>
EXT_HD inline acc_t dot(const acc_t* a, const acc_t* q, int64_t dim) {
  acc_t s = 0;
  for (int64_t d = 0; d < dim; ++d) s = add_rn(s, mul_rn(a[d], q[d]));
  return s;
}

// sqrt(|a|^2), the squares summed in dimension order.
template <typename acc_t>
EXT_HD inline acc_t norm(const acc_t* a, int64_t dim) { return sqrt_rn(dot(a, a, dim)); }

// Cosine distance 1 - dot / (|a| |q|) from the dot product and the norms;
// 1 where it is undefined (a zero vector, a norm that underflows to 0, or
// inf / inf from a norm that overflows).
template <typename acc_t>
EXT_HD inline acc_t cosine_distance(acc_t dot_aq, acc_t norm_a, acc_t norm_q) {
  const acc_t denom = mul_rn(norm_a, norm_q);
  if (!(denom > acc_t(0))) return acc_t(1);
  const acc_t d = sub_rn(acc_t(1), div_rn(dot_aq, denom));
  return d == d ? d : acc_t(1);
}

}  // namespace ops
