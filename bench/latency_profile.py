"""Where a small call's microseconds go (the profile behind bench/small_batch.py):
for the one-molecule, QM9-like and 8 x 1000 workloads, the exact and the padded
radius_graph / knn_graph,

  wall_us   CUDA events around one call, median (what small_batch.py reports)
  host_us   host time per call over back-to-back calls with no sync between
            them (the padded ops: the host's cost alone when the GPU keeps up)
  api       per call: the CPU-side events torch.profiler records (CUDA runtime
            calls, torch allocations, the op itself), self time, averaged
  kernels   per call: GPU time of each kernel and memset

and, for scale, the same machine's floor: an empty tensor allocation, one
tiny torch kernel, and one device-to-host round trip (x.sum().item()).

    python bench/latency_profile.py --out bench/results/latency_profile.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import torch
from package import ext
from small_batch import WORKLOADS, gpu_header, make_batch, timed_cuda


def host_us(fn, calls: int = 2000) -> float:
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    return (t1 - t0) / calls * 1e6


def breakdown(fn, calls: int = 100) -> dict:
    from torch.profiler import ProfilerActivity, profile

    for _ in range(2):  # the second profile is steady state (the first pays the profiler's setup)
        for _ in range(10):
            fn()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(calls):
                fn()
            torch.cuda.synchronize()
    api, kernels = defaultdict(float), defaultdict(float)
    for e in prof.key_averages():
        per_call = e.self_cpu_time_total / calls
        if per_call >= 0.05:
            api[e.key] += per_call
        gpu = getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0)) / calls
        if gpu > 0 and e.self_cpu_time_total == 0:
            kernels[e.key] += gpu
    top = lambda d: dict(sorted(((k, round(v, 2)) for k, v in d.items()), key=lambda kv: -kv[1]))  # noqa: E731
    return {"api": top(api), "kernels": top(kernels)}


def floor() -> dict:
    x = torch.zeros(16, device="cuda")
    return {"empty_alloc_host_us": host_us(lambda: torch.empty(16, device="cuda")),
            "tiny_kernel_host_us": host_us(lambda: x.add_(1)),
            "tiny_kernel_wall_us": timed_cuda(lambda: x.add_(1), 200),
            "round_trip_wall_us": timed_cuda(lambda: x.sum().item(), 200)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    args = p.parse_args()
    rows = []
    for i, (name, molecules, atoms, r) in enumerate(WORKLOADS):
        if name not in ("one molecule", "QM9-like", "8 x 1000"):
            continue
        pos, batch = make_batch(molecules, atoms, seed=i, device="cuda")
        edges = ext.radius_graph(pos, r, batch, max_num_neighbors=None).shape[1]
        capacity = 2 * edges + 64
        calls = {
            "radius_graph": lambda: ext.radius_graph(pos, r, batch, max_num_neighbors=None),
            "radius_graph_padded": lambda: ext.radius_graph_padded(pos, r, capacity, batch,
                                                                   max_num_neighbors=None),
            "knn_graph": lambda: ext.knn_graph(pos, 16, batch),
            "knn_graph_padded": lambda: ext.knn_graph_padded(pos, 16, batch),
        }
        for op, fn in calls.items():
            row = {"workload": name, "atoms": pos.shape[0], "op": op,
                   "wall_us": timed_cuda(fn, 200), "host_us": host_us(fn, 1000),
                   **breakdown(fn)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    doc = {
        **gpu_header(),
        "floor": floor(),
        "results": rows,
    }
    print(json.dumps(doc["floor"]))
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
