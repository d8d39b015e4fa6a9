// The radius search passes for 3-D points, float distances: one unit per
// form, so that the forms compile in parallel and an edit rebuilds one.
#include "cuda/search.cuh"

namespace ops {
INSTANTIATE_RADIUS_SEARCH(3, float)
}  // namespace ops
