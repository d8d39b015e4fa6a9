// Search passes for 3-D points, double distances (one instantiation a file keeps
// each rebuild short).
#include "search.cuh"

namespace ops {
INSTANTIATE_RADIUS_SEARCH(3, double)
}  // namespace ops
