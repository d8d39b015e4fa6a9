#pragma once
// The small-input search's part of a call (small_inputs.cpp): whether it
// applies, from sizes alone (padded.h's kBrute* limits), those limits in
// words for messages, and the exact result cut out of the buffer it filled
// before the edge count was known.
#include <cstdint>
#include <string>

#include "../common/points.h"

namespace ops {
namespace cuda {

// The longest batch segment the small-input search (a warp per query over
// its batch segment, no grid, so no sync to size one) may meet in this call,
// from sizes alone; 0: it does not apply (padded.h's kBrute* limits). With
// `any_x`, the op's brute force takes a segment of any length (knn); radius
// keeps a bit per candidate, at most kBruteMaxSegment. EXT_CUDA_BRUTE=0 in
// the environment turns it off, so that tests can check the grid search on
// small inputs too.
int64_t small_input_segment(const PointSets& c, bool any_x);
// Those limits in words, for messages.
std::string small_input_limits(bool any_x);

// The [2, edges] result from a [2, capacity] buffer whose rows the kernels
// wrote back to back (the second at slot `edges`), allocated before the edge
// count was known: a view, or a copy where the buffer is more than about
// twice the result (a result never holds much more memory than its size).
Tensor edges_from_buffer(const Tensor& buf, int64_t edges, int64_t capacity);

}  // namespace cuda
}  // namespace ops
