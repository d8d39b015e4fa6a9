"""The repository as a template: what someone who copies it does, done in a
copy of the tree. Add an op by the recipe (./ci/factory new-op), rename the
project by editing [project].name alone, install it editable, switch
variants. Run by `./ci/factory test` (slow: each builds a wheel); what runs the
built wheels is the test venv's interpreter (TEST_PYTHON), a user's environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from helpers import (FACTORY_PYTHON, IMPORT, NAME, NS, SMALL_GRAPH, TEST_PYTHON, WHEEL, clean_env,
                     copy_worktree, factory, out, pip)

pytestmark = pytest.mark.slow

# Where the old name may stay after a rename: prose and history, not code.
RENAME_ALLOWED = ("README.md", "bench/results/")


def build_cpu(tree: Path) -> Path:
    res = factory("-C", str(tree), "build", "--backend", "host", "--cpu",
                  env=clean_env(SOURCE_DATE_EPOCH="1700000000"))
    assert res.returncode == 0, out(res)
    # a run that built no CUDA wheel says so on its last line
    assert "CPU-ONLY" in res.stdout.strip().splitlines()[-1], out(res)
    wheels = sorted((tree / "dist").glob("*+cpu-*.whl"))
    assert len(wheels) == 1, out(res)
    return wheels[0]


def run_with(site: Path, code: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter that imports from `site` first."""
    return subprocess.run([str(TEST_PYTHON), "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)}, timeout=timeout)


def install_target(wheel: Path, site: Path) -> None:
    inst = pip("install", "--no-deps", "--target", str(site), str(wheel))
    assert inst.returncode == 0, out(inst)


# --------------------------------------------------------------------------
# Add an op by the recipe
# --------------------------------------------------------------------------


def test_new_op_scaffold_builds_registers_scripts_and_keeps_the_old_ops(tmp_path):
    tree = copy_worktree(tmp_path / "tree")
    res = factory("new-op", "toy_norm", "-C", str(tree))
    assert res.returncode == 0, out(res)
    for rel in ("pkg/csrc/ops/toy_norm.cpp", "pkg/csrc/ops/common/toy_norm_call.cpp",
                "pkg/csrc/ops/cpu/toy_norm_kernel.cpp", "pkg/csrc/ops/cuda/toy_norm_kernel.cpp",
                "tests/test_toy_norm.py"):
        assert (tree / rel).is_file(), rel
    again = factory("new-op", "toy_norm", "-C", str(tree))
    assert again.returncode != 0 and "exists already" in again.stderr, out(again)

    site = tmp_path / "site"
    install_target(build_cpu(tree), site)
    # The generated tests (reference, TorchScript, opcheck) and the old ops' suite.
    tests = run_with(site, "import sys, pytest; sys.exit(pytest.main(["
                     f"{str(tree / 'tests' / 'test_toy_norm.py')!r}, "
                     f"{str(tree / 'tests' / 'test_torchscript.py')!r}, '-q', '-p', 'no:cacheprovider']))",
                     cwd=tmp_path)
    assert tests.returncode == 0, out(tests)
    assert re.search(r"\d+ passed", tests.stdout) and "failed" not in tests.stdout, out(tests)
    call = run_with(site, f"""
import torch, {IMPORT} as ext
x = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
assert ext.toy_norm(x).tolist() == [25.0, 1.0]
assert torch.jit.script(ext.toy_norm)(x).tolist() == [25.0, 1.0]
assert ext.radius_graph(x, 5.0).tolist() == [[1, 0], [0, 1]]
print("ok", ext.__file__)
""", cwd=tmp_path)
    assert call.returncode == 0 and call.stdout.startswith("ok") and str(site) in call.stdout, out(call)


def test_a_failing_registration_is_an_import_error_with_torchs_message(tmp_path):
    tree = copy_worktree(tmp_path / "tree")
    # A second schema block for an op that exists: torch refuses it.
    (tree / "pkg" / "csrc" / "ops" / "dup.cpp").write_text(
        '#include "common/library.h"\nEXT_LIBRARY_FRAGMENT(m) { m.def("radius_graph(Tensor x) -> Tensor"); }\n')
    site = tmp_path / "site"
    install_target(build_cpu(tree), site)
    proc = run_with(site, f"import {IMPORT}", cwd=tmp_path)
    assert proc.returncode == 1, out(proc)  # an exception, not a crash (rc 139) or abort (134)
    assert "ImportError" in proc.stderr and "registering its ops failed" in proc.stderr, out(proc)
    assert "dup.cpp" in proc.stderr and "multiple times" in proc.stderr, out(proc)


def test_a_source_left_out_of_a_library_fails_the_build_not_the_import(tmp_path):
    tree = copy_worktree(tmp_path / "tree")
    (tree / "pkg" / "csrc" / "ops" / "common" / "radius_call.cpp").unlink()
    res = factory("-C", str(tree), "build", "--backend", "host", "--cpu",
                  env=clean_env(SOURCE_DATE_EPOCH="1700000000"))
    assert res.returncode != 0, out(res)
    # GNU ld says "undefined reference", lld (the zig link) "undefined symbol"
    text = res.stdout + res.stderr
    assert re.search(r"undefined (reference|symbol)", text) and "make_radius" in text, out(res)


# --------------------------------------------------------------------------
# Rename = one value
# --------------------------------------------------------------------------


def test_rename_is_one_value_and_the_renamed_copy_passes_its_suite(tmp_path):
    tree = copy_worktree(tmp_path / "tree")
    pyproject = tree / "pyproject.toml"
    text = pyproject.read_text()
    assert f'name = "{NAME}"' in text
    pyproject.write_text(text.replace(f'name = "{NAME}"', 'name = "nebtest"', 1))
    # A user's renamed copy is a git checkout (tests clone it, actionlint looks for it).
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tree, check=True)
    subprocess.run(["git", "-c", "user.name=rename test", "-c", "user.email=rename@test.invalid",
                    "commit", "-q", "-m", "renamed"], cwd=tree, check=True)
    old = re.compile(re.escape(NAME), re.I)
    left = [str(p.relative_to(tree)) for p in sorted(tree.rglob("*")) if p.is_file()
            and ".git" not in p.relative_to(tree).parts
            and not str(p.relative_to(tree)).startswith(RENAME_ALLOWED)
            and old.search(p.read_text(errors="replace"))]
    assert not left, f"{NAME!r} is still spelled in {left} (allowed only in {RENAME_ALLOWED})"

    res = factory("-C", str(tree), "build", "--backend", "host", "--cpu",
                  env=clean_env(SOURCE_DATE_EPOCH="1700000000"))
    assert res.returncode == 0, out(res)
    built = list((tree / "dist").glob("nebtest-*.whl"))
    assert len(built) == 1, out(res)
    names = zipfile.ZipFile(built[0]).namelist()
    assert "nebtest/libnebtest_cpu.so" in names and "nebtest/_build_info.json" in names, names
    assert not [n for n in names if old.search(n)], names
    # The renamed copy's whole product suite, through its own factory (not
    # the factory's own tests: they would run this test again).
    from importlib import metadata

    suite = factory("-C", str(tree), "test", "--suites", "product", "--wheel", str(built[0]), "--torch",
                    metadata.version("torch").split("+")[0], timeout=1800, env=clean_env())
    assert suite.returncode == 0, out(suite)
    assert re.search(r"PASS .*: \d+ passed", suite.stdout), out(suite)
    site = tmp_path / "site"
    install_target(built[0], site)
    run = run_with(site, SMALL_GRAPH.format(name="nebtest"), cwd=tmp_path, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("ok"), out(run)


# --------------------------------------------------------------------------
# Editable installs and switching variants
# --------------------------------------------------------------------------


def _editable(tree: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TEST_PYTHON), "-m", "pip", "install", "--no-deps", "-q", *flags,
                           "-e", str(tree)], env=clean_env(EXT_CPU_ONLY="1"), capture_output=True,
                          text=True, timeout=900)


