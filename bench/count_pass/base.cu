// The base revision's count and fill passes (build.sh extracts them into
// base/ and renames their namespaces and launchers old_*), linked beside
// this tree's into count_pass_bench.
#include "base/pkg/csrc/ops/cuda/radius_brute.cu"
#include "base/pkg/csrc/ops/cuda/knn_prep.cu"
