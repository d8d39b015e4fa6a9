// Search passes for 1-D points, float distances (one instantiation a file keeps
// each rebuild short).
#include "search.cuh"

namespace cuneb {
CUNEB_INSTANTIATE_SEARCH(1, float)
}  // namespace cuneb