def test_editable_install_picks_up_an_edit_when_rerun(tmp_path):
    tree = copy_worktree(tmp_path / "tree")
    # Stays a test-time install: `pip install --no-build-isolation -e .` (the
    # README's rebuild) needs the build tools in the user's own environment,
    # which the test venv stands for; the factory's .venv must not be changed.
    tools = subprocess.run([str(TEST_PYTHON), "-m", "pip", "install", "-q", "setuptools>=77", "cmake>=3.26",
                            "ninja"], env=clean_env(), capture_output=True, text=True, timeout=600)
    assert tools.returncode == 0, out(tools)
    probe = f"""
import torch, {IMPORT} as ext
print(ext.__file__)
try:
    ext.radius_graph(torch.rand(5, 3), -1.0)
except RuntimeError as e:
    print(e)
"""
    try:
        assert pip("uninstall", "-y", NAME).returncode == 0
        for flags in ((), ("--no-build-isolation",)):
            inst = _editable(tree, *flags)
            assert inst.returncode == 0, out(inst)
            proc = subprocess.run([str(TEST_PYTHON), "-c", probe], cwd=tmp_path, capture_output=True, text=True)
            assert proc.returncode == 0, out(proc)
            assert proc.stdout.startswith(str(tree / "pkg")), out(proc)
            assert f"{NS}.radius_graph: r must be a finite number > 0" in proc.stdout, out(proc)
        call = tree / "pkg" / "csrc" / "ops" / "common" / "radius_call.cpp"
        call.write_text(call.read_text().replace("r must be a finite number > 0", "r must be positive (edited)"))
        inst = _editable(tree, "--no-build-isolation")  # the documented way to rebuild
        assert inst.returncode == 0, out(inst)
        proc = subprocess.run([str(TEST_PYTHON), "-c", probe], cwd=tmp_path, capture_output=True, text=True)
        assert "r must be positive (edited)" in proc.stdout, out(proc)
    finally:
        back = pip("install", "--no-deps", "--force-reinstall", str(WHEEL))
        assert back.returncode == 0, out(back)


