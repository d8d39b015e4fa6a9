"""Build cost: clean full-arch wheel build (wall time, peak RSS of the whole
process tree), rebuild after touching one .cu, and wheel size. Writes JSON
with the machine and versions to --out.

    .venv/bin/python bench/build.py --out bench/results/build.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tree_rss(pid: int) -> int:
    """Resident bytes of pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def measured(cmd: list[str], env: dict) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()
    log: list[bytes] = []
    reader = threading.Thread(target=lambda: (log.extend(proc.stdout), done.set()))
    reader.start()
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.05)
    reader.join()
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.stdout.write(b"".join(log).decode(errors="replace")[-4000:])
        raise SystemExit(f"build failed: {' '.join(cmd)}")
    return {"wall_s": round(wall, 1), "peak_rss_bytes": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import torch  # the build environment's torch

    env = dict(os.environ)
    outdir = Path(tempfile.mkdtemp())
    cmd = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(outdir), "."]
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    clean = measured(cmd, env)
    wheel = next(outdir.glob("*.whl"))
    # Rebuild after touching each CUDA source in turn (ninja recompiles one TU).
    incremental = []
    for source in sorted((ROOT / "pkg").glob("csrc/ops/cuda/*.cu")):
        source.touch()
        incremental.append({"file": str(source.relative_to(ROOT)), **measured(cmd, env)})
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    info = json.loads(subprocess.run(
        [sys.executable, "-c", "import zipfile,sys,json; z=zipfile.ZipFile(sys.argv[1]);"
         "print(z.read([n for n in z.namelist() if n.endswith('_build_info.json')][0]).decode())",
         str(wheel)], capture_output=True, text=True, check=True).stdout)
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "memory_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "nvcc": subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout.strip().splitlines()[-1]},
        "build_info": info,
        "max_jobs": env.get("MAX_JOBS", str(os.cpu_count())),
        "clean_build": clean,
        "rebuild_after_touching_one_cu": incremental,
        "max_rebuild_wall_s": max((i["wall_s"] for i in incremental), default=None),
        "wheel": {"name": wheel.name, "bytes": wheel.stat().st_size},
        "goals": {"clean_wall_s": 90, "clean_peak_rss_bytes": 2**30, "incremental_wall_s": 15},
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
