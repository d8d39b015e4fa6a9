"""Where the local container path may run: the decision test_container.py
skips by, checked for the places it must not run (GitHub's job containers,
unprivileged containers, non-root) and the one it must (a root Linux host
with apt that can make namespaces, like this machine)."""

from __future__ import annotations

import pytest
from addons.offline_container.decision import container_path_problem

ROOT_HOST = dict(env={}, euid=0, platform="linux", which=lambda t: f"/usr/bin/{t}", namespaces=lambda: True)


def decide(**changes):
    return container_path_problem(**{**ROOT_HOST, **changes})


def test_runs_on_a_root_linux_host_with_apt():
    assert decide() is None


@pytest.mark.parametrize("changes, words", [
    ({"env": {"EXT_CONTAINER_TESTS": "0"}}, "switched off"),
    ({"euid": 1000}, "root"),
    ({"platform": "darwin"}, "Linux"),
    ({"env": {"GITHUB_ACTIONS": "true"}}, "GitHub Actions"),
    # ci.yml's test job: root in python:3.11-bookworm, where apt-get exists
    ({"env": {"GITHUB_ACTIONS": "true"}, "namespaces": lambda: False}, "GitHub Actions"),
    ({"namespaces": lambda: False}, "cannot create mount/PID namespaces"),
    ({"which": lambda t: None}, "no podman and no apt-get"),
])
def test_skips_with_a_reason_where_it_cannot_work(changes, words):
    reason = decide(**changes)
    assert reason and words in reason, reason
