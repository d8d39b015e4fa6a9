#pragma once
// The fixed-shape ("padded") variants of the ops: a result of a shape the
// caller chose (the capacity) plus the true count as a tensor, so that a
// call needs no device-to-host sync and can be captured in a CUDA graph.
// Checks that need the data cannot raise without a sync; on the GPU they
// turn the count negative instead, with these codes, which the Python
// helper (check_padded in ops.py) turns into the eager ops' messages.
// Torch-free, for host and device code alike.
#include <cstdint>

#include "grid.h"

namespace ops {

constexpr int64_t kPaddedBadX = -1;        // x has NaN or infinite coordinates
constexpr int64_t kPaddedBadY = -2;        // y has NaN or infinite coordinates
constexpr int64_t kPaddedUnsorted = -3;    // a batch vector is not sorted / has negative ids
constexpr int64_t kPaddedBatchSize = -4;   // an id is >= the batch_size given
constexpr int64_t kPaddedTooBig = -5;      // a batch segment too long for the sync-free search

// The most x-y pairs a brute-force search (a warp per query over its batch
// segment) tests in one pass; up to this, the CUDA ops run without a grid,
// hence without the sync that sizes one (~20 us a pass on an H200).
constexpr int64_t kBruteMaxPairs = int64_t(1) << 26;
// Segments of at most this many points (radius keeps a bit per candidate;
// knn's brute force takes any, see cuda/small_inputs.h's small_input_segment).
// Sizes decide up front where they can (no batch vectors: one segment of
// known length); otherwise the count pass finds out, and a call whose
// segments are too long runs the grid search (the padded ops: kPaddedTooBig).
constexpr int64_t kBruteMaxSegment = 8192;
// At most this many queries try it with batch vectors (a failed try costs a
// pass of segment lookups and a sync).
constexpr int64_t kBruteMaxTries = int64_t(1) << 17;

// The count a padded call reports: `total`, or the first problem's code.
EXT_HD inline int64_t padded_status(bool x_bad, bool y_bad, bool unsorted, int64_t batch_size,
                                    int64_t bx_last, int64_t by_last, bool too_big,
                                    int64_t total) {
  if (x_bad) return kPaddedBadX;
  if (y_bad) return kPaddedBadY;
  if (unsorted) return kPaddedUnsorted;
  const int64_t last = bx_last > by_last ? bx_last : by_last;
  if (batch_size >= 0 && last >= batch_size) return kPaddedBatchSize;
  return too_big ? kPaddedTooBig : total;
}

}  // namespace ops
