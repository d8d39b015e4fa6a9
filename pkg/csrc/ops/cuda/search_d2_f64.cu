// Search passes for 2-D points, double distances (one instantiation a file keeps
// each rebuild short).
#include "search.cuh"

namespace ops {
INSTANTIATE_RADIUS_SEARCH(2, double)
}  // namespace ops
