#pragma once
// Device code of the search passes; included only by search_d*.cu.
#include "search.h"

namespace cuneb {
namespace {

constexpr int kSearchBlock = 256;

__device__ int64_t batch_id(const int64_t* batch, int64_t i) { return batch ? batch[i] : 0; }


__device__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }

// Squared distance, summed in dimension order, every step rounded (no FMA):
// bit-identical to the CPU kernel and the reference.
template <int DIM, typename acc_t>
__device__ acc_t dist2(const acc_t* a, const acc_t* q, int64_t dim) {
  const int64_t n = DIM > 0 ? DIM : dim;
  acc_t s = 0;
#pragma unroll
  for (int64_t d = 0; d < n; ++d) {
    const acc_t t = sub_rn(a[d], q[d]);
    s = add_rn(s, mul_rn(t, t));
  }
  return s;
}

// Calls f(slot j in cell order, squared distance) for every x within r of the
// query at cell-order position t.
template <int DIM, typename acc_t, typename F>
__device__ void for_each_neighbour(const Scan<acc_t>& s, int64_t t, F&& f) {
  const acc_t* q = s.yc + t * s.dim;
  const int64_t qi = s.yi[t];
  const GridSpec& g = s.g;
  int64_t lo[kMaxGridDims], hi[kMaxGridDims];
  for (int d = 0; d < kMaxGridDims; ++d) {
    const int64_t c = d < g.gdim ? g.coord(double(q[d]), d) : 0;
    lo[d] = c > 0 ? c - 1 : 0;
    hi[d] = c + 1 < g.size[d] ? c + 1 : g.size[d] - 1;
  }
  const int64_t b = batch_id(s.batch_y, qi);
  for (int64_t c2 = lo[2]; c2 <= hi[2]; ++c2) {
    for (int64_t c1 = lo[1]; c1 <= hi[1]; ++c1) {
      // Cells along dim 0 are consecutive keys: one slot range per (c1, c2).
      const int64_t k0[kMaxGridDims] = {lo[0], c1, c2};
      const int64_t k1[kMaxGridDims] = {hi[0], c1, c2};
      const int32_t end = s.start[g.key(b, k1) + 1];
      for (int32_t j = s.start[g.key(b, k0)]; j < end; ++j) {
        if (s.ignore_same_index && s.xi[j] == qi) continue;
        const acc_t d2 = dist2<DIM>(s.xc + int64_t(j) * s.dim, q, s.dim);
        if (d2 < s.r2) f(j, d2);
      }
    }
  }
}

template <int DIM, typename acc_t>
__global__ void count_kernel(Scan<acc_t> s, int32_t* __restrict__ found,
                             int64_t* __restrict__ keep) {
  const int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (t >= s.ny) return;
  int32_t n = 0;
  for_each_neighbour<DIM>(s, t, [&](int32_t, acc_t) { ++n; });
  const int64_t qi = s.yi[t];
  found[qi] = n;
  keep[qi] = s.k >= 0 && n > s.k ? s.k : n;
}

__device__ void sift_down(int64_t* a, int64_t n, int64_t i) {
  for (;;) {
    int64_t m = i, l = 2 * i + 1, r = l + 1;
    if (l < n && a[l] > a[m]) m = l;
    if (r < n && a[r] > a[m]) m = r;
    if (m == i) return;
    const int64_t tmp = a[i];
    a[i] = a[m];
    a[m] = tmp;
    i = m;
  }
}

// In-place ascending sort of one query's slice: insertion sort for the usual
// few dozen entries, heapsort (no recursion, no scratch) for long ones.
__device__ void sort_slice(int64_t* a, int64_t n) {
  if (n <= 48) {
    for (int64_t i = 1; i < n; ++i) {
      const int64_t v = a[i];
      int64_t j = i - 1;
      for (; j >= 0 && a[j] > v; --j) a[j + 1] = a[j];
      a[j + 1] = v;
    }
    return;
  }
  for (int64_t i = n / 2 - 1; i >= 0; --i) sift_down(a, n, i);
  for (int64_t end = n - 1; end > 0; --end) {
    const int64_t tmp = a[0];
    a[0] = a[end];
    a[end] = tmp;
    sift_down(a, end, 0);
  }
}

template <int DIM, typename acc_t>
__device__ bool farther(const Scan<acc_t>& s, const acc_t* q, int64_t a, int64_t b) {
  const acc_t da = dist2<DIM>(s.xc + a * s.dim, q, s.dim);
  const acc_t db = dist2<DIM>(s.xc + b * s.dim, q, s.dim);
  return da > db || (da == db && s.xi[a] > s.xi[b]);
}

// Max-heap (by distance, then index) of slots: the k nearest seen so far.
template <int DIM, typename acc_t>
__device__ void heap_sift(const Scan<acc_t>& s, const acc_t* q, int64_t* h, int64_t n, int64_t i) {
  for (;;) {
    int64_t m = i, l = 2 * i + 1, r = l + 1;
    if (l < n && farther<DIM>(s, q, h[l], h[m])) m = l;
    if (r < n && farther<DIM>(s, q, h[r], h[m])) m = r;
    if (m == i) return;
    const int64_t tmp = h[i];
    h[i] = h[m];
    h[m] = tmp;
    i = m;
  }
}

template <int DIM, typename acc_t>
__global__ void fill_kernel(Scan<acc_t> s, const int32_t* __restrict__ found,
                            const int64_t* __restrict__ offset, int64_t* __restrict__ centre,
                            int64_t* __restrict__ neighbour) {
  const int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (t >= s.ny) return;
  const int64_t qi = s.yi[t];
  const int64_t base = offset[qi], n = offset[qi + 1] - base;
  if (n == 0) return;
  int64_t* out = neighbour + base;
  for (int64_t i = 0; i < n; ++i) centre[base + i] = qi;
  if (found[qi] == n) {
    int64_t m = 0;
    for_each_neighbour<DIM>(s, t, [&](int32_t j, acc_t) { out[m++] = s.xi[j]; });
  } else {
    // More neighbours than kept: select the n nearest with a bounded heap of
    // cell-order slots, then map slots to original indices.
    const acc_t* q = s.yc + t * s.dim;
    int64_t size = 0;
    for_each_neighbour<DIM>(s, t, [&](int32_t j, acc_t d2) {
      if (size < n) {
        int64_t i = size++;
        out[i] = j;
        while (i > 0 && farther<DIM>(s, q, out[i], out[(i - 1) / 2])) {
          const int64_t p = (i - 1) / 2, tmp = out[i];
          out[i] = out[p];
          out[p] = tmp;
          i = p;
        }
      } else {
        const acc_t dt = dist2<DIM>(s.xc + out[0] * s.dim, q, s.dim);
        if (d2 < dt || (d2 == dt && s.xi[j] < s.xi[out[0]])) {
          out[0] = j;
          heap_sift<DIM>(s, q, out, n, 0);
        }
      }
    });
    for (int64_t i = 0; i < n; ++i) out[i] = s.xi[out[i]];
  }
  sort_slice(out, n);
}

}  // namespace

