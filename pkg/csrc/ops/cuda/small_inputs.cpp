// The small-input search's part of a call; see small_inputs.h.
#include "small_inputs.h"

#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/c/shim.h>
#include <torch/csrc/stable/ops.h>

#include <algorithm>
#include <cstdlib>

#include "../padded.h"
#include "runtime.h"

namespace ops {
namespace cuda {

namespace {
bool brute_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("EXT_CUDA_BRUTE");
    return !(v && v[0] == '0');
  }();
  return enabled;
}
}  // namespace

int64_t small_input_segment(const PointSets& c, bool any_x) {
  if (!brute_enabled()) return 0;
  const int64_t pairs_per_query = kBruteMaxPairs / std::max<int64_t>(c.ny(), 1);
  if (!c.batch_x) {  // one segment of all of x: the work is known
    const bool fits = (any_x || c.nx() <= kBruteMaxSegment) && c.nx() <= pairs_per_query;
    return fits ? std::max<int64_t>(c.nx(), 1) : 0;
  }
  if (c.ny() > kBruteMaxTries) return 0;
  return any_x ? pairs_per_query : std::min(kBruteMaxSegment, pairs_per_query);
}

std::string small_input_limits(bool any_x) {
  if (!brute_enabled()) return "none: EXT_CUDA_BRUTE=0 turns it off";
  const std::string pairs = std::to_string(kBruteMaxPairs), most = std::to_string(kBruteMaxSegment);
  const std::string per_query = pairs + " / len(y)";
  return "without batch vectors at most " + (any_x ? "" : most + " points of x and ") + pairs +
         " x-y pairs; with them at most " + std::to_string(kBruteMaxTries) +
         " points of y and batch segments of at most " +
         (any_x ? per_query : "min(" + most + ", " + per_query + ")") + " points";
}

Tensor edges_from_buffer(const Tensor& buf, int64_t edges, int64_t capacity) {
  const int64_t sizes[2] = {2, edges}, strides[2] = {edges, 1};
  AtenTensorHandle view = nullptr;
  SHIM_CHECK(aoti_torch__reinterpret_tensor(buf.get(), 2, sizes, strides, 0, &view));
  Tensor out(view);
  return capacity <= 2 * edges + 4096 ? out : torch::stable::clone(out);
}

}  // namespace cuda
}  // namespace ops
