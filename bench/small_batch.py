"""Small-batch latency: the workloads atomistic GNNs and MD codes run (batches
of small molecules, one small system), whole calls timed with CUDA events,
median of --repeats, every implementation in the same run on the same inputs.

  workloads  QM9-like 128 x 9-29 atoms r=5; MD17-like 32 x 9-21 r=5; OC20-like
             32 x 60-100 r=6; 8 x 800-1200 r=6; one molecule of 20 atoms r=5
             (coordinates in Angstrom at liquid-like density, 0.1 atoms/A^3)
  peers      torch-cluster's radius (if built with bench/build_torch_cluster.py
             and --torch-cluster-lib given), dense batched cdist, and where
             installed vesin-torch and nvalchemi-toolkit-ops (warp-lang)
  ours       radius_graph (one sync: the edge count), radius_graph_padded
             (capacity 2x the edges: no sync), and that padded call captured
             once in a CUDA graph and replayed (the replay's latency)
  syncs      device-to-host waits per call: CUDA sync calls (torch.profiler),
             or 1 if the call waits behind a GPU spin queued before it
  --profile  also writes the CUDA API and kernel timeline of one small call
             (torch.profiler) to show where the microseconds go

    python bench/small_batch.py --out bench/results/small_batch.json [--torch-cluster-lib SO]
Also times the CPU path for the one-molecule case (the same call on CPU tensors).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time

import torch
from package import NAME, ext

WORKLOADS = [  # name, molecules, atoms (min, max), cutoff
    ("QM9-like", 128, (9, 29), 5.0),
    ("MD17-like", 32, (9, 21), 5.0),
    ("OC20-like", 32, (60, 100), 6.0),
    ("8 x 1000", 8, (800, 1200), 6.0),
    ("one molecule", 1, (20, 20), 5.0),
]
DENSITY = 0.1  # atoms per cubic Angstrom, about liquid water's


def make_batch(molecules: int, atoms: tuple[int, int], seed: int, device: str):
    g = torch.Generator().manual_seed(seed)
    sizes = torch.randint(atoms[0], atoms[1] + 1, (molecules,), generator=g)
    pos, batch = [], []
    for i, n in enumerate(sizes.tolist()):
        side = (n / DENSITY) ** (1 / 3)
        pos.append(torch.rand(n, 3, generator=g) * side)
        batch.append(torch.full((n,), i, dtype=torch.long))
    return torch.cat(pos).to(device), torch.cat(batch).to(device)


def ours(pos, batch, r):
    return ext.radius_graph(pos, r, batch, max_num_neighbors=None)


def ours_padded(capacity: int):
    def call(pos, batch, r):
        return ext.radius_graph_padded(pos, r, capacity, batch, max_num_neighbors=None)
    return call


def padded_edges(result) -> torch.Tensor:
    edges, count = result
    return edges[:, : int(count)]


def graph_replay(pos, batch, r, capacity: int):
    """The padded call captured in a CUDA graph: (replay function, its outputs)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        ours_padded(capacity)(pos, batch, r)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = ours_padded(capacity)(pos, batch, r)
    return graph.replay, out


def blocks_on_the_device(fn) -> bool:
    """Whether one call waits for work queued before it: a ~2 ms GPU spin goes
    first, and a call that returns in under 1 ms did not wait for it. This
    sees every kind of wait, also one the profiler cannot (the exact ops spin
    on host memory their count pass writes, no CUDA sync call)."""
    fn()
    torch.cuda.synchronize()
    torch.cuda._sleep(4_000_000)  # cycles: ~2 ms at the H200's 1.98 GHz
    t0 = time.perf_counter()
    fn()
    waited = time.perf_counter() - t0 > 1e-3
    torch.cuda.synchronize()
    return waited


def syncs_per_call(fn) -> int:
    """Host waits for the device inside one call: stream/device/event syncs and
    synchronous copies, counted within the call's own profiler range (the
    profiler's own sync at exit is outside it), and at least 1 where the call
    blocks on the device (blocks_on_the_device) with none of those calls."""
    from torch.profiler import ProfilerActivity, profile, record_function

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("one_call"):
            fn()
    events = prof.events()
    call = next(e for e in events if e.name == "one_call")
    lo, hi = call.time_range.start, call.time_range.end
    names = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaMemcpy", "cudaEventSynchronize")
    calls = sum(1 for e in events if e.name in names and lo <= e.time_range.start <= hi)
    return max(calls, int(blocks_on_the_device(fn)))


