// The CUDA kernels' scan of the inputs; see inputs.h.
#include "inputs.h"

namespace ops {
namespace cuda {

InputStats read_stats(const PointSets& c, const DeviceStats& host) {
  const int gdim = int(std::min<int64_t>(c.dim(), kMaxGridDims));
  InputStats s{};
  for (int d = 0; d < kMaxGridDims; ++d) {
    s.lo[d] = d < gdim ? from_order_key(host.lo[d]) : 0.0;
    s.hi[d] = d < gdim ? from_order_key(host.hi[d]) : 0.0;
  }
  s.x_nonfinite = host.x_nonfinite;
  s.y_nonfinite = host.y_nonfinite;
  s.bx_unsorted = host.bx_unsorted;
  s.by_unsorted = host.by_unsorted;
  s.bx_max = c.batch_x ? host.bx_last : -1;
  s.by_max = c.batch_y ? host.by_last : -1;
  mirror_x_stats(c, s);
  return s;
}

}  // namespace cuda
}  // namespace ops
