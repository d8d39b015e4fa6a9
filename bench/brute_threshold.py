"""Where the CUDA radius search switches from the brute force (a warp per
query over its batch segment) to the grid: radius_graph timed at sizes up to
and past the switch, in one process per setting of EXT_CUDA_BRUTE (read once
per process), so both searches are timed on the same inputs.

    EXT_CUDA_BRUTE=1 python bench/brute_threshold.py --out bench/results/brute_threshold_on.json
    EXT_CUDA_BRUTE=0 python bench/brute_threshold.py --out bench/results/brute_threshold_off.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os

import torch
from package import NAME, ext
from small_batch import DENSITY, make_batch, timed_cuda

CASES = [  # molecules, atoms per molecule, r (Angstrom, liquid-like density)
    (1, 1000, 5.0), (1, 4096, 5.0), (1, 8192, 5.0), (1, 8193, 5.0),
    (8, 1000, 6.0), (64, 128, 5.0), (256, 32, 5.0),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--only", type=int, help="run only this case (an index into CASES), e.g. under ncu")
    args = p.parse_args()
    rows = []
    for i, (molecules, atoms, r) in enumerate(CASES):
        if args.only is not None and i != args.only:
            continue
        pos, batch = make_batch(molecules, (atoms, atoms), seed=i, device="cuda")
        edges = ext.radius_graph(pos, r, batch, max_num_neighbors=None).shape[1]
        us = timed_cuda(lambda: ext.radius_graph(pos, r, batch, max_num_neighbors=None), args.repeats)
        rows.append({"molecules": molecules, "atoms": atoms, "r": r, "edges": edges, "us": us})
        print(json.dumps(rows[-1]), flush=True)
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "device": torch.cuda.get_device_name(),
        "versions": {"torch": torch.__version__, NAME: ext.__version__, "cuda": torch.version.cuda},
        "EXT_CUDA_BRUTE": os.environ.get("EXT_CUDA_BRUTE", "(unset: on)"),
        "setup": f"radius_graph, no neighbour cap, density {DENSITY}/A^3, CUDA events around the "
                 f"whole call, median of {args.repeats}",
        "results": rows,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