def dense_cdist(pos, batch, r):
    """Padded [B, M, M] distances, the usual dense alternative."""
    counts = torch.bincount(batch)
    b, m = counts.numel(), int(counts.max())
    start = torch.cumsum(counts, 0) - counts
    slot = torch.arange(pos.shape[0], device=pos.device) - start[batch]
    dense = pos.new_full((b, m, 3), float("inf"))
    dense[batch, slot] = pos
    keep = torch.cdist(dense, dense) < r
    keep &= ~torch.eye(m, dtype=torch.bool, device=pos.device)
    mol, i, j = keep.nonzero(as_tuple=True)
    return torch.stack([start[mol] + j, start[mol] + i])


def torch_cluster(pos, batch, r):
    # torch_cluster.radius_cuda(x, y, ptr_x, ptr_y, r, max_num_neighbors): (row y, col x)
    counts = torch.bincount(batch)
    ptr = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    row, col = torch.ops.torch_cluster.radius_cuda(pos, pos, ptr, ptr, r, pos.shape[0] + 1)
    keep = row != col
    return torch.stack([col[keep], row[keep]])


def vesin_for(batch):
    """vesin-torch's NeighborList, one call per molecule (its API takes one
    system); the molecule boundaries are computed before the timing, as a
    data loader would know them. None if vesin-torch is not installed."""
    try:
        from vesin_torch import NeighborList
    except ImportError:
        return None
    counts = torch.bincount(batch).tolist()
    starts = [sum(counts[:i]) for i in range(len(counts))]

    def call(pos, batch, r):
        nl = NeighborList(cutoff=r, full_list=True)
        box = torch.zeros(3, 3, dtype=pos.dtype, device=pos.device)
        parts = []
        for s, n in zip(starts, counts):
            i, j = nl.compute(pos[s:s + n], box, False, quantities="ij")
            parts.append(torch.stack([j + s, i + s]))
        return torch.cat(parts, dim=1)
    return call


def nvalchemi_for(batch):
    """NVIDIA nvalchemi-toolkit-ops' batched neighbour list (warp kernels):
    its documented entry point, given the batch pointers (a data loader knows
    them; without them it syncs to derive them) and asked for COO pairs. The
    pairs come as (centre, neighbour) int32 rows: the same set as ours, the
    graph being symmetric. None if nvalchemi-toolkit-ops (and warp-lang) is
    not installed."""
    try:
        from nvalchemiops.torch.neighbors import neighbor_list
    except ImportError:
        return None
    ptr = torch.zeros(int(batch.max()) + 2, dtype=torch.int32, device=batch.device)
    ptr[1:] = torch.cumsum(torch.bincount(batch), 0)
    batch_idx = batch.to(torch.int32)

    def call(pos, batch, r):
        pairs, _ = neighbor_list(pos, r, batch_idx=batch_idx, batch_ptr=ptr, return_neighbor_list=True)
        return pairs
    return call


def knn_timings(pos, batch, k: int, repeats: int) -> dict:
    """knn_graph: the exact op, the padded one, and the padded one replayed from a CUDA graph."""
    exact = lambda: ext.knn_graph(pos, k, batch)  # noqa: E731
    padded = lambda: ext.knn_graph_padded(pos, k, batch)  # noqa: E731
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        padded()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        edges, count = padded()
    graph.replay()
    same = edge_set(edges[:, : int(count)]) == edge_set(exact())
    return {"k": k, "same_edges": same, "us": {NAME: timed_cuda(exact, repeats),
            f"{NAME}_padded": timed_cuda(padded, repeats),
            f"{NAME}_graph_replay": timed_cuda(graph.replay, repeats)},
            "syncs_per_call": {NAME: syncs_per_call(exact), f"{NAME}_padded": syncs_per_call(padded)}}


def edge_set(e: torch.Tensor) -> set:
    return set(map(tuple, e.t().tolist()))


def timed_cuda(fn, repeats: int) -> float:
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3)
    return statistics.median(times)


def gpu_header() -> dict:
    """Date, GPU, host and versions: the head of a GPU result file."""
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "device": torch.cuda.get_device_name(),
            "machine": {"host": platform.node(), "cpus": torch.get_num_threads()},
            "versions": {"torch": torch.__version__, NAME: ext.__version__, "cuda": torch.version.cuda}}


