"""Import-time diagnosis: each way loading can fail gives one message naming
the cause and the fix, never a bare loader error."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import describe, run_python
from names import IMPORT, NAME, ext

_loader = ext._loader

PKG = Path(ext.__file__).parent


def copy_package(tmp_path: Path) -> Path:
    """The installed package, copied to tmp_path/site/<name> (to break it)."""
    site = tmp_path / "site"
    shutil.copytree(PKG, site / PKG.name, ignore=shutil.ignore_patterns("__pycache__"))
    return site


def import_from(site: Path, tmp_path: Path, prelude: str = "") -> str:
    proc = run_python(
        f"""
        import sys
        sys.path.insert(0, {str(site)!r})
        {prelude}
        try:
            import {PKG.name}
        except ImportError as e:
            print("ImportError:", e)
        else:
            print("imported", {PKG.name}.__file__)
        """,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, describe(proc)
    return proc.stdout


def test_torch_older_than_the_stable_abi_target(tmp_path):
    out = import_from(PKG.parent, tmp_path, "import torch; torch.__version__ = '2.9.1'")
    assert "needs torch>=2.10" in out and "torch 2.9.1 is installed" in out, out
    assert "pip install -U 'torch>=2.10'" in out, out


def test_missing_library(tmp_path):
    site = copy_package(tmp_path)
    (site / PKG.name / f"lib{PKG.name}_cpu.so").unlink()
    out = import_from(site, tmp_path)
    assert "library" in out and "is missing" in out and "--force-reinstall" in out, out


def test_corrupt_library(tmp_path):
    site = copy_package(tmp_path)
    (site / PKG.name / f"lib{PKG.name}_cpu.so").write_bytes(b"not an ELF file")
    out = import_from(site, tmp_path)
    assert "cannot load" in out and "corrupt" in out and "--force-reinstall" in out, out
    assert not out.startswith("imported"), out


def test_missing_build_info(tmp_path):
    site = copy_package(tmp_path)
    (site / PKG.name / "_build_info.json").unlink()
    out = import_from(site, tmp_path)
    assert "is not built" in out and "_build_info.json" in out, out


@pytest.mark.parametrize(
    "archs, capability, covered",
    [
        (["75-real", "80-real", "90-real", "120"], (8, 0), True),
        (["75-real", "80-real", "90-real", "120"], (8, 6), True),   # sm_80 cubin runs on sm_86
        (["75-real", "80-real", "90-real", "120"], (10, 0), False),  # no cubin, PTX 120 too new
        (["75-real", "80-real", "90-real", "120"], (12, 1), True),   # PTX for 120 JITs
        (["90a-real"], (9, 0), True),   # arch-specific cubins run on exactly that arch
        (["90a-real"], (10, 0), False),
        ([], (9, 0), False),
    ],
)
def test_arch_coverage(archs, capability, covered):
    assert _loader.covers(archs, capability) is covered


def test_info_command(tmp_path):
    proc = run_python(f"import runpy, sys; sys.argv = ['x', 'info']; runpy.run_module('{IMPORT}', run_name='__main__')",
                      cwd=tmp_path)
    assert "package" in proc.stdout and ext.__version__ in proc.stdout, describe(proc)
    assert "stable ABI target torch>=2.10" in proc.stdout, describe(proc)
    assert "CUDA kernels" in proc.stdout, describe(proc)


def test_bare_module_run_means_info_and_ends_with_a_verdict(tmp_path):
    proc = subprocess.run([sys.executable, "-m", IMPORT], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, describe(proc)
    last = proc.stdout.strip().splitlines()[-1]
    if torch.cuda.is_available() and ext.cuda_enabled:
        assert last.startswith("verdict: CUDA kernels usable on GPU 0"), last
    else:
        assert re.fullmatch(r"verdict: CPU only: .+", last), last


def test_cuda_problem_is_none_or_a_message(monkeypatch):
    """One contract: None means the CUDA library can be loaded, anything else
    is a message saying why not (the CPU-only cases too, never "")."""
    monkeypatch.setattr(_loader, "cuda_driver_version", lambda: (13, 1))
    cuda_build = {"name": NAME, "version": "0.1.0+cu130", "cuda": "13.0", "cuda_variants": ["13.0"]}
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    assert _loader.cuda_problem(cuda_build) is None
    assert "CPU-only (+cpu) build" in _loader.cuda_problem({**cuda_build, "cuda": None})
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "is a CPU-only build" in _loader.cuda_problem(cuda_build)


@pytest.mark.parametrize("driver, built, names", [
    ((12, 8), "13.0", "+cu124"),   # a CUDA 12 driver and the +cu130 wheel: the +cu124 one is the fix
    ((11, 8), "12.4", None),       # older than every variant: only a driver upgrade helps
    ((13, 1), "13.0", False),      # fits: no problem at all
])
def test_driver_too_old_names_the_variant_that_fits(monkeypatch, driver, built, names):
    info = {"name": NAME, "version": f"0.1.0+cu{built.replace('.', '')}", "cuda": built,
            "cuda_variants": ["13.0", "12.4"],
            "torch_cuda_builds": {"13.0": ["cu130", "cu132"], "12.4": ["cu126", "cu128"]}}
    monkeypatch.setattr(_loader, "cuda_driver_version", lambda: driver)
    monkeypatch.setattr(torch.version, "cuda", "12.8")  # a torch+cu128 user
    problem = _loader.cuda_problem(info)
    if names is False:
        assert problem is None
        return
    assert problem and f"CUDA {driver[0]}.{driver[1]}" in problem, problem
    if names:
        assert f"pip install --force-reinstall --no-deps '{NAME}==0.1.0{names}'" in problem, problem
        # the index named after the user's torch build, which that wheel serves
        assert "--index-url <index>/cu128/simple" in problem and "cu126, cu128" in problem, problem
    else:
        assert "upgrade the driver" in problem and "pip install" not in problem, problem
