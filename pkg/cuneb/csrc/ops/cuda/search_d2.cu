// Search passes for 2-D points.
#include "search.cuh"

namespace cuneb {
CUNEB_INSTANTIATE_SEARCH(2, float)
CUNEB_INSTANTIATE_SEARCH(2, double)
}  // namespace cuneb
