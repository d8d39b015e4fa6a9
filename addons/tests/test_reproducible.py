"""The zig link (glibc_link.py) keeps builds reproducible: the working tree
built in two places at one SOURCE_DATE_EPOCH gives the same bytes. (The
factory's own reproducibility test runs without add-ons, in the project
test_template.py generates.)"""

from __future__ import annotations

import hashlib

import pytest
from helpers import clean_env, copy_worktree, factory, out

pytestmark = pytest.mark.slow


def test_two_zig_linked_cpu_builds_are_byte_identical(tmp_path):
    digests = set()
    for name in ("first", "second-build"):  # different paths, different lengths
        tree = copy_worktree(tmp_path / name)
        res = factory("-C", str(tree), "build", "--backend", "host", "--cpu",
                      env=clean_env(SOURCE_DATE_EPOCH="1700000000"), timeout=900)
        assert res.returncode == 0 and "[addons] linking for glibc" in res.stdout, out(res)
        built = list((tree / "dist").glob("*+cpu-*.whl"))
        assert len(built) == 1, built
        digests.add(hashlib.sha256(built[0].read_bytes()).hexdigest())
    assert len(digests) == 1, digests
