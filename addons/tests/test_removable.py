"""The add-ons are optional: a copy of the working tree without addons/
builds its CPU wheel with the template's default host path (the system
linker: the tag this machine's glibc allows) and passes the product suite."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import metadata

import pytest
from helpers import REPO, clean_env, copy_worktree, out

pytestmark = pytest.mark.slow


def test_the_tree_without_addons_builds_and_passes_its_suite(tmp_path):
    tree = copy_worktree(tmp_path / "tree")
    shutil.rmtree(tree / "addons")
    (tree / ".venv").symlink_to(REPO / ".venv")  # the same environment, not a second one
    (tree / "build").mkdir()
    (tree / "build" / "venvs").symlink_to(REPO / "build" / "venvs", target_is_directory=True)
    torch = metadata.version("torch").split("+")[0]
    res = subprocess.run(["bash", "-c", "./ci/factory build --cpu repair verify && ./ci/factory test "
                          f"--suites product --torch {torch} -- -m 'not slow'"], cwd=tree, env=clean_env(),
                         capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, out(res)
    assert "[addons]" not in res.stdout and "zig" not in res.stdout, out(res)  # no add-on took part
    assert re.search(r"PASS .*torch .*: \d+ passed", res.stdout), out(res)
    assert list((tree / "wheelhouse").glob("*+cpu-cp310-abi3-manylinux_*_x86_64.whl")), out(res)
