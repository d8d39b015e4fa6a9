"""knn benchmark: our knn / knn_graph against torch-cluster, brute force and
our own radius_graph on the GPU, and against scipy's cKDTree on the CPU.

GPU part (--part gpu; CUDA events, median of --repeats after warm-up):
  * knn(x, x, k=16), N uniform float32 points in the unit cube, N = 1e4 ..
    1e7 (--with-1e8 adds 1e8): ours vs torch-cluster 1.6.3's knn_cuda
    (bench/build_torch_cluster.py; quadratic, so only up to --tc-max-n) vs
    torch.cdist + topk in query chunks (at 1e5 only);
  * knn_graph(k=32) vs our radius_graph (unlimited) at the radius that
    gives ~32 neighbours, N = 1e6 and 1e7;
  * D = 64, 32 clouds x 1024 points, knn(k=20) per cloud vs batched
    torch.cdist + topk.
CPU part (--part cpu; wall clock, median): knn_graph(x, 16) (each point's 16
nearest others) vs scipy cKDTree(x).query(x, k=17, workers=2) (itself + 16),
tree build included, float64, N = 1e4, 1e5, 2e5.

Agreement with the peers is reported (rows with identical neighbour lists;
differences come from ties within rounding, the peers' arithmetic differs).
Writes JSON (machine, versions, date, results) to --out.

    python bench/knn_bench.py --part gpu --out bench/results/knn_gpu.json --torch-cluster-lib LIB
    .venv/bin/python bench/knn_bench.py --part cpu --out bench/results/knn_cpu.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import traceback

import torch

from package import NAME, ext
from gpu_bench import timed as cuda_timed  # bench/ is on sys.path when run as a script


def same_rows(a: torch.Tensor, b: torch.Tensor, k: int) -> float:
    """Fraction of queries whose neighbour lists (k per query, in order) agree."""
    if a.shape != b.shape:
        return float("nan")
    return float((a[1].view(-1, k) == b[1].view(-1, k)).all(1).float().mean())


def cdist_topk(x: torch.Tensor, k: int, chunk: int = 4096) -> torch.Tensor:
    """Brute force in plain torch: cdist + topk over query chunks."""
    rows, cols = [], []
    for s in range(0, x.shape[0], chunk):
        q = x[s:s + chunk]
        idx = torch.cdist(q, x).topk(k, dim=1, largest=False).indices
        rows.append(torch.arange(s, s + q.shape[0], device=x.device).repeat_interleave(k))
        cols.append(idx.reshape(-1))
    return torch.stack([torch.cat(rows), torch.cat(cols)])


def record(results, row):
    print(json.dumps(row), flush=True)
    results.append(row)


def attempt(results, row, fn, repeats, check=None, warmup=2):
    try:
        torch.cuda.reset_peak_memory_stats()
        ms, out = cuda_timed(fn, repeats, warmup)
        row.update(ms=ms, edges=int(out.shape[1]), peak_mem_bytes=torch.cuda.max_memory_allocated())
        if check is not None:
            row.update(check(out))
        del out
    except Exception as e:  # report, keep going
        row.update(error=f"{type(e).__name__}: {e}"[:500], trace=traceback.format_exc()[-800:])
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    record(results, row)


def gpu_part(a) -> dict:
    results, notes = [], {}
    tc = None
    if a.torch_cluster_lib:
        try:
            torch.ops.load_library(a.torch_cluster_lib)
            tc = torch.ops.torch_cluster.knn_cuda
        except Exception as e:
            notes["torch_cluster"] = f"unavailable: {e!r}"
    else:
        notes["torch_cluster"] = "no --torch-cluster-lib given"
    k = 16
    sizes = [int(float(s)) for s in a.sizes.split(",")] + ([10**8] if a.with_1e8 else [])
    for n in sizes:
        torch.manual_seed(0)
        x = torch.rand(n, 3, device="cuda")
        reps = a.repeats if n < 10**7 else 3
        attempt(results, {"case": "knn_d3", "impl": NAME, "n": n, "k": k}, lambda: ext.knn(x, x, k), reps)
        # made after our timing, so that our peak memory does not hold it
        ref = ext.knn(x, x, k) if n <= a.tc_max_n else None
        if tc is not None and n <= a.tc_max_n:
            # quadratic: seconds a call from 1e6 points on, so one call, no warm-up
            slow = n >= 10**6
            attempt(results, {"case": "knn_d3", "impl": "torch_cluster", "n": n, "k": k},
                    lambda: tc(x, x, None, None, k, False), 1 if slow else reps,
                    lambda out: {f"same_rows_as_{NAME}": same_rows(out, ref, k)}, 0 if slow else 2)
        if n == 10**5:
            attempt(results, {"case": "knn_d3", "impl": "cdist_topk", "n": n, "k": k},
                    lambda: cdist_topk(x, k), reps,
                    lambda out: {f"same_rows_as_{NAME}": same_rows(out, ref, k)})
        del x, ref
        torch.cuda.empty_cache()
    for n in (10**6, 10**7):
        torch.manual_seed(0)
        x = torch.rand(n, 3, device="cuda")
        r = (32 * 3 / (4 * math.pi * n)) ** (1 / 3)
        reps = a.repeats if n < 10**7 else 3
        attempt(results, {"case": "graph_k32", "impl": f"{NAME}.knn_graph", "n": n, "k": 32},
                lambda: ext.knn_graph(x, 32), reps)
        attempt(results, {"case": "graph_k32", "impl": f"{NAME}.radius_graph", "n": n, "r": r},
                lambda: ext.radius_graph(x, r, max_num_neighbors=None), reps)
        del x
        torch.cuda.empty_cache()
    clouds, per, dim, k = 32, 1024, 64, 20
    torch.manual_seed(0)
    x = torch.randn(clouds * per, dim, device="cuda")
    batch = torch.arange(clouds * per, device="cuda") // per
    ref = ext.knn(x, x, k, batch, batch)

    def batched_cdist():
        idx = torch.cdist(x.view(clouds, per, dim), x.view(clouds, per, dim)).topk(k, dim=2, largest=False).indices
        idx = idx + (torch.arange(clouds, device="cuda") * per).view(clouds, 1, 1)
        return torch.stack([torch.arange(clouds * per, device="cuda").repeat_interleave(k), idx.reshape(-1)])

    attempt(results, {"case": "d64_batched", "impl": NAME, "n": clouds * per, "k": k},
            lambda: ext.knn(x, x, k, batch, batch), a.repeats)
    attempt(results, {"case": "d64_batched", "impl": "cdist_topk", "n": clouds * per, "k": k},
            batched_cdist, a.repeats, lambda out: {f"same_rows_as_{NAME}": same_rows(out, ref, k)})
    if tc is not None:
        ptr = torch.arange(0, clouds * per + 1, per, device="cuda")
        attempt(results, {"case": "d64_batched", "impl": "torch_cluster", "n": clouds * per, "k": k},
                lambda: tc(x, x, ptr, ptr, k, False), a.repeats,
                lambda out: {f"same_rows_as_{NAME}": same_rows(out, ref, k)})
    return {"device": torch.cuda.get_device_name(), "notes": notes, "results": results,
            "setup": "uniform float32 points in the unit cube (D=3) / standard normal (D=64); "
                     "knn(x, x, k) includes each point itself; CUDA events, median"}


def cpu_part(a) -> dict:
    import numpy as np
    import scipy
    from scipy.spatial import cKDTree

    from cpu_bench import timed as wall_timed

    results, load_before = [], os.getloadavg()
    for n in (int(float(s)) for s in a.cpu_sizes.split(",")):
        pts = np.random.default_rng(0).random((n, 3))
        x = torch.from_numpy(pts)
        ms_ours, e = wall_timed(lambda: ext.knn_graph(x, 16), a.repeats)
        ms_tree, (dist, idx) = wall_timed(lambda: cKDTree(pts).query(pts, k=17, workers=2), a.repeats)
        ours = e[0].view(n, 16).numpy()  # source_to_target: row 0 = neighbours
        same = float((ours == idx[:, 1:]).all(1).mean())
        row = {"n": n, "k": 16, f"{NAME}_knn_graph_ms": ms_ours, "ckdtree_query_k17_ms": ms_tree,
               "speedup_vs_ckdtree": ms_tree / ms_ours, "same_rows_as_ckdtree": same}
        record(results, row)
    return {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                        "torch_threads": torch.get_num_threads(),
                        # others share this machine: the 1/5/15-minute load around the run
                        "load_avg_before": load_before, "load_avg_after": os.getloadavg()},
            "versions_extra": {"scipy": scipy.__version__, "numpy": np.__version__},
            "setup": f"uniform float64 points in the unit cube; {NAME}.knn_graph(x, 16) (16 nearest "
                     "others per point) vs cKDTree(x).query(x, k=17, workers=2) (itself + 16), tree "
                     "build included; wall clock, median",
            "results": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["gpu", "cpu"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="1e4,1e5,1e6,1e7")
    ap.add_argument("--with-1e8", action="store_true", help="also N = 1e8 (GPU, ~40 GB of output)")
    ap.add_argument("--tc-max-n", type=float, default=1e5, help="largest N for torch-cluster (quadratic)")
    ap.add_argument("--cpu-sizes", default="1e4,1e5,2e5")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--torch-cluster-lib", default="", help="library from build_torch_cluster.py")
    a = ap.parse_args()
    doc = gpu_part(a) if a.part == "gpu" else cpu_part(a)
    doc.update(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               part=a.part,
               versions={"python": platform.python_version(), "torch": torch.__version__,
                         "cuda": torch.version.cuda, NAME: ext.__version__,
                         **doc.pop("versions_extra", {})})
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
