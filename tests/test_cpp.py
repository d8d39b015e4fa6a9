"""The C++ deployment path: the example in examples/cpp, built against the
installed torch and extension wheels with CMake, runs a TorchScript module and an
AOTInductor package that call the extension's ops, with no Python in the process, and
matches eager Python exactly. Runs on CPU here (CUDA: bench/device_check.sh).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(os.environ["EXT_REPO"]) if os.environ.get("EXT_REPO") else None
if REPO is None or not (REPO / "examples" / "cpp" / "check.py").exists():
    pytest.skip("EXT_REPO not set: the C++ example is built by `./ci/factory test`",
                allow_module_level=True)


def build_tools_on_path() -> dict[str, str]:
    """cmake and ninja: the factory venv's (PyPI, >= 3.26) before the system's."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(REPO / ".venv" / "bin"), env.get("PATH", "")])
    return env


def test_cpp_example_matches_eager_python(tmp_path, monkeypatch):
    env = build_tools_on_path()
    if not shutil.which("cmake", path=env["PATH"]) or not shutil.which("c++", path=env["PATH"]):
        pytest.skip("no cmake or C++ compiler on this machine")
    monkeypatch.setenv("PATH", env["PATH"])
    spec = importlib.util.spec_from_file_location("cpp_check", REPO / "examples" / "cpp" / "check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    result = check.check(tmp_path, "cpu")
    assert result["edges"] > 0
    assert result["torchscript_equal"], result["stdout"]
    assert result["aoti_equal"], result["stdout"]
    assert not result["libpython_mapped"], result["stdout"]
    assert "torchscript: edges" in result["stdout"] and "aoti: edges" in result["stdout"]
    assert sys.executable  # the models were made by this interpreter, the C++ program ran alone
