#pragma once
// The small-input search of radius / radius_graph (radius_brute.cu): one
// warp per query tests every point of the query's batch segment, in index
// order, straight from the inputs. No bounding box, no grid, no sort: the
// whole call is a count kernel, a scan and a fill kernel, so it needs at most
// one device-to-host copy (the edge count), and none when the caller gives a
// capacity. The data checks (non-finite coordinates, unsorted batches) ride
// along in the count kernel. Torch-free: radius_kernel.cpp owns memory.
#include <cuda_runtime.h>

#include <cstdint>

#include "../padded.h"
#include "brute_pass.h"

namespace ops {

// Inputs of one brute-force search; all pointers are device memory, points
// in their original order (already in the distance type).
template <typename acc_t>
struct BruteRadius {
  const acc_t* x;            // [nx, dim]
  const acc_t* y;            // [ny, dim]
  const int64_t* batch_x;    // sorted ids or nullptr (one example)
  const int64_t* batch_y;
  int64_t nx, ny, dim, k;    // k < 0: keep all
  acc_t r2;
  bool ignore_same_index;
  int64_t max_segment;       // a query whose segment is longer gives up (too_big)
};

// One launch: found[q] = neighbours of query q within r, keep[q] =
// min(found[q], k), their exclusive scan into offset, the checks of both
// point sets into stats, and (if count is set) the padded count.
template <int DIM, typename acc_t>
cudaError_t launch_brute_count(const BruteRadius<acc_t>& s, const BruteWork& out,
                               int64_t batch_size, cudaStream_t stream);

// Where the fill pass writes: a [2, stride] int64 block at `rows` (centre
// row first, or the neighbour row with neighbour_first). stride < 0 means
// the edge count, read on the device: the exact op queues the fill into a
// buffer of `limit` edges before the host knows the count, and nothing is
// written if the count exceeds it. Slots >= limit are never written (a
// capacity smaller than the edge count keeps the first `limit` edges); with
// `pad`, slots from the edge count up to limit get -1 (the padded ops).
struct BruteRows {
  int64_t* rows;
  int64_t stride, limit;
  bool pad, neighbour_first;
};

// Writes query q's kept neighbours at offset[q], x indices ascending.
template <int DIM, typename acc_t>
cudaError_t launch_brute_fill(const BruteRadius<acc_t>& s, const BruteWork& in,
                              const BruteRows& out, cudaStream_t stream);

}  // namespace ops
