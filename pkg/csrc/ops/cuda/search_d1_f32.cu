// Search passes for 1-D points, float distances (one instantiation a file keeps
// each rebuild short).
#include "search.cuh"

namespace ops {
INSTANTIATE_RADIUS_SEARCH(1, float)
}  // namespace ops
