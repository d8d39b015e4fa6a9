// check_padded: a padded op's count (padded.h), read on the host, checked
// against the capacity and turned into the eager ops' messages: the one place
// those codes become words, for Python, TorchScript and C++ alike. It takes
// no tensor (the caller reads the count: the one sync), so it needs no
// per-device kernel: CompositeExplicitAutograd serves every backend.
#include <string>

#include "common/library.h"
#include "common/points.h"
#include "padded.h"

namespace ops {
namespace {
int64_t check_padded(int64_t num_edges, int64_t capacity) {
  constexpr const char* op = EXT_NS_STR ".check_padded";
  EXT_CHECK(capacity >= 0, op, ": capacity must be >= 0, got ", capacity);
  if (num_edges > capacity) {
    fail(op, ": ", num_edges, " edges do not fit capacity=", capacity, "; the result holds only "
         "the first ", capacity, ". Pass capacity >= ", num_edges,
         " (with some margin for later inputs)");
  }
  switch (num_edges) {
    case kPaddedBadX: fail_nonfinite(op, "x");
    case kPaddedBadY: fail_nonfinite(op, "y");
    case kPaddedUnsorted: fail_unsorted(op, "the batch vectors");
    case kPaddedBatchSize:
      fail(op, ": the batch vectors hold an id >= the batch_size given; pass a larger "
           "batch_size or None");
    case kPaddedTooBig:
      fail(op, ": a batch segment is longer than the sync-free CUDA search takes (at most ",
           kBruteMaxPairs, " / len(y) points, and ", kBruteMaxSegment, " for radius); call the "
           "unpadded op (it syncs), or split the batch into smaller calls");
    default: break;
  }
  EXT_CHECK(num_edges >= 0, op, ": num_edges=", num_edges, " is not a count a padded op returns");
  return num_edges;
}
}  // namespace
}  // namespace ops

EXT_LIBRARY_FRAGMENT(m) {
  // The edge count of a padded call's result, or an error naming what is
  // wrong (more edges than capacity, or bad input the sync-free path found).
  m.def("check_padded(int num_edges, int capacity) -> int");
}

EXT_LIBRARY_IMPL(CompositeExplicitAutograd, m) {
  m.impl("check_padded", TORCH_BOX(&ops::check_padded));
}
