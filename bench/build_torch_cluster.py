"""Build torch-cluster's CUDA radius and knn ops from its PyPI sdist, for the
GPU benchmarks (the full sdist build runs past 10 minutes; this compiles only
those two kernels and registers them as torch.ops.torch_cluster.radius_cuda
and torch.ops.torch_cluster.knn_cuda in one library, whose path it prints).

    python bench/build_torch_cluster.py torch_cluster-1.6.3.tar.gz BUILD_DIR
    python bench/gpu_bench.py --torch-cluster-lib BUILD_DIR/torch_cluster_bench.so ...
    python bench/knn_bench.py --torch-cluster-lib BUILD_DIR/torch_cluster_bench.so ...
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

from torch.utils.cpp_extension import load

NAME = "torch_cluster_bench"
BINDING = """
#include <torch/script.h>
#include "cuda/radius_cuda.h"
#include "cuda/knn_cuda.h"
TORCH_LIBRARY(torch_cluster, m) {
  m.def("radius_cuda", &radius_cuda);
  m.def("knn_cuda", &knn_cuda);
}
"""


def build(sdist: str, build_dir: str) -> Path:
    root = Path(build_dir)
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(root)
    csrc = next(root.glob("torch_cluster-*/csrc"))
    (csrc / "bench_binding.cpp").write_text(BINDING)
    load(name=NAME, sources=[str(csrc / "bench_binding.cpp"), str(csrc / "cuda" / "radius_cuda.cu"),
                             str(csrc / "cuda" / "knn_cuda.cu")],
         extra_include_paths=[str(csrc)], build_directory=str(root), is_python_module=False,
         verbose=False)
    return root / f"{NAME}.so"


if __name__ == "__main__":
    print(f"torch_cluster radius_cuda + knn_cuda built: {build(sys.argv[1], sys.argv[2])}")