def test_a_cpu_build_after_a_cuda_build_ships_no_stale_cuda_library(tmp_path):
    nvcc = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "bin" / "nvcc"
    if not nvcc.exists() and not shutil.which("nvcc"):
        pytest.skip("no nvcc here: the CUDA half of this check needs a toolkit")
    tree = copy_worktree(tmp_path / "tree")
    wheels = {}
    for label, env in (("cuda", {"EXT_CPU_ONLY": "0", "EXT_CUDA_ARCHS": "90"}), ("cpu", {"EXT_CPU_ONLY": "1"})):
        # the factory's environment has torch and the build tools
        res = subprocess.run([str(FACTORY_PYTHON), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                              "-w", str(tmp_path / label), str(tree)], env=clean_env(**env),
                             capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, out(res)
        wheels[label] = zipfile.ZipFile(next((tmp_path / label).glob("*.whl")))
    cuda_lib = f"{IMPORT}/lib{IMPORT}_cuda.so"
    assert cuda_lib in wheels["cuda"].namelist()
    assert cuda_lib not in wheels["cpu"].namelist(), wheels["cpu"].namelist()
    record = next(n for n in wheels["cpu"].namelist() if n.endswith(".dist-info/RECORD"))
    assert f"lib{IMPORT}_cuda.so" not in wheels["cpu"].read(record).decode()
    info = json.loads(wheels["cpu"].read(f"{IMPORT}/_build_info.json"))
    assert info["cuda"] is None and info["version"].endswith("+cpu")
