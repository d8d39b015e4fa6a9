"""CPU benchmark: our radius_graph against scipy's cKDTree on this machine.

Uniform points in the unit cube (float64 for both), r for ~32 neighbours.
ours returns every directed pair (both directions, no self-loops);
cKDTree.query_pairs returns each unordered pair once and
sparse_distance_matrix returns both directions — both are timed. Median of
--repeats; writes JSON with the machine and versions to --out.

    .venv/bin/python bench/cpu_bench.py --out bench/results/cpu_bench.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import time

import numpy as np
import scipy
import torch
from scipy.spatial import cKDTree

from package import NAME, ext


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        out = None
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="1e4,1e5,2e5,1e6")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    rows = []
    for n in (int(float(s)) for s in a.sizes.split(",")):
        rng = np.random.default_rng(0)
        pts = rng.random((n, 3))
        r = (32 * 3 / (4 * math.pi * n)) ** (1 / 3)
        x = torch.from_numpy(pts)
        reps = a.repeats if n < 1_000_000 else 3
        ms_ours, e = timed(lambda: ext.radius_graph(x, r, max_num_neighbors=None), reps)
        ms_build, tree = timed(lambda: cKDTree(pts), reps)
        ms_pairs, pairs = timed(lambda: cKDTree(pts).query_pairs(r, output_type="ndarray"), reps)
        ms_sparse, sp = timed(lambda: (lambda t: t.sparse_distance_matrix(t, r, output_type="ndarray"))(cKDTree(pts)), reps)
        row = {"n": n, "r": r, f"{NAME}_ms": ms_ours, f"{NAME}_edges": int(e.shape[1]),
               "ckdtree_query_pairs_ms": ms_pairs, "ckdtree_pairs": int(len(pairs)),
               "ckdtree_sparse_distance_matrix_ms": ms_sparse, "ckdtree_sparse_entries": int(len(sp)),
               "ckdtree_build_ms": ms_build,
               "speedup_vs_query_pairs": ms_pairs / ms_ours,
               "speedup_vs_sparse_distance_matrix": ms_sparse / ms_ours}
        print(json.dumps(row), flush=True)
        rows.append(row)
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "torch_threads": torch.get_num_threads()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     NAME: ext.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
        "setup": f"uniform float64 points in the unit cube, ~32 neighbours; {NAME}: all directed pairs "
                 "(both directions), cKDTree.query_pairs: unordered pairs (half as many), "
                 "sparse_distance_matrix(self): both directions plus self-pairs; tree build included",
        "results": rows,
    }
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
