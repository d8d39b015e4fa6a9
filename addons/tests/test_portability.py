"""The wheel on a user's old Linux: its libraries load, after torch's, under
glibc 2.31's loader (Debian bullseye, older than the 2.34 that GCC 12's
toolchain and the static CUDA runtime pull in), and the same check fails on
a wheel linked the old way (the system linker, EXT_LINK_GLIBC=system).

Run by `./ci/factory test` on the wheel it tested (EXT_WHEEL). The glibc tree is
bullseye's libc, unpacked into the repository's build/ (addons/oldglibc.py,
once, seconds); where it cannot be made (no apt-get) the module skips and
says why.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import FACTORY_PYTHON, IMPORT, REPO, WHEEL, out

pytestmark = pytest.mark.slow
CANNOT = 3  # addons/oldglibc.py's exit status for "cannot be set up here"


def torch_dir() -> Path:
    """The factory's torch: the pinned one, which the test venv has too."""
    return Path(importlib.util.find_spec("torch").origin).parent


def oldglibc(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(FACTORY_PYTHON), "-m", "addons.oldglibc", *args], cwd=REPO,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def tree() -> Path:
    res = oldglibc("root", timeout=900)
    if res.returncode == CANNOT:
        pytest.skip(res.stderr.strip())
    assert res.returncode == 0, out(res)
    return Path(res.stdout.strip().splitlines()[-1])


def test_the_wheel_loads_under_glibc_2_31(tree):
    res = oldglibc("check", str(WHEEL), "--torch", str(torch_dir()))
    assert res.returncode == 0, out(res)
    glibc = re.search(r"^glibc (\d+)\.(\d+)", res.stdout, re.M)
    assert glibc and (int(glibc[1]), int(glibc[2])) <= (2, 31), out(res)  # really the old one
    loaded = re.findall(r"^loaded (\S+)", res.stdout, re.M)
    own = [Path(p).name for p in loaded if Path(p).name.startswith(f"lib{IMPORT}_")]
    expected = [f"lib{IMPORT}_cpu.so"] + ([f"lib{IMPORT}_cuda.so"] if "+cu" in WHEEL.name else [])
    assert own == expected, out(res)
    # after torch's own libraries, as importing the package does
    assert Path(loaded[0]).name == "libc10.so", out(res)


@pytest.fixture(scope="module")
def system_linked_wheel(tmp_path_factory) -> Path:
    """A CPU wheel of this tree built the old way: EXT_LINK_GLIBC=system."""
    clone = tmp_path_factory.mktemp("system-linked") / "tree"
    subprocess.run(["git", "clone", "-q", "--no-local", str(REPO), str(clone)], check=True)
    res = subprocess.run([str(FACTORY_PYTHON), "-m", "ci", "-C", str(clone), "build", "--backend",
                          "host", "--cpu"], cwd=REPO, env={**os.environ, "EXT_LINK_GLIBC": "system"},
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, out(res)
    assert "linking with the system linker" in res.stdout, out(res)
    built = list((clone / "dist").glob("*.whl"))
    assert len(built) == 1, built
    return built[0]


def test_the_check_fails_on_a_system_linked_wheel(tree, system_linked_wheel):
    res = oldglibc("check", str(system_linked_wheel), "--torch", str(torch_dir()))
    assert res.returncode == 1, out(res)
    # the loader's own words, naming a glibc newer than the tree's
    missing = re.search(rf"FAILED \S*lib{re.escape(IMPORT)}_cpu\.so: .*version `GLIBC_2\.(\d+)' not found", res.stdout)
    assert missing and int(missing[1]) > 31, out(res)
