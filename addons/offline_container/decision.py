"""Where the offline container path may run at all: tests/test_container.py
skips by this decision, tests/test_decision.py checks it."""

from __future__ import annotations

import subprocess


def can_make_namespaces() -> bool:
    """What rootful podman needs of its host: new mount and PID namespaces
    (an unprivileged container, such as a GitHub job's, refuses them)."""
    try:
        return subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def container_path_problem(env: dict, euid: int, platform: str, which, namespaces) -> str | None:
    """Why the offline container path (rootful podman + cibuildwheel, set up
    with apt-get) cannot run here, or None if it can. `namespaces()` says
    whether this host lets root create namespaces."""
    if env.get("EXT_SYSTEM_TESTS") != "1":
        return ("it changes this machine (apt-get installs podman, it writes "
                "/etc/containers/containers.conf and keeps ~2 GB of podman images): opt in with "
                "EXT_SYSTEM_TESTS=1 (./ci/factory test --system)")
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
