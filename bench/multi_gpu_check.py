"""Device-guard check on a machine with >= 2 GPUs: inputs on cuda:1 (while
cuda:0 is current) must give the CPU kernels' results, and inputs split
across GPUs must raise the documented error. Prints one line per check and
exits non-zero on any failure.

    python bench/multi_gpu_check.py
"""

from __future__ import annotations

import sys

import torch

from package import ext


def main() -> int:
    if torch.cuda.device_count() < 2:
        print("skipped: fewer than 2 GPUs")
        return 0
    torch.cuda.set_device(0)
    failures = 0
    g = torch.Generator().manual_seed(0)
    for n, dtype, k in [(2000, torch.float32, None), (5000, torch.float64, 8), (3000, torch.float16, 32)]:
        x = torch.rand(n, 3, generator=g).to(dtype)
        batch = torch.arange(n) * 4 // n
        for fn, args in [(ext.radius_graph, (x, 0.08, batch)), (ext.radius, (x, x[: n // 2], 0.08, batch, batch[: n // 2]))]:
            want = fn(*args, max_num_neighbors=k)
            got = fn(*[a.to("cuda:1") for a in args[:2]] + list(args[2:3]) + [a.to("cuda:1") for a in args[3:]],
                     max_num_neighbors=k) if fn is ext.radius else fn(args[0].to("cuda:1"), args[1], args[2].to("cuda:1"), max_num_neighbors=k)
            ok = got.device == torch.device("cuda:1") and torch.equal(got.cpu(), want)
            failures += not ok
            print(f"{fn.__name__} n={n} {dtype} k={k} on cuda:1 (current cuda:0): {'equal to CPU' if ok else 'MISMATCH'}")
    try:
        ext.radius(torch.rand(10, 3, device="cuda:0"), torch.rand(10, 3, device="cuda:1"), 0.5)
        print("split devices: no error (FAIL)")
        failures += 1
    except RuntimeError as e:
        print(f"split devices: RuntimeError: {e}")
    print(f"multi-GPU check: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
