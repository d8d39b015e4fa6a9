"""What the repository and a project made from it weigh, and how fast the
inner loop is: line counts (template core / add-ons / product), the size of
a generated project, wheel sizes, and editable-install rebuild times.

    .venv/bin/python bench/footprint.py --out bench/results/footprint.json [--wheel W ...] [--no-timings]

Line counts are of code files (not prose, data or results). The timings
generate a project (default answers) into a temporary folder and time
`pip install --no-build-isolation -e .` there: the first build, then again
after editing its one `.cu` (one arch, then all archs) and its CPU kernel.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = (".py", ".cpp", ".h", ".cu", ".cuh", ".sh", ".yml", ".yaml", ".toml", ".cmake", ".in", ".j2", ".jinja", ".txt")
NAMES = ("Dockerfile", "CMakeLists.txt", "factory", "run", "Containerfile")


def is_code(path: Path) -> bool:
    return path.suffix in CODE or path.name in NAMES


def lines(path: Path) -> int:
    return len(path.read_text(errors="replace").splitlines())


def tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True).stdout.decode()
    return [REPO / p for p in out.split("\0") if p]


def template_core() -> set[Path]:
    """Every file the template takes from the repository (through template/'s
    links) and its own files."""
    core = {REPO / "copier.yml"}
    for folder, _, files in os.walk(REPO / "template", followlinks=True):
        core.update((Path(folder) / f).resolve() for f in files)
    return core


def repository_counts() -> dict:
    core = template_core()
    counts = {"template core": 0, "add-ons": 0, "product": 0}
    for path in tracked():
        if not path.is_file() or path.is_symlink() or not is_code(path) or "results" in path.parts:
            continue
        kind = ("add-ons" if path.relative_to(REPO).parts[0] == "addons"
                else "template core" if path.resolve() in core or path.relative_to(REPO).parts[0] == "template"
                else "product")
        counts[kind] += lines(path)
    return counts


def generate(dst: Path) -> Path:
    subprocess.run([sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", str(REPO), str(dst)],
                   check=True)
    return dst


def project_counts(project: Path) -> dict:
    factory = ("ci", "docker", ".github", ".ci", "cmake", "setup.py", "extconfig.py", "CMakeLists.txt",
               "pyproject.toml")
    counts = {"factory": 0, "factory tests": 0, "package and ops": 0, "files": 0}
    for path in project.rglob("*"):
        rel = path.relative_to(project)
        if not path.is_file() or rel.parts[0] == ".git" or not is_code(path):
            continue
        counts["files"] += 1
        kind = ("factory tests" if rel.parts[:2] == ("ci", "tests") else "factory" if rel.parts[0] in factory
                else "package and ops")
        counts[kind] += lines(path)
    counts["all"] = counts["factory"] + counts["factory tests"] + counts["package and ops"]
    return counts


def user_venv(project: Path) -> Path:
    """A venv that sees this environment's torch, cmake and ninja (a .pth
    line): a user's environment for the editable install."""
    venv = project / "build" / "user-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # the outer pip
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin" / "python"


def editable(project: Path, **env: str) -> float:
    python = project / "build" / "user-venv" / "bin" / "python"
    start = time.monotonic()
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e",
                    str(project)], env={**os.environ, **env}, check=True, capture_output=True)
    return round(time.monotonic() - start, 1)


def touch(path: Path) -> None:
    path.write_text(path.read_text() + "// edited\n")


def timings(project: Path) -> dict:
    cu = next((project / "pkg" / "csrc" / "ops" / "cuda").glob("*.cu"))
    cpu = next((project / "pkg" / "csrc" / "ops" / "cpu").glob("*_kernel.cpp"))
    user_venv(project)
    out = {"cpu: first build": editable(project, EXT_CPU_ONLY="1")}
    touch(cpu)
    out["cpu: one .cpp edited"] = editable(project, EXT_CPU_ONLY="1")
    out["cuda sm_90: first build"] = editable(project, EXT_CUDA_ARCHS="90")
    touch(cu)
    out["cuda sm_90: one .cu edited"] = editable(project, EXT_CUDA_ARCHS="90")
    out["cuda all archs: first build"] = editable(project, EXT_CUDA_ARCHS="")
    touch(cu)
    out["cuda all archs: one .cu edited"] = editable(project, EXT_CUDA_ARCHS="")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--wheel", type=Path, action="append", default=[], help="record this wheel's size")
    p.add_argument("--no-timings", action="store_true")
    args = p.parse_args()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "git_commit": commit, "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
           "versions": {"python": platform.python_version()}, "repository_lines": repository_counts()}
    with tempfile.TemporaryDirectory() as tmp:
        project = generate(Path(tmp) / "demo")
        doc["generated_project_lines"] = project_counts(project)
        if not args.no_timings:
            doc["editable_rebuild_seconds"] = timings(project)
    doc["wheels"] = {w.name: {"bytes": w.stat().st_size, "files": len(zipfile.ZipFile(w).namelist())}
                     for w in args.wheel}
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
