// Search passes for 1-D points, double distances (one instantiation a file keeps
// each rebuild short).
#include "search.cuh"

namespace cuneb {
CUNEB_INSTANTIATE_SEARCH(1, double)
}  // namespace cuneb
