"""Per-kernel GPU time of one call (torch.profiler), to see where the time
goes: radius (at ~32 neighbours a point) or knn_graph. Prints a table per size.

    python bench/profile_gpu.py [--sizes 1e6,1e7] [--op radius|radius_graph|knn_graph] [--k none|32]

--k is radius' max_num_neighbors (none: unlimited) or knn_graph's k (default 32).
"""

from __future__ import annotations

import argparse
import math

import torch
from torch.profiler import ProfilerActivity, profile

from package import ext


def call(op: str, x: torch.Tensor, k: int | None):
    r = (32 * 3 / (4 * math.pi * x.shape[0])) ** (1 / 3)
    if op == "radius":
        return lambda: ext.radius(x, x, r, max_num_neighbors=k)
    if op == "radius_graph":
        return lambda: ext.radius_graph(x, r, max_num_neighbors=k)
    return lambda: ext.knn_graph(x, 32 if k is None else k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--op", default="radius", choices=["radius", "radius_graph", "knn_graph"])
    ap.add_argument("--k", default="none")
    a = ap.parse_args()
    k = None if a.k == "none" else int(a.k)
    for n in (int(float(s)) for s in a.sizes.split(",")):
        fn = call(a.op, torch.rand(n, 3, device="cuda"), k)
        for _ in range(2):
            fn()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
            fn()
            torch.cuda.synchronize()
        print(f"== {a.op} n={n} k={k}")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=60))


if __name__ == "__main__":
    main()
