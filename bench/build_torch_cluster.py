"""Build torch-cluster's CUDA radius op from its PyPI sdist, for the GPU
benchmark (the full sdist build runs past 10 minutes; this compiles only the
radius kernel and registers it as torch.ops.torch_cluster.radius_cuda).

    python bench/build_torch_cluster.py torch_cluster-1.6.3.tar.gz BUILD_DIR
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

from torch.utils.cpp_extension import load

BINDING = """
#include <torch/script.h>
#include "cuda/radius_cuda.h"
TORCH_LIBRARY(torch_cluster, m) { m.def("radius_cuda", &radius_cuda); }
"""


def build(sdist: str, build_dir: str) -> None:
    root = Path(build_dir)
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(root)
    csrc = next(root.glob("torch_cluster-*/csrc"))
    (csrc / "bench_binding.cpp").write_text(BINDING)
    load(name="torch_cluster_radius", sources=[str(csrc / "bench_binding.cpp"),
                                               str(csrc / "cuda" / "radius_cuda.cu")],
         extra_include_paths=[str(csrc)], build_directory=str(root), is_python_module=False,
         verbose=False)


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
    print("torch_cluster radius_cuda built")
