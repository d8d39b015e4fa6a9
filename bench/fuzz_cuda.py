"""Seeded fuzzing of the CUDA kernels against the CPU kernels.

For each generated case (good or bad input): the CUDA result must equal the
CPU result exactly, or both must raise RuntimeError with the same message.
Any other outcome (a crash, an illegal address, a mismatch) fails. --op picks
the family: radius (radius + radius_graph, the default) or knn (knn +
knn_graph). Writes a JSON summary (cases, mismatches, seconds) to --out.

    python bench/fuzz_cuda.py --cases 2000 --out fuzz.json
    python bench/fuzz_cuda.py --op knn --cases 2500 --out fuzz_knn.json
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch

from package import NAME, ext

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def sorted_batch(rng: random.Random, n: int, max_id: int) -> torch.Tensor:
    return torch.tensor(sorted(rng.randrange(max_id + 1) for _ in range(n)), dtype=torch.long)


def points(rng: random.Random, n: int, dim: int, dtype) -> torch.Tensor:
    kind = rng.choice(["uniform", "lattice", "duplicates", "clustered", "offset", "flat"])
    if kind == "uniform":
        p = torch.rand(n, dim, dtype=torch.float64)
    elif kind == "lattice":
        p = torch.randint(0, 6, (n, dim)).double() * 0.1
    elif kind == "duplicates":
        p = torch.rand(max(1, n // 4), dim, dtype=torch.float64)
        p = p[torch.randint(0, p.shape[0], (n,))] if n else p[:0]
    elif kind == "clustered":
        p = torch.rand(n, dim, dtype=torch.float64) * 1e-3
    elif kind == "offset":
        p = torch.rand(n, dim, dtype=torch.float64) + 1e3
    else:
        p = torch.rand(n, dim, dtype=torch.float64)
        p[:, 0] = 0.5
    return p.to(dtype)


def cloud(rng: random.Random, nx: int, dim: int, dtype):
    """Points x (sometimes non-contiguous) and how their batches will be drawn."""
    x = points(rng, nx, dim, dtype)
    if rng.random() < 0.2 and dim > 1:
        x = x.t().contiguous().t()  # non-contiguous
    return x, rng.choice([0, 1, 3, 20]), rng.random() < 0.5


def graph_kwargs(rng: random.Random, n: int, max_id: int, use_batch: bool) -> dict:
    """batch, loop and flow of a *_graph call."""
    batch = sorted_batch(rng, n, max_id) if use_batch else None
    return dict(batch=batch, loop=rng.random() < 0.5,
                flow=rng.choice(["source_to_target", "target_to_source"]))


def good_case(rng: random.Random) -> tuple[str, tuple, dict]:
    dim = rng.choice([1, 2, 3, 3, 3, 4, 6])
    dtype = rng.choice(DTYPES)
    nx, ny = rng.choice([0, 1, 7, 50, 300, 2000]), rng.choice([0, 1, 9, 64, 300, 2000])
    r = rng.choice([1e-4, 0.05, 0.1, 0.3, 2.0, 50.0])
    k = rng.choice([None, 0, 1, 5, 32, 100])
    op = rng.choice(["radius", "radius_graph"])
    x, max_id, use_batch = cloud(rng, nx, dim, dtype)
    if op == "radius_graph":
        return op, (x, r), dict(graph_kwargs(rng, nx, max_id, use_batch), max_num_neighbors=k)
    y = points(rng, ny, dim, dtype)
    kwargs = dict(batch_x=sorted_batch(rng, nx, max_id) if use_batch else None,
                  batch_y=sorted_batch(rng, ny, max_id) if use_batch else None,
                  max_num_neighbors=k, ignore_same_index=rng.random() < 0.3)
    return op, (x, y, r), kwargs


def shared_bad(rng: random.Random, bad: str, x, y, kwargs: dict):
    """One bad input that every op family checks alike (x: [100, 3], y: [40, 3]);
    returns the new x, y (kwargs is updated in place)."""
    if bad == "nan_x":
        x[rng.randrange(100), rng.randrange(3)] = float("nan")
    elif bad == "inf_y":
        y[rng.randrange(40), 0] = float("inf")
    elif bad == "unsorted":
        kwargs["batch_x"] = torch.randint(0, 4, (100,))
        kwargs["batch_x"][0], kwargs["batch_x"][1] = 3, 0
    elif bad == "negative":
        kwargs["batch_y"] = torch.full((40,), -1, dtype=torch.long)
    elif bad == "bsize":
        kwargs["batch_x"] = torch.full((100,), 5, dtype=torch.long)
        kwargs["batch_size"] = 2
    elif bad == "dtype":
        x = x.long()
    elif bad == "mixed":
        y = y.double()
    elif bad == "dims":
        y = torch.rand(40, 2)
    elif bad == "blen":
        kwargs["batch_x"] = torch.zeros(99, dtype=torch.long)
    elif bad == "rank":
        x = x[None]
    else:
        assert bad == "sparse", bad
        kwargs["batch_x"] = torch.full((100,), 10**12, dtype=torch.long)
    return x, y


def bad_case(rng: random.Random) -> tuple[str, tuple, dict]:
    x = torch.rand(100, 3)
    y = torch.rand(40, 3)
    bad = rng.choice(["nan_x", "inf_y", "unsorted", "negative", "r0", "rnan", "k", "bsize",
                      "dtype", "mixed", "dims", "blen", "rank", "flow", "sparse"])
    kwargs: dict = {}
    r = 0.2
    if bad == "r0":
        r = rng.choice([0.0, -1.0])
    elif bad == "rnan":
        r = rng.choice([float("nan"), float("inf")])
    elif bad == "k":
        kwargs["max_num_neighbors"] = -3
    elif bad == "flow":
        return "radius_graph", (x, r), {"flow": "sideways"}
    else:
        x, y = shared_bad(rng, bad, x, y, kwargs)
    return "radius", (x, y, r), kwargs


def knn_good_case(rng: random.Random) -> tuple[str, tuple, dict]:
    dim = rng.choice([1, 2, 3, 3, 3, 4, 16, 64])
    dtype = rng.choice(DTYPES)
    nx, ny = rng.choice([0, 1, 7, 50, 300, 2000]), rng.choice([0, 1, 9, 64, 300, 2000])
    k = rng.choice([1, 2, 5, 16, 32, 33, 100])  # > 32: the scratch-buffer path on CUDA
    cosine = rng.random() < 0.2
    op = rng.choice(["knn", "knn_graph"])
    x, max_id, use_batch = cloud(rng, nx, dim, dtype)
    if op == "knn_graph":
        return op, (x, k), dict(graph_kwargs(rng, nx, max_id, use_batch), cosine=cosine)
    y = points(rng, ny, dim, dtype)
    kwargs = dict(batch_x=sorted_batch(rng, nx, max_id) if use_batch and rng.random() < 0.9 else None,
                  batch_y=sorted_batch(rng, ny, max_id) if use_batch else None, cosine=cosine)
    return op, (x, y, k), kwargs


def knn_bad_case(rng: random.Random) -> tuple[str, tuple, dict]:
    x = torch.rand(100, 3)
    y = torch.rand(40, 3)
    bad = rng.choice(["nan_x", "inf_y", "unsorted", "negative", "k0", "kneg", "bsize", "dtype",
                      "mixed", "dims", "blen", "rank", "flow", "sparse", "nan_cosine"])
    kwargs: dict = {}
    k = 4
    if bad == "nan_cosine":
        x[rng.randrange(100), 1] = float("nan")
        kwargs["cosine"] = True
    elif bad in ("k0", "kneg"):
        k = 0 if bad == "k0" else -3
    elif bad == "flow":
        return "knn_graph", (x, k), {"flow": "sideways"}
    else:
        x, y = shared_bad(rng, bad, x, y, kwargs)
    return "knn", (x, y, k), kwargs


CASES = {"radius": (good_case, bad_case), "knn": (knn_good_case, knn_bad_case)}


def to(args, kwargs, device):
    move = lambda v: v.to(device) if isinstance(v, torch.Tensor) else v  # noqa: E731
    return tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}


def outcome(fn, args, kwargs):
    try:
        return "ok", fn(*args, **kwargs).cpu()
    except RuntimeError as e:
        return "error", str(e)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="fuzz_cuda.json")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--op", choices=sorted(CASES), default="radius", help="which op family")
    a = ap.parse_args()
    good, bad = CASES[a.op]
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    stats = {"cases": 0, "good": 0, "bad": 0, "equal": 0, "same_error": 0, "mismatches": []}
    start = time.perf_counter()
    for i in range(a.cases):
        op, args, kwargs = bad(rng) if rng.random() < 0.25 else good(rng)
        fn = getattr(ext, op)
        ref = outcome(fn, *to(args, kwargs, "cpu"))
        got = outcome(fn, *to(args, kwargs, a.device))
        stats["cases"] += 1
        stats["good" if ref[0] == "ok" else "bad"] += 1
        if ref[0] == got[0] == "ok" and torch.equal(ref[1], got[1]):
            stats["equal"] += 1
        elif ref[0] == got[0] == "error" and ref[1] == got[1]:
            stats["same_error"] += 1
        else:
            stats["mismatches"].append({"case": i, "op": op, "cpu": str(ref[1])[:300],
                                        a.device: str(got[1])[:300]})
    torch.cuda.synchronize() if a.device == "cuda" else None
    stats["seconds"] = round(time.perf_counter() - start, 2)
    stats["device"] = torch.cuda.get_device_name() if a.device == "cuda" else "cpu"
    stats["torch"] = torch.__version__
    stats[NAME] = ext.__version__
    stats["op"] = a.op
    with open(a.out, "w") as f:
        json.dump(stats, f, indent=2)
    print(f"fuzz ({a.op}): {stats['cases']} cases ({stats['good']} good, {stats['bad']} bad): "
          f"{stats['equal']} equal, {stats['same_error']} same error, "
          f"{len(stats['mismatches'])} mismatches in {stats['seconds']} s")
    for m in stats["mismatches"][:5]:
        print("  mismatch:", m)
    raise SystemExit(1 if stats["mismatches"] else 0)


if __name__ == "__main__":
    main()
