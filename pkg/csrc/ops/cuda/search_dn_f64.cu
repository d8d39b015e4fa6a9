// Search passes for points of more than 3 dimensions (runtime D), double distances (one instantiation a file keeps
// each rebuild short).
#include "search.cuh"

namespace ops {
INSTANTIATE_RADIUS_SEARCH(0, double)
}  // namespace ops
