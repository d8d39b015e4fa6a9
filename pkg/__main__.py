"""`python -m <pkg> info`: what was built, what runs here, and whether they fit."""

from __future__ import annotations

import argparse
import platform
import sys

import torch

from . import _loader, build_info, cuda_enabled


def info() -> int:
    b = build_info
    rows = [
        ("package", f"{b['name']} {b['version']} (import {b['import_name']}, torch.ops.{b['ops_namespace']})"),
        ("built with", f"torch {b['torch_headers']} headers, stable ABI target torch>={b['torch_target']}"),
        ("CUDA toolkit", b["cuda"] or "none (CPU-only build)"),
        ("CUDA archs", " ".join(b["cuda_archs"]) or "-"),
        ("git commit", b["git_commit"]),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("torch", f"{torch.__version__} (CUDA {torch.version.cuda or 'none'})"),
    ]
    variants = b.get("cuda_variants", [])
    rows.append(("CUDA variants", "; ".join(
        f"+{_loader.label(v)} (torch {', '.join(_loader.torch_builds(b, v))}; driver >= "
        f"{_loader.MIN_DRIVER.get(_loader._version_tuple(v)[0], '?')})" for v in variants) or "-"))
    driver = _loader.cuda_driver_version()
    rows.append(("NVIDIA driver", f"CUDA {driver[0]}.{driver[1]}" if driver else "not found"))
    if driver and variants:
        fit = _loader.variant_for_driver(b, driver)
        rows.append(("driver fits", f"+{_loader.label(fit)}" if fit else "none of them: upgrade the driver"))
    rows.append(("CUDA kernels", "loaded" if cuda_enabled else "not loaded"))
    problems = []
    if cuda_enabled and torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            cap = torch.cuda.get_device_capability(i)
            ok = _loader.covers(b["cuda_archs"], cap)
            rows.append((f"GPU {i}", f"{torch.cuda.get_device_name(i)} sm_{cap[0]}{cap[1]}: "
                                     f"{'covered' if ok else 'NOT covered'}"))
        problems = _loader.check_archs(b)
    elif b["cuda"] and torch.version.cuda and not torch.cuda.is_available():
        rows.append(("GPUs", "none visible"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    print(verdict(problems))
    return 1 if problems else 0


def verdict(problems: list[str]) -> str:
    """The one line that answers "will my GPU run these ops?"."""
    if problems:
        return f"verdict: CPU only: {problems[0]}"
    if cuda_enabled and torch.cuda.is_available():
        return "verdict: CUDA kernels usable on GPU 0" + (
            f" (and {torch.cuda.device_count() - 1} more)" if torch.cuda.device_count() > 1 else "")
    why = _loader.cuda_problem(build_info) or ("the CUDA library was not loaded" if not cuda_enabled
                                               else "torch sees no GPU")
    return f"verdict: CPU only: {why}"


def main() -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}")
    parser.add_argument("command", nargs="?", default="info", choices=["info"],
                        help="print build and runtime facts (the default)")
    parser.parse_args()
    return info()


if __name__ == "__main__":
    sys.exit(main())
