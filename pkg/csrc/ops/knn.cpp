// The knn family's schemas. Kernels: cpu/knn_kernel.cpp, cuda/knn_kernel.cpp
// (+ cuda/knn_*.cu); fake (meta) kernels: the Python package's _fake.py.
#include "common/library.h"

EXT_LIBRARY_FRAGMENT(m) {
  // Edges (y index, x index) to the k nearest x of each y in the same batch
  // segment (fewer where the segment has fewer), ranked by (distance, x
  // index); sorted by y index, then nearest first.
  m.def("knn(Tensor x, Tensor y, int k, Tensor? batch_x=None, Tensor? batch_y=None, "
        "bool cosine=False, int? batch_size=None) -> Tensor");
  // knn(x, x, ...) where, unless loop=True, a point is not its own neighbour;
  // flow 'source_to_target' returns (neighbour, centre) rows, as torch-cluster does.
  m.def("knn_graph(Tensor x, int k, Tensor? batch=None, bool loop=False, "
        "str flow=\"source_to_target\", bool cosine=False, int? batch_size=None) -> Tensor");
  // Fixed-shape variants (padded.h): (edges [2, len(y) * k], -1 after the
  // E real ones; E as an int64 scalar tensor), sync-free where the CUDA
  // kernel allows.
  m.def("knn_padded(Tensor x, Tensor y, int k, Tensor? batch_x=None, Tensor? batch_y=None, "
        "bool cosine=False, int? batch_size=None) -> (Tensor, Tensor)");
  m.def("knn_graph_padded(Tensor x, int k, Tensor? batch=None, bool loop=False, "
        "str flow=\"source_to_target\", bool cosine=False, int? batch_size=None) -> (Tensor, Tensor)");
}
