"""Shared test setup.

* The suite must exercise the INSTALLED package (the wheel), never the source
  tree under pkg/: the check below stops the run with a clear message if
  the package (names.py finds it by the names in pyproject.toml) resolves to pkg/.
* ``device``: every kernel test runs on "cpu", and on "cuda" where a GPU and
  the package's CUDA kernels are present (skipped with a reason otherwise).
* Hypothesis profiles: "ci" (default, small: the whole suite stays well under
  3 minutes on a 2-core CPU machine) and "gpu" (many more examples) chosen
  with the environment variable HYPOTHESIS_PROFILE=gpu.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from names import IMPORT, NAME, ext

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_TREE = REPO_ROOT / "pkg"
# Nothing is imported from the checkout's root (names.py reads extconfig.py by
# path): off sys.path (`python -m pytest` puts it first), a stray
# <name>.egg-info there cannot pose as the installed package's metadata.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO_ROOT]

NO_CUDA_REASON = "no CUDA GPU on this machine: CUDA kernels are tested on the GPU machine"

_common = dict(
    deadline=None,
    print_blob=True,
    # `device` is a parametrised constant, safe to share between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("ci", max_examples=200, **_common)
settings.register_profile("gpu", max_examples=500, **_common)
settings.register_profile("dev", max_examples=20, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _is_editable_install() -> bool:
    """pip install -e . of this tree: then the source tree IS the package."""
    try:
        direct = metadata.distribution(NAME).read_text("direct_url.json") or "{}"
    except metadata.PackageNotFoundError:
        return False
    return bool(json.loads(direct).get("dir_info", {}).get("editable"))


def _installed_location_problem() -> str | None:
    here = Path(ext.__file__).resolve()
    if here.is_relative_to(SOURCE_TREE.resolve()) and not _is_editable_install():
        return (
            f"{IMPORT} was imported from the source tree ({here}), not from the installed "
            f"wheel. The tests must run against the installed package: build and install "
            f"the wheel (pip install --force-reinstall --no-deps dist/{NAME}-*.whl), or an "
            f"editable install (pip install -e .), and do not put {SOURCE_TREE} on "
            f"sys.path / PYTHONPATH."
        )
    return None


def pytest_configure(config):
    problem = _installed_location_problem()
    if problem:
        raise pytest.UsageError(problem)
    # TorchScript is deprecated in torch (a FutureWarning in 2.14, a
    # DeprecationWarning in 2.11), but scripted models are a supported use.
    config.addinivalue_line("filterwarnings", "ignore:`torch\\.jit\\..*` is deprecated")


def cuda_usable() -> bool:
    return torch.cuda.is_available() and bool(ext.cuda_enabled)


@pytest.fixture(scope="session", params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request) -> torch.device:
    if request.param == "cuda" and not cuda_usable():
        pytest.skip(NO_CUDA_REASON)
    return torch.device(request.param)


@pytest.fixture(scope="session")
def cuda_device() -> torch.device:
    """For tests that need a GPU in addition to the CPU (e.g. device mismatch)."""
    if not cuda_usable():
        pytest.skip(NO_CUDA_REASON)
    return torch.device("cuda")
