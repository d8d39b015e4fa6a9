#pragma once
// The count pass both small-input searches start with (radius_brute.cu,
// knn_prep.cu): one launch checks both point sets (non-finite coordinates,
// batch order), counts each query's output slots, and its last block scans
// them into offsets, then either writes the padded ops' count (padded.h) or
// reports the edge count and the checks straight into host memory (scratch.h's
// ReportSlot). Torch-free, for host and device code alike.
#include <cstdint>

#include "prepare.h"

namespace ops {

// The checks of both point sets, whether some segment was too long, and the
// count pass' finished blocks (the last one scans). Zeroed by the caller, or
// left zeroed by the count pass when it reports (BruteWork::report).
struct BruteStats {
  DeviceStats checks;
  int64_t too_big;
  uint32_t blocks_done, unused;
};

// What the exact ops' count pass writes into host memory: the edge count and
// the stats, then the ticket.
struct BruteReport {
  int64_t edges;
  BruteStats stats;
  uint64_t ticket;
};

// Device memory of one brute-force call (the host code lays it out).
struct BruteWork {
  int32_t* found;          // [ny] hits per query (radius; knn: null)
  int64_t* keep;           // [ny] output slots per query
  int64_t* offset;         // [ny + 1] exclusive scan of keep: output slots
  uint32_t* masks;         // [ny, mask_stride] radius' hit ballots (knn: null)
  int64_t mask_stride;     // >= max_segment / 32, rounded up
  BruteStats* stats;
  int64_t* count;          // the padded ops' count (padded.h), or null
  BruteReport* report;     // the exact ops' report (host memory), or null: then
  uint64_t ticket;         // the stats are left zeroed (scratch.h's self-zeroing scratch)
};

}  // namespace ops
