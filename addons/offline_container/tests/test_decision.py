"""Where the local container path may run: the decision test_container.py
skips by, checked for the places it must not run (GitHub's job containers,
unprivileged containers, non-root) and the one it must (a root Linux host
with apt that can make namespaces, like this machine)."""

from __future__ import annotations

import pytest
from addons.offline_container.decision import container_path_problem

ROOT_HOST = dict(env={"EXT_SYSTEM_TESTS": "1"}, euid=0, platform="linux", which=lambda t: f"/usr/bin/{t}", namespaces=lambda: True)


def decide(**changes):
    return container_path_problem(**{**ROOT_HOST, **changes})


def test_runs_on_a_root_linux_host_with_apt_when_asked():
    assert decide() is None


@pytest.mark.parametrize("changes, words", [
    ({"env": {}}, "opt in with EXT_SYSTEM_TESTS=1"),
    ({"euid": 1000}, "root"),
    ({"platform": "darwin"}, "Linux"),
    ({"env": {"EXT_SYSTEM_TESTS": "1", "GITHUB_ACTIONS": "true"}}, "GitHub Actions"),
    # ci.yml's test job: root in python:3.11-bookworm, where apt-get exists
    ({"env": {"EXT_SYSTEM_TESTS": "1", "GITHUB_ACTIONS": "true"}, "namespaces": lambda: False}, "GitHub Actions"),
    ({"namespaces": lambda: False}, "cannot create mount/PID namespaces"),
    ({"which": lambda t: None}, "no podman and no apt-get"),
])
def test_skips_with_a_reason_where_it_cannot_work(changes, words):
    reason = decide(**changes)
    assert reason and words in reason, reason
