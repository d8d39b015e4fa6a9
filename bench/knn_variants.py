"""Timings for comparing builds of the knn grid search, one build a process:
CUDA-event medians (ms) of knn_graph / knn at 1e6 and 1e7 points (uniform, a
sphere shell, 64 batches, a dense cluster beside uniform points), with
radius_graph at ~32 neighbours beside them, and a hash of the edges of eight
inputs (equal hashes across builds: the same edges). Prints one JSON line
(earlier runs: tag archive/gpu-logs-2026-12, bench/results/device/).

    python bench/knn_variants.py LABEL      # with the build to time installed
"""

from __future__ import annotations

import hashlib
import json
import math
import sys

import torch

from package import ext
from small_batch import timed_cuda


def median_ms(fn, reps: int) -> float:
    return round(timed_cuda(fn, reps) / 1e3, 3)


def radius_for_32(n: int) -> float:
    """The radius with ~32 neighbours in the unit cube."""
    return (32 / (4 / 3 * math.pi * n)) ** (1 / 3)


def sphere(n: int, generator=None) -> torch.Tensor:
    s = torch.randn(n, 3, device="cuda", generator=generator)
    return s / s.norm(dim=1, keepdim=True)


def timings() -> dict:
    torch.manual_seed(0)
    out = {}
    x = torch.rand(10**6, 3, device="cuda")
    out["k32_1e6"] = median_ms(lambda: ext.knn_graph(x, 32), 10)
    out["k16_1e6"] = median_ms(lambda: ext.knn(x, x, 16), 10)
    out["rg32_1e6"] = median_ms(lambda: ext.radius_graph(x, radius_for_32(10**6), max_num_neighbors=None), 10)
    shell = sphere(10**6)
    out["k32_shell_1e6"] = median_ms(lambda: ext.knn_graph(shell, 32), 10)
    batch = torch.arange(64, device="cuda").repeat_interleave(10**6 // 64 + 1)[:10**6].sort().values
    out["k32_batched_1e6"] = median_ms(lambda: ext.knn_graph(x, 32, batch), 10)
    cluster = torch.cat([torch.randn(5 * 10**5, 3, device="cuda") * 0.01 + 0.5,
                         torch.rand(5 * 10**5, 3, device="cuda")])
    out["k20_cluster_1e6"] = median_ms(lambda: ext.knn_graph(cluster, 20), 5)
    big = torch.rand(10**7, 3, device="cuda")
    out["k32_1e7"] = median_ms(lambda: ext.knn_graph(big, 32), 5)
    out["rg32_1e7"] = median_ms(lambda: ext.radius_graph(big, radius_for_32(10**7), max_num_neighbors=None), 5)
    return out


def edge_hashes() -> dict:
    g = torch.Generator(device="cuda").manual_seed(1)
    u = torch.rand(200000, 3, device="cuda", generator=g)
    sh = sphere(200000, g)
    cl = torch.cat([torch.randn(100000, 3, device="cuda", generator=g) * 0.01,
                    torch.rand(100000, 3, device="cuda", generator=g)])
    b = torch.arange(16, device="cuda").repeat_interleave(200000 // 16)
    calls = {"u32": lambda: ext.knn_graph(u, 32), "u7": lambda: ext.knn_graph(u, 7, loop=True),
             "sh32": lambda: ext.knn_graph(sh, 32), "cl20": lambda: ext.knn_graph(cl, 20),
             "b32": lambda: ext.knn_graph(u, 32, b), "bip": lambda: ext.knn(u, sh[:5000], 24),
             "u32_d": lambda: ext.knn_graph(u.double(), 32),
             "u2d": lambda: ext.knn_graph(u[:, :2].contiguous(), 16)}
    return {name: hashlib.sha1(call().cpu().numpy().tobytes()).hexdigest()[:12]
            for name, call in calls.items()}


def main() -> None:
    print(json.dumps({"variant": sys.argv[1], **timings(), "hash": edge_hashes()}), flush=True)


if __name__ == "__main__":
    main()
