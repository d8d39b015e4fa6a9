#pragma once
// The uniform grid (cell list) shared by the CPU and CUDA kernels. Free of
// torch headers so CUDA translation units that only search stay light.
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define EXT_HD __host__ __device__
#else
#define EXT_HD
#endif

namespace ops {

// Up to three coordinates index the grid; further ones only enter distances.
constexpr int kMaxGridDims = 3;

// Point i's batch id; no batch vector means one example (id 0).
EXT_HD inline int64_t batch_of(const int64_t* batch, int64_t i) { return batch ? batch[i] : 0; }

// The slots [lo, hi) of batch id b in the sorted batch vector of n points
// (null: every point has id 0). Bounded for any input, sorted or not.
EXT_HD inline void segment_range(const int64_t* batch, int64_t n, int64_t b, int64_t& lo,
                                 int64_t& hi) {
  if (!batch) {
    lo = 0;
    hi = b == 0 ? n : 0;
    return;
  }
  int64_t a = 0, e = n;  // first slot with id >= b
  while (a < e) {
    const int64_t m = a + (e - a) / 2;
    if (batch[m] < b) a = m + 1; else e = m;
  }
  lo = a;
  e = n;  // first slot with id > b
  while (a < e) {
    const int64_t m = a + (e - a) / 2;
    if (batch[m] <= b) a = m + 1; else e = m;
  }
  hi = a;
}

// A uniform grid over (batch, cell): points of batch b in cell (c0,c1,c2)
// have key ((b * size[2] + c2) * size[1] + c1) * size[0] + c0.
struct GridSpec {
  int gdim;                      // grid dims: min(D, 3)
  double lo[kMaxGridDims];
  double inv_cell;               // 1 / cell edge; the edge is >= r
  int64_t size[kMaxGridDims];    // cells per dim (1 for unused dims)
  int64_t cells_per_batch;
  int64_t num_cells;             // num_batches * cells_per_batch

  EXT_HD int64_t coord(double v, int d) const {
    double c = floor((v - lo[d]) * inv_cell);
    if (!(c > 0.0)) return 0;  // also catches NaN, which checks reject earlier
    return c >= double(size[d] - 1) ? size[d] - 1 : int64_t(c);
  }
  EXT_HD int64_t key(int64_t batch, const int64_t c[kMaxGridDims]) const {
    return ((batch * size[2] + c[2]) * size[1] + c[1]) * size[0] + c[0];
  }

  // The box of cells within one of cell c along each dim, clamped to the grid.
  EXT_HD void around(const int64_t c[kMaxGridDims], int64_t lo[kMaxGridDims],
                       int64_t hi[kMaxGridDims]) const {
    for (int d = 0; d < kMaxGridDims; ++d) {
      lo[d] = c[d] > 0 ? c[d] - 1 : 0;
      hi[d] = c[d] + 1 < size[d] ? c[d] + 1 : size[d] - 1;
    }
  }
  // Cells along dim 0 have consecutive keys, so the box is rows(): one run of
  // keys [first, last] per (c1, c2), row r at c1 = lo1 + r % n1, c2 = lo2 + r / n1.
  EXT_HD static int rows(const int64_t lo[kMaxGridDims], const int64_t hi[kMaxGridDims]) {
    return int((hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1));
  }
  EXT_HD void row_keys(int64_t batch, const int64_t lo[kMaxGridDims],
                         const int64_t hi[kMaxGridDims], int row, int64_t& first,
                         int64_t& last) const {
    const int64_t n1 = hi[1] - lo[1] + 1;
    const int64_t k0[kMaxGridDims] = {lo[0], lo[1] + row % n1, lo[2] + row / n1};
    const int64_t k1[kMaxGridDims] = {hi[0], k0[1], k0[2]};
    first = key(batch, k0);
    last = key(batch, k1);
  }
};

// float32 distances for half, bfloat16 and float32 inputs; float64 for float64.
// Squared distances are summed over dims in order, each step rounded (no
// fused multiply-add), so every backend and the reference agree bit for bit.
template <typename T> struct acc_type { using type = float; };
template <> struct acc_type<double> { using type = double; };

}  // namespace ops
