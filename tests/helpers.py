"""Small helpers shared by several test modules."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


# Set by `./ci/factory test`: the repository (for tests that build or run the
# factory) and the factory's interpreter (else <repo>/.venv).
REPO = Path(os.environ["EXT_REPO"]) if os.environ.get("EXT_REPO") else None
FACTORY_PYTHON = (Path(os.environ["EXT_FACTORY_PYTHON"]) if os.environ.get("EXT_FACTORY_PYTHON")
                  else REPO / ".venv" / "bin" / "python" if REPO else None)


def skip_module_without_factory(also_needs: str = "") -> None:
    """Skip the calling test module unless run by `./ci/factory test`."""
    import pytest

    if REPO is None or not FACTORY_PYTHON.exists() or (also_needs and not os.environ.get(also_needs)):
        needs = f"EXT_REPO{' / ' + also_needs if also_needs else ''}"
        pytest.skip(f"{needs} not set, or no factory interpreter: these tests are run by "
                    "`./ci/factory test`", allow_module_level=True)


def run_python(code: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (the one running the tests).

    The child starts in `cwd` (a temporary directory), so nothing from the
    repository checkout can shadow the installed package; it inherits the
    environment, so it imports the same package as this process (which conftest
    checked is not the source tree). Raises subprocess.TimeoutExpired on a hang.
    """
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "ignore"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def describe(proc: subprocess.CompletedProcess) -> str:
    return f"exit code {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
