"""Per-kernel GPU time of one radius call (torch.profiler), to see
where the time goes. Prints a table per size.

    python bench/profile_gpu.py [--sizes 1e6,1e7] [--k none|32]
"""

from __future__ import annotations

import argparse
import math

import torch
from torch.profiler import ProfilerActivity, profile

from package import ext


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--k", default="none")
    a = ap.parse_args()
    k = None if a.k == "none" else int(a.k)
    for n in (int(float(s)) for s in a.sizes.split(",")):
        x = torch.rand(n, 3, device="cuda")
        r = (32 * 3 / (4 * math.pi * n)) ** (1 / 3)
        for _ in range(2):
            ext.radius(x, x, r, max_num_neighbors=k)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
            ext.radius(x, x, r, max_num_neighbors=k)
            torch.cuda.synchronize()
        print(f"== n={n} k={k}")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=60))


if __name__ == "__main__":
    main()
