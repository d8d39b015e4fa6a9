// Search passes for 1-D points.
#include "search.cuh"

namespace cuneb {
CUNEB_INSTANTIATE_SEARCH(1, float)
CUNEB_INSTANTIATE_SEARCH(1, double)
}  // namespace cuneb
