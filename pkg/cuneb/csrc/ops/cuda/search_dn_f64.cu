// Search passes for points of more than 3 dimensions (runtime D), double distances (one instantiation a file keeps
// each rebuild short).
#include "search.cuh"

namespace cuneb {
CUNEB_INSTANTIATE_SEARCH(0, double)
}  // namespace cuneb
