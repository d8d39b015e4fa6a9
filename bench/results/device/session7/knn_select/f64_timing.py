"""The float64 timing behind variants.jsonl's last line: knn_graph(k=32) on
1e6 uniform float64 points, CUDA-event median of 10 (run from the repo root
with the build to time installed: python .../f64_timing.py LABEL)."""

import sys

import torch

sys.path.insert(0, "bench")
from package import ext  # noqa: E402
from small_batch import timed_cuda  # noqa: E402

torch.manual_seed(0)
x = torch.rand(10**6, 3, device="cuda", dtype=torch.float64)
ms = round(timed_cuda(lambda: ext.knn_graph(x, 32), 10) / 1e3, 3)
print(sys.argv[1], "knn_graph f64 k=32 1e6 ms", ms, flush=True)
