// Search passes for points of more than 3 dimensions (runtime D).
#include "search.cuh"

namespace cuneb {
CUNEB_INSTANTIATE_SEARCH(0, float)
CUNEB_INSTANTIATE_SEARCH(0, double)
}  // namespace cuneb
