// Search passes for 1-D points, double distances (one instantiation a file keeps
// each rebuild short).
#include "search.cuh"

namespace ops {
INSTANTIATE_RADIUS_SEARCH(1, double)
}  // namespace ops
