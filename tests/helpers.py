"""Small helpers shared by several test modules."""

from __future__ import annotations

import os
import shutil
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


# --------------------------------------------------------------------------
# For the modules that run the factory (test_factory.py, test_template.py)
# --------------------------------------------------------------------------

# pip without the machine's pip.conf and PIP_* variables (extra indexes,
# find-links): a closed index really is closed.
CLOSED_PIP = {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
              "PIP_NO_CACHE_DIR": "1", "PIP_NO_INPUT": "1"}

SMALL_GRAPH = """
import torch, {name}
x = torch.tensor([[0.0, 0.0], [0.5, 0.0], [3.0, 0.0]])
edges = {name}.radius_graph(x, 1.0)
assert edges.tolist() == [[1, 0], [0, 1]], edges
assert hasattr(torch.ops.{name}, "radius_graph")
print("ok", {name}.__file__)
"""


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
    return subprocess.run([sys.executable, "-m", "pip", *args], env=clean_env(closed_pip=True),
                          capture_output=True, text=True, timeout=timeout)


def need_git_checkout() -> None:
    import pytest

    if subprocess.run(["git", "rev-parse", "--git-dir"], cwd=REPO, capture_output=True).returncode:
        pytest.skip(f"{REPO} is not a git checkout")


def copy_worktree(dst: Path) -> Path:
    """The working tree as it is (tracked + untracked, not ignored files)."""
    need_git_checkout()
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst




def can_make_namespaces() -> bool:
    """What rootful podman needs of its host: new mount and PID namespaces
    (an unprivileged container, such as a GitHub job's, refuses them)."""
    try:
        return subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def container_path_problem(env: dict, euid: int, platform: str, which, namespaces) -> str | None:
    """Why the local container path (rootful podman + cibuildwheel, set up by
    ci/container.py with apt-get) cannot run here, or None if it can.
    `namespaces()` says whether this host lets root create namespaces."""
    if env.get("EXT_CONTAINER_TESTS", "1") == "0":
        return "EXT_CONTAINER_TESTS=0: the podman + cibuildwheel run is switched off"
    if not platform.startswith("linux") or euid != 0:
        return "needs Linux and root (rootful podman; apt-get installs it)"
    if env.get("GITHUB_ACTIONS") == "true":
        return ("on GitHub Actions: wheels.yml builds in real containers there, and a job "
                "container gives podman no privileges")
    if not which("podman") and not which("apt-get"):
        return "no podman and no apt-get to install it"
    if not namespaces():
        return ("root here cannot create mount/PID namespaces (an unprivileged container?): "
                "podman cannot run containers")
    return None
