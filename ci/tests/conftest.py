"""The factory's own tests (ci/tests/): they run in the factory's environment
(.venv, from ./ci/factory test), not in the wheel's test venvs and not in
cibuildwheel's container, which run the product suite (tests/) only.
`./ci/factory test` passes the wheel it tested and the venv it installed it
in (EXT_WHEEL, EXT_TEST_PYTHON); the factory itself is this interpreter."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# `ci`, `extconfig` and `tools` import from the repository root, wherever pytest runs.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def pytest_configure(config):
    missing = [k for k in ("EXT_WHEEL", "EXT_TEST_PYTHON") if not os.environ.get(k)]
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: the factory's tests run through `./ci/factory test`, "
            "which passes the wheel it tested and the venv it installed it in")
