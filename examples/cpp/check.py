"""Build the C++ example against the installed torch and extension wheels, run it
on models made by make_models.py, and compare its outputs with eager Python.

    python examples/cpp/check.py WORKDIR [--device cpu|cuda]

Exits non-zero unless both the TorchScript and the AOTInductor outputs equal
the eager result exactly and no libpython was mapped in the C++ process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # extconfig.py: the names
import extconfig  # noqa: E402


def cmake_args() -> list[str]:
    import torch

    ext = extconfig.import_package()
    args = [f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path};{ext.cmake_prefix_path}",
            f"-DEXT_PACKAGE={ext.__name__}"]
    if torch.version.cuda:
        # A CUDA torch's CMake config looks for a toolkit; PATH wrapper
        # scripts for nvcc mislead it, so name the real toolkit root.
        nvcc = shutil.which("nvcc")
        roots = [os.environ.get("CUDA_HOME"), "/usr/local/cuda", nvcc and Path(nvcc).resolve().parent.parent]
        root = next((Path(r) for r in roots if r and Path(r, "bin", "nvcc").exists()), None)
        if root:
            args += [f"-DCMAKE_CUDA_COMPILER={root / 'bin' / 'nvcc'}", f"-DCUDAToolkit_ROOT={root}",
                     f"-DCUDA_TOOLKIT_ROOT_DIR={root}"]
    if shutil.which("ninja"):
        args.append("-GNinja")
    return args


def build(workdir: Path) -> Path:
    build_dir = workdir / "build"
    run(["cmake", "-S", str(HERE), "-B", str(build_dir), *cmake_args()])
    run(["cmake", "--build", str(build_dir)])
    return build_dir / "deploy"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def check(workdir: Path, device: str) -> dict:
    import torch

    models = workdir / "models"
    run([sys.executable, str(HERE / "make_models.py"), str(models), "--device", device])
    exe = build(workdir)
    out = workdir / "out"
    out.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = run([str(exe), str(models / "model.pt"), str(models / "model.pt2"),
                str(models / "inputs.pt"), str(out), device],
               capture_output=True, text=True, env=env)
    print(proc.stdout, end="")
    expected = torch.load(models / "expected.pt")
    result = {
        "stdout": proc.stdout,
        "edges": expected.shape[1],
        "torchscript_equal": torch.equal(torch.load(out / "torchscript.pt"), expected),
        "aoti_equal": torch.equal(torch.load(out / "aoti.pt"), expected),
        "libpython_mapped": "libpython mapped: no" not in proc.stdout,
    }
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    r = check(a.workdir, a.device)
    ok = r["torchscript_equal"] and r["aoti_equal"] and not r["libpython_mapped"]
    print(f"cpp example on {a.device}: {r['edges']} edges; torchscript equal: "
          f"{r['torchscript_equal']}; aoti equal: {r['aoti_equal']}; "
          f"libpython mapped: {r['libpython_mapped']} -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