template <int DIM, typename acc_t>
cudaError_t launch_count(const Scan<acc_t>& s, int32_t* found, int64_t* keep, cudaStream_t stream) {
  const int64_t blocks = (s.ny + kSearchBlock - 1) / kSearchBlock;
  count_kernel<DIM><<<blocks, kSearchBlock, 0, stream>>>(s, found, keep);
  return cudaGetLastError();
}

template <int DIM, typename acc_t>
cudaError_t launch_fill(const Scan<acc_t>& s, const int32_t* found, const int64_t* offset,
                        int64_t* centre, int64_t* neighbour, cudaStream_t stream) {
  const int64_t blocks = (s.ny + kSearchBlock - 1) / kSearchBlock;
  fill_kernel<DIM><<<blocks, kSearchBlock, 0, stream>>>(s, found, offset, centre, neighbour);
  return cudaGetLastError();
}

}  // namespace cuneb

#define CUNEB_INSTANTIATE_SEARCH(DIM, ACC)                                                     \
  template cudaError_t launch_count<DIM, ACC>(const Scan<ACC>&, int32_t*, int64_t*,   \
                                                      cudaStream_t);                          \
  template cudaError_t launch_fill<DIM, ACC>(const Scan<ACC>&, const int32_t*,        \
                                                     const int64_t*, int64_t*, int64_t*,      \
                                                     cudaStream_t);
