// The radius family's schemas. Kernels: cpu/radius_kernel.cpp,
// cuda/radius_kernel.cpp (+ prepare.cu, search_d*_f*.cu); fake (meta) kernels: _fake.py.
#include "common/library.h"

EXT_LIBRARY_FRAGMENT(m) {
  // Edges (y index, x index) for every x within distance r of each y, in the
  // same batch segment; at most max_num_neighbors per y (the nearest, ties by
  // index), sorted by y index then x index.
  m.def("radius(Tensor x, Tensor y, float r, Tensor? batch_x=None, "
        "Tensor? batch_y=None, int? max_num_neighbors=32, "
        "bool ignore_same_index=False, int? batch_size=None) -> Tensor");
  // radius(x, x, ...) without self-loops unless loop=True; flow
  // 'source_to_target' returns (neighbour, centre) rows, as torch-cluster does.
  m.def("radius_graph(Tensor x, float r, Tensor? batch=None, bool loop=False, "
        "int? max_num_neighbors=32, str flow=\"source_to_target\", "
        "int? batch_size=None) -> Tensor");
  // Fixed-shape variants (padded.h): (edges [2, capacity], -1 after the
  // first min(E, capacity); E as an int64 scalar tensor). No device-to-host
  // sync where the CUDA kernel allows, so they can be captured in CUDA graphs.
  m.def("radius_padded(Tensor x, Tensor y, float r, int capacity, Tensor? batch_x=None, "
        "Tensor? batch_y=None, int? max_num_neighbors=32, bool ignore_same_index=False, "
        "int? batch_size=None) -> (Tensor, Tensor)");
  m.def("radius_graph_padded(Tensor x, float r, int capacity, Tensor? batch=None, "
        "bool loop=False, int? max_num_neighbors=32, str flow=\"source_to_target\", "
        "int? batch_size=None) -> (Tensor, Tensor)");
}
