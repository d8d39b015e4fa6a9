#pragma once
// Keep-the-nearest selection for one query handled by a whole warp: which of
// its hits are its n nearest, ties at the cutoff distance going to the
// smaller index. The hits are not stored: the warp counts them against a
// candidate cutoff as often as a binary search over the distance bits needs
// (fine for the tens to thousands of candidates a query has).
#include <cstdint>

namespace ops {
namespace select_impl {

// Squared distances as unsigned bits: the same order for non-negative values.
static __device__ inline uint32_t order_bits(float v) { return __float_as_uint(v); }
static __device__ inline unsigned long long order_bits(double v) {
  return static_cast<unsigned long long>(__double_as_longlong(v));
}

// Hits with distance bits below `threshold`, or equal to it with an index up
// to `max_tie_index`, are kept. The default keeps every hit (misses: ~0).
template <typename bits_t>
struct Cutoff {
  bits_t threshold = ~bits_t(0);
  int64_t max_tie_index = -1;
  __device__ bool takes(bits_t b, int64_t index) const {
    return b < threshold || (b == threshold && b != ~bits_t(0) && index <= max_tie_index);
  }
};

// The cutoff that keeps exactly n hits. count_if(pred) must return, the same
// in every lane, how many of the query's candidates satisfy pred(bits,
// index); hits have bits < hi_bits (the radius' bits), misses ~0.
template <typename bits_t, typename CountIf>
static __device__ Cutoff<bits_t> nearest_cutoff(int64_t n, bits_t hi_bits, CountIf count_if) {
  bits_t lo = 0, hi = hi_bits;
  while (lo < hi) {
    const bits_t mid = lo + (hi - lo) / 2;
    if (count_if([&](bits_t b, int64_t) { return b <= mid; }) >= n) hi = mid; else lo = mid + 1;
  }
  Cutoff<bits_t> cut;
  cut.threshold = lo;
  const int64_t ties_wanted = n - count_if([&](bits_t b, int64_t) { return b < lo; });
  if (count_if([&](bits_t b, int64_t) { return b == lo; }) <= ties_wanted) {
    cut.max_tie_index = INT64_MAX;
    return cut;
  }
  int64_t lo_i = 0, hi_i = INT32_MAX;  // indices are < 2^31 - 1
  while (lo_i < hi_i) {
    const int64_t mid = lo_i + (hi_i - lo_i) / 2;
    if (count_if([&](bits_t b, int64_t i) { return b == lo && i <= mid; }) >= ties_wanted) {
      hi_i = mid;
    } else {
      lo_i = mid + 1;
    }
  }
  cut.max_tie_index = lo_i;
  return cut;
}

}  // namespace select_impl
using namespace select_impl;
}  // namespace ops
