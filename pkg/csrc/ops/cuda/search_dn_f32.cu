// The radius search passes for any other D (runtime D; 1-D and 2-D too), float distances: one unit per
// form, so that the forms compile in parallel and an edit rebuilds one.
#include "cuda/search.cuh"

namespace ops {
INSTANTIATE_RADIUS_SEARCH(0, float)
}  // namespace ops
