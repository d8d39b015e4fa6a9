#pragma once
// The uniform grid (cell list) shared by the CPU and CUDA kernels. Free of
// torch headers so CUDA translation units that only search stay light.
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define CUNEB_HD __host__ __device__
#else
#define CUNEB_HD
#endif

namespace cuneb {

// Up to three coordinates index the grid; further ones only enter distances.
constexpr int kMaxGridDims = 3;

// A uniform grid over (batch, cell): points of batch b in cell (c0,c1,c2)
// have key ((b * size[2] + c2) * size[1] + c1) * size[0] + c0.
struct GridSpec {
  int gdim;                      // grid dims: min(D, 3)
  double lo[kMaxGridDims];
  double inv_cell;               // 1 / cell edge; the edge is >= r
  int64_t size[kMaxGridDims];    // cells per dim (1 for unused dims)
  int64_t cells_per_batch;
  int64_t num_cells;             // num_batches * cells_per_batch

  CUNEB_HD int64_t coord(double v, int d) const {
    double c = floor((v - lo[d]) * inv_cell);
    if (!(c > 0.0)) return 0;  // also catches NaN, which checks reject earlier
    return c >= double(size[d] - 1) ? size[d] - 1 : int64_t(c);
  }
  CUNEB_HD int64_t key(int64_t batch, const int64_t c[kMaxGridDims]) const {
    return ((batch * size[2] + c[2]) * size[1] + c[1]) * size[0] + c[0];
  }
};

// float32 distances for half, bfloat16 and float32 inputs; float64 for float64.
// Squared distances are summed over dims in order, each step rounded (no
// fused multiply-add), so every backend and the reference agree bit for bit.
template <typename T> struct acc_type { using type = float; };
template <> struct acc_type<double> { using type = double; };

}  // namespace cuneb
