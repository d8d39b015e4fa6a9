"""GPU benchmark: our radius against NVIDIA Warp's HashGrid, torch-cluster and
brute force, on the same inputs, timed with CUDA events.

Inputs: N uniform points in the unit cube (float32), r chosen for ~32
neighbours per point; with a batch vector the N points form 64 examples that
each fill the cube (r scaled to the per-example density). Each implementation
produces all pairs within r as a [2, E] int64 tensor (self-pairs included, no
neighbour cap, so all do the same work). Per size: median of --repeats after
warm-up, edges/s, and the fraction of the roofline (bytes read + written over
the copy bandwidth measured in the same run). Writes JSON to --out.

    python bench/gpu_bench.py --out bench/results/gpu.json [--max-n 1e8]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import traceback

import torch

from package import NAME, ext

EXAMPLES = 64


def radius_for(n_per_example: float, neighbours: float = 32.0) -> float:
    return (neighbours * 3.0 / (4.0 * math.pi * n_per_example)) ** (1.0 / 3.0)


def timed(fn, repeats: int, warmup: int = 2) -> tuple[float, torch.Tensor]:
    out = None
    for _ in range(warmup):
        out = None  # free the last output first: at 1e8 points one is ~52 GB
        out = fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        out = None
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times), out


def copy_bandwidth() -> float:
    """Bytes read + written per second by a device-to-device copy."""
    a = torch.empty(2 * 1024**3 // 4, dtype=torch.float32, device="cuda")
    b = torch.empty_like(a)
    ms, _ = timed(lambda: b.copy_(a), 10)
    return 2 * a.numel() * 4 / (ms / 1e3)


def run_ours(x, r, batch):
    return ext.radius(x, x, r, batch, batch, max_num_neighbors=None)


def run_cdist(x, r, batch):
    d = torch.cdist(x, x)
    mask = d < r
    if batch is not None:
        mask &= batch[:, None] == batch[None, :]
    return mask.nonzero().t()


def make_warp():
    import warp as wp

    wp.config.quiet = True
    wp.init()

    @wp.kernel
    def count(grid: wp.uint64, pts: wp.array(dtype=wp.vec3), r: float, out: wp.array(dtype=wp.int32)):
        i = wp.tid()
        p = pts[i]
        n = int(0)
        for j in wp.hash_grid_query(grid, p, r):
            if wp.length_sq(p - pts[j]) < r * r:
                n += 1
        out[i] = n

    @wp.kernel
    def fill(grid: wp.uint64, pts: wp.array(dtype=wp.vec3), r: float,
             offset: wp.array(dtype=wp.int64), rows: wp.array(dtype=wp.int64),
             cols: wp.array(dtype=wp.int64)):
        i = wp.tid()
        p = pts[i]
        k = offset[i]
        for j in wp.hash_grid_query(grid, p, r):
            if wp.length_sq(p - pts[j]) < r * r:
                rows[k] = wp.int64(i)
                cols[k] = wp.int64(j)
                k = k + wp.int64(1)

    grids = {}

    def run(x, r, batch):
        if batch is not None:
            raise NotImplementedError("Warp's HashGrid has no batch vector")
        n = x.shape[0]
        dim = max(1, min(256, int(round(1.0 / r))))
        if dim not in grids:
            grids[dim] = wp.HashGrid(dim, dim, dim, device="cuda")
        grid = grids[dim]
        pts = wp.from_torch(x, dtype=wp.vec3)
        grid.build(pts, r)
        counts = torch.empty(n, dtype=torch.int32, device="cuda")
        wp.launch(count, dim=n, inputs=[grid.id, pts, r, wp.from_torch(counts)], device="cuda")
        offset = torch.zeros(n + 1, dtype=torch.int64, device="cuda")
        torch.cumsum(counts, 0, out=offset[1:])
        e = int(offset[-1])
        out = torch.empty(2, e, dtype=torch.int64, device="cuda")
        wp.launch(fill, dim=n, inputs=[grid.id, pts, r, wp.from_torch(offset),
                                       wp.from_torch(out[0]), wp.from_torch(out[1])], device="cuda")
        return out

    return run, wp.config.version


def make_torch_cluster(library: str):
    """torch-cluster 1.6.3's CUDA radius kernel (bench/build_torch_cluster.py),
    called as its Python wrapper does; max_num_neighbors=256 keeps every pair
    at ~32 neighbours on average."""
    torch.ops.load_library(library)

    def ptr(batch, n):
        if batch is None:
            return None
        counts = torch.bincount(batch)
        return torch.cat([counts.new_zeros(1), counts.cumsum(0)])

    def run(x, r, batch):
        p = ptr(batch, x.shape[0])
        return torch.ops.torch_cluster.radius_cuda(x, x, p, p, r, 256)

    return run


def disagreement(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor, r: float) -> dict:
    """Pairs found by one edge list but not the other, and how far their
    float64 distance is from r (rounding-band pairs sit within ~1e-6 r)."""
    n = x.shape[0]
    ka, kb = a[0] * n + a[1], b[0] * n + b[1]
    only_a, only_b = ka[~torch.isin(ka, kb)], kb[~torch.isin(kb, ka)]
    diff = torch.cat([only_a, only_b])
    d = (x[diff // n].double() - x[diff % n].double()).norm(dim=1)
    return {"only_first": int(only_a.numel()), "only_second": int(only_b.numel()),
            "max_rel_distance_from_r": float(((d - r).abs() / r).max()) if diff.numel() else 0.0}


def exact_count_tiled(x: torch.Tensor, r: float, tiles: int) -> int:
    """An independent edge count in plain torch (spatial tiles, elementwise
    distances with the same rounding as ours)."""
    cell = 1.0 / tiles
    tid = (x / cell).floor().clamp(0, tiles - 1).long()
    key = (tid[:, 0] * tiles + tid[:, 1]) * tiles + tid[:, 2]
    order = torch.argsort(key)
    xs, ks = x[order], key[order]
    starts = torch.searchsorted(ks, torch.arange(tiles**3 + 1, device=x.device))
    r2 = torch.tensor(r, dtype=torch.float32, device=x.device) ** 2
    total = 0
    for t in range(tiles**3):
        q = xs[starts[t]:starts[t + 1]]
        if q.numel() == 0:
            continue
        lo, hi = q.min(0).values - r, q.max(0).values + r
        cand = x[((x >= lo) & (x <= hi)).all(1)]
        d2 = torch.zeros(q.shape[0], cand.shape[0], device=x.device)
        for d in range(3):
            diff = cand[None, :, d] - q[:, None, d]
            d2 = d2 + diff * diff
        total += int((d2 < r2).sum())
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="1e4,1e5,1e6,1e7")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--impls", default=f"{NAME},warp,torch_cluster,cdist")
    ap.add_argument("--count-check", type=float, default=1e7, help="N for the independent count")
    ap.add_argument("--torch-cluster-lib", default="", help="library from build_torch_cluster.py")
    a = ap.parse_args()

    impls = {NAME: run_ours, "cdist": run_cdist}
    versions = {"torch": torch.__version__, NAME: ext.__version__, "python": platform.python_version()}
    notes = {}
    wanted = a.impls.split(",")
    if "warp" in wanted:
        try:
            impls["warp"], versions["warp"] = make_warp()
        except Exception as e:  # not installed on this machine: say so in the results
            notes["warp"] = f"unavailable: {e!r}"
    if "torch_cluster" in wanted:
        try:
            impls["torch_cluster"] = make_torch_cluster(a.torch_cluster_lib)
        except Exception as e:
            notes["torch_cluster"] = f"unavailable: {e!r}"
    impls = {k: v for k, v in impls.items() if k in wanted}

    bandwidth = copy_bandwidth()
    results = []
    for size in [int(float(s)) for s in a.sizes.split(",")]:
        torch.manual_seed(0)
        x = torch.rand(size, 3, device="cuda")
        for batched in (False, True):
            batch = (torch.arange(size, device="cuda") * EXAMPLES // size) if batched else None
            r = radius_for(size / EXAMPLES if batched else size)
            for name, fn in impls.items():
                if name == "cdist" and size > 20000:
                    continue
                if name == "torch_cluster" and size > 1_000_000:
                    continue  # 1.8 s at 1e6 already (quadratic per batch)
                if name == "warp" and size > 1_000_000 and len(impls) > 1:
                    continue  # may crash the CUDA context: run it alone (--impls warp)
                row = {"impl": name, "n": size, "batched": batched, "r": r}
                try:
                    torch.cuda.reset_peak_memory_stats()
                    base = torch.cuda.memory_allocated()
                    fn(x, r, batch)  # warm-up, then one call's peak memory
                    torch.cuda.synchronize()
                    peak = torch.cuda.max_memory_allocated() - base
                    ms, out = timed(lambda: fn(x, r, batch), a.repeats if size < 10**7 else 3)
                    edges = out.shape[1]
                    if name != NAME and not batched and size <= 1_000_000:
                        row.update({f"vs_{NAME}": disagreement(out, run_ours(x, r, None), x, r)})
                    moved = edges * 16 + size * 12
                    row.update(ms=ms, edges=edges, edges_per_s=edges / (ms / 1e3),
                               roofline_ms=moved / bandwidth * 1e3,
                               roofline_fraction=moved / bandwidth / (ms / 1e3),
                               peak_mem_bytes=peak,
                               output_bytes=out.numel() * 8)
                    del out
                except NotImplementedError as e:
                    row.update(skipped=str(e))
                except Exception as e:
                    row.update(error=f"{type(e).__name__}: {e}"[:500], trace=traceback.format_exc()[-800:])
                    torch.cuda.synchronize()
                print(json.dumps(row), flush=True)
                results.append(row)
            torch.cuda.empty_cache()

    # Independent exact count at a large size (>= 1e8 edges at 1e7 points).
    check = {}
    if a.count_check:
        n = int(a.count_check)
        torch.manual_seed(1)
        x = torch.rand(n, 3, device="cuda")
        r = radius_for(n)
        out = run_ours(x, r, None)
        check = {"n": n, "r": r, f"{NAME}_edges": out.shape[1]}
        del out
        torch.cuda.empty_cache()
        check["tiled_torch_edges"] = exact_count_tiled(x, r, tiles=max(1, int(n ** (1 / 3) / 12)))
        check["equal"] = check[f"{NAME}_edges"] == check["tiled_torch_edges"]
        print(json.dumps({"count_check": check}), flush=True)

    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(),
        "copy_bandwidth_bytes_per_s": bandwidth,
        "versions": versions,
        "notes": notes,
        "setup": "uniform points in the unit cube, float32, ~32 neighbours, all pairs incl. self, "
                 f"batched = {EXAMPLES} examples each filling the cube; CUDA events, median",
        "results": results,
        "count_check": check,
    }
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
