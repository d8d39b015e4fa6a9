// Search passes for 3-D points.
#include "search.cuh"

namespace cuneb {
CUNEB_INSTANTIATE_SEARCH(3, float)
CUNEB_INSTANTIATE_SEARCH(3, double)
}  // namespace cuneb