def timed_cpu(fn, repeats: int) -> float:
    for _ in range(20):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def profile_one(pos, batch, r) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile

    for _ in range(5):
        ours(pos, batch, r)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        ours(pos, batch, r)
        torch.cuda.synchronize()
    rows = []
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        rows.append({"name": e.name, "start_us": e.time_range.start, "us": e.time_range.elapsed_us(),
                     "device": str(e.device_type).split(".")[-1]})
    t0 = rows[0]["start_us"] if rows else 0
    for row in rows:
        row["start_us"] -= t0
    return rows


def cpu_only(args) -> None:
    name, molecules, atoms, r = WORKLOADS[-1]
    pos, batch = make_batch(molecules, atoms, seed=len(WORKLOADS) - 1, device="cpu")
    row = {"workload": name, "atoms": pos.shape[0], "r": r,
           "edges": ours(pos, batch, r).shape[1],
           "cpu_us": {NAME: timed_cpu(lambda: ours(pos, batch, r), args.repeats),
                      f"{NAME}_padded": timed_cpu(lambda: ours_padded(1024)(pos, batch, r),
                                                  args.repeats)},
           "torch_threads": torch.get_num_threads()}
    print(json.dumps(row))
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
           "machine": {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
                       "cpus": os.cpu_count()},
           "versions": {"torch": torch.__version__, NAME: ext.__version__},
           "setup": f"perf_counter around the whole call, median of {args.repeats} after 20 warm-up calls",
           "results": [row]}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--torch-cluster-lib", help="the .so bench/build_torch_cluster.py built")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--cpu-only", action="store_true",
                   help="only the CPU timing of the one-molecule case (machines without a GPU)")
    args = p.parse_args()
    if args.cpu_only:
        return cpu_only(args)
    impls = {NAME: ours, "dense_cdist": dense_cdist}
    if args.torch_cluster_lib:
        torch.ops.load_library(args.torch_cluster_lib)
        impls["torch_cluster"] = torch_cluster
    results = []
    for i, (name, molecules, atoms, r) in enumerate(WORKLOADS):
        pos, batch = make_batch(molecules, atoms, seed=i, device="cuda")
        reference = edge_set(ours(pos, batch, r))
        row = {"workload": name, "atoms": pos.shape[0], "molecules": molecules, "r": r,
               "edges": len(reference), "us": {}, "same_edges": {}}
        impls_here = dict(impls)
        for peer, adapter in (("vesin_torch", vesin_for), ("nvalchemi", nvalchemi_for)):
            fn = adapter(batch)
            if fn is not None:
                impls_here[peer] = fn
        for impl, fn in impls_here.items():
            row["same_edges"][impl] = edge_set(fn(pos, batch, r)) == reference
            row["us"][impl] = timed_cuda(lambda: fn(pos, batch, r), args.repeats)
        capacity = 2 * len(reference) + 64
        padded = ours_padded(capacity)
        row["same_edges"][f"{NAME}_padded"] = edge_set(padded_edges(padded(pos, batch, r))) == reference
        row["us"][f"{NAME}_padded"] = timed_cuda(lambda: padded(pos, batch, r), args.repeats)
        row["syncs_per_call"] = {NAME: syncs_per_call(lambda: ours(pos, batch, r)),
                                 f"{NAME}_padded": syncs_per_call(lambda: padded(pos, batch, r))}
        try:
            replay, out = graph_replay(pos, batch, r, capacity)
        except RuntimeError as e:  # too large for the sync-free path: recorded, not hidden
            row["us"][f"{NAME}_graph_replay"] = None
            row["graph_replay_error"] = str(e)
        else:
            replay()
            row["same_edges"][f"{NAME}_graph_replay"] = edge_set(padded_edges(out)) == reference
            row["us"][f"{NAME}_graph_replay"] = timed_cuda(replay, args.repeats)
        if pos.shape[0] * pos.shape[0] <= 2**26:
            row["knn_graph"] = knn_timings(pos, batch, 16, args.repeats)
        if name == "one molecule":
            cpu_pos, cpu_batch = pos.cpu(), batch.cpu()
            row["cpu_us"] = {NAME: timed_cpu(lambda: ours(cpu_pos, cpu_batch, r), args.repeats),
                             "torch_threads": torch.get_num_threads()}
        results.append(row)
        print(json.dumps(row), flush=True)
    doc = {
        **gpu_header(),
        "setup": f"CUDA events around the whole call, median of {args.repeats}; radius_graph without "
                 "a neighbour cap, no self-loops; edge sets compared with ours; padded capacity "
                 "2 x edges + 64",
        "results": results,
    }
    if args.profile:
        pos, batch = make_batch(1, (20, 20), seed=99, device="cuda")
        doc["profile_one_molecule"] = profile_one(pos, batch, 5.0)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
