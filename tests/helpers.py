"""Small helpers shared by several product test modules (the factory's tests
have theirs in ci/tests/helpers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


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
