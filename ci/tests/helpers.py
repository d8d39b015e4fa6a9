"""What the factory's tests share: the repository, the factory's interpreter
(the one running them), the wheel `./ci/factory test` tested and the venv it
installed it in, and ways to run the factory and pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import extconfig
from ci import project

REPO = Path(__file__).resolve().parents[2]
CONFIG = extconfig.load(REPO)
NAME, IMPORT, NS = CONFIG.name, CONFIG.import_name, CONFIG.ops_namespace
FACTORY_PYTHON = Path(sys.executable)
# Set by ./ci/factory test (conftest.py insists).
WHEEL = Path(os.environ.get("EXT_WHEEL", "."))
TEST_PYTHON = Path(os.environ.get("EXT_TEST_PYTHON", "."))

# pip without the machine's pip.conf and PIP_* variables (extra indexes,
# find-links): a closed index really is closed.
CLOSED_PIP = {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
              "PIP_NO_CACHE_DIR": "1", "PIP_NO_INPUT": "1"}

# Imports the installed package and finds each op of its API registered with
# torch (any project made from the template: no op of ours is named).
SMOKE = """
import torch, {name}
registered = getattr(torch.ops, {name}.build_info["ops_namespace"])
assert {name}.ops.__all__ and all(hasattr(registered, op) for op in {name}.ops.__all__)
print("ok", {name}.__file__)
"""


def wheel_version() -> str:
    return WHEEL.name.split("-")[1]


def clean_env(*, closed_pip: bool = False, **extra: str) -> dict[str, str]:
    drop = ("TWINE_", "PIP_") if closed_pip else ("TWINE_",)
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(CLOSED_PIP if closed_pip else {})
    env.update(extra)
    return env


def factory(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(FACTORY_PYTHON), "-m", "ci", *args], cwd=REPO, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def out(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def pip(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """pip of the test venv (the one holding the wheel), index settings closed."""
    return subprocess.run([str(TEST_PYTHON), "-m", "pip", *args], env=clean_env(closed_pip=True),
                          capture_output=True, text=True, timeout=timeout)


def is_template() -> bool:
    """This repository holds the project template (copier.yml), not only a
    project made from it."""
    return (REPO / "copier.yml").is_file()


def need_git_checkout() -> None:
    import pytest

    if subprocess.run(["git", "rev-parse", "--git-dir"], cwd=REPO, capture_output=True).returncode:
        pytest.skip(f"{REPO} is not a git checkout")


def copy_worktree(dst: Path) -> Path:
    """The working tree as it is (tracked + untracked, not ignored files)."""
    need_git_checkout()
    return project.copy_worktree(project.load(REPO), dst)
