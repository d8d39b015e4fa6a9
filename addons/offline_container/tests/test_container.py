"""The container path for real, on a machine with no Docker daemon and no
reachable registry (addons/offline_container does the work):

1. rootful podman from the distribution, with a containers.conf written from
   this machine's limits (read at run time);
2. a Debian base image from debootstrap (podman import: no registry), a
   manylinux stand-in on it (its Containerfile), and docker/Dockerfile
   built FROM that through its BASE build argument - the same recipe that uses
   the real manylinux_2_28 base on GitHub - so the CUDA toolkit and cuDNN are
   installed from NVIDIA's pip wheels for real;
3. `cibuildwheel --platform linux` with podman against that image: nvcc builds
   the CUDA wheel, the factory's repair (derived excludes) repairs it, and
   the test suite runs against the installed wheel inside the container;
4. the factory's verify on the result.

What differs from GitHub: the stand-in has only Debian 12's CPython 3.11, so
the identifier built and tested is cp311-manylinux_x86_64 (GitHub: cp310,
tested on cp310-cp314); the wheel is cp310-abi3 either way (setup.py sets the
tag). Its platform tag is what Debian 12's glibc 2.36 and gcc 12's libstdc++
allow, manylinux_2_34, not the manylinux_2_28 the real image gives. torch
comes from this machine's local package directories through the /host mount
(pip's settings are rewritten by the tool).

Measured on the 2-core CI machine kind (wall times, 2026-11-26): from
nothing - podman not installed, no images - 281 s (apt 10 s; debootstrap,
import and the two image builds 90 s; cibuildwheel 181 s); with the images
cached (a re-run) 205 s. cibuildwheel's share: before-build ~23 s (torch's own
wheel from local disk), nvcc building all seven architectures ~68 s, repair
~1 s, test step ~95 s (torch with its CUDA dependencies into the test venv,
then the suite, ~35 s). It changes the machine (apt, /etc, images), so it runs
only when asked: `./ci/factory test --system` (EXT_SYSTEM_TESTS=1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import extconfig
from addons.offline_container.decision import can_make_namespaces, container_path_problem

pytestmark = [pytest.mark.slow, pytest.mark.container]

REPO = Path(__file__).resolve().parents[3]
CONFIG = extconfig.load(REPO)
NAME, IMPORT = CONFIG.name, CONFIG.import_name
FACTORY_PYTHON = Path(sys.executable)  # the factory's: ./ci/factory test runs this suite with it
_problem = container_path_problem(dict(os.environ), os.geteuid(), sys.platform, shutil.which,
                                  can_make_namespaces)
if _problem:
    pytest.skip(_problem, allow_module_level=True)

TIMEOUT = 40 * 60


def tail(proc: subprocess.CompletedProcess, lines: int = 80) -> str:
    text = (proc.stdout or "") + (proc.stderr or "")
    return f"exit {proc.returncode}\n" + "\n".join(text.splitlines()[-lines:])


def factory(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(FACTORY_PYTHON), "-m", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def dockerfile_default(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", (REPO / "docker" / "Dockerfile").read_text(), re.M)
    assert match
    return match[1]


@pytest.fixture(scope="module")
def container_run(tmp_path_factory) -> dict:
    """The tool's `all`: set-up, images, cibuildwheel; once for the module."""
    out = tmp_path_factory.mktemp("container")
    timings = out / "timings.json"
    start = time.monotonic()
    proc = factory("addons.offline_container", "all", "-o", str(out / "wheelhouse"), "--timings", str(timings),
                   timeout=TIMEOUT)
    total = time.monotonic() - start
    assert proc.returncode == 0, tail(proc)
    steps = json.loads(timings.read_text())
    print(f"container path: {total:.0f} s in all; " + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items()))
    return {"proc": proc, "log": proc.stdout + proc.stderr, "wheels": sorted((out / "wheelhouse").glob("*.whl")),
            "seconds": total, "steps": steps}


def test_the_cuda_image_records_its_versions(container_run):
    image = f"localhost/{IMPORT}-local-manylinux-cuda:{dockerfile_default('CUDA_VERSION')}"
    inspect = subprocess.run(["podman", "image", "inspect", "--format",
                              "{{json .Config.Labels}}\n{{json .Config.Env}}\n{{.Size}}", image],
                             capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    labels, env, size = inspect.stdout.strip().splitlines()
    labels, env = json.loads(labels), json.loads(env)
    assert labels["io.ext.cuda.version"] == dockerfile_default("CUDA_VERSION")
    assert "CUDA_HOME=/usr/local/cuda" in env
    assert any(e.startswith("PATH=/usr/local/cuda/bin:") for e in env)
    print(f"{image}: {int(size) / 1e6:.0f} MB")


def test_cibuildwheel_builds_repairs_and_tests_the_cuda_wheel_in_podman(container_run):
    log, wheels = container_run["log"], container_run["wheels"]
    assert len(wheels) == 1, [w.name for w in wheels]
    wheel = wheels[0]
    # cp310-abi3 whatever interpreter built it; manylinux_2_28 although the
    # stand-in's base is Debian 12 (glibc 2.36): linked like the host build.
    glibc = CONFIG.manylinux_glibc.replace(".", "_")
    assert re.fullmatch(re.escape(CONFIG.wheel_name) + rf"-[\d.]+\+cu\d+-cp310-abi3-manylinux_{glibc}_x86_64\.whl",
                        wheel.name), wheel.name
    # nvcc of the image (CUDA_HOME from its ENV) built the CUDA library
    assert re.search(rf"\[{re.escape(NAME)} build\] CUDA \d+\.\d+ from \$CUDA_HOME \(/usr/local/cuda\)", log), log[-4000:]
    # the factory's repair ran in the container, with derived excludes
    assert re.search(r"leaving to torch at run time: .*libtorch_cpu\.so \(torch\)", log), log[-4000:]
    # the suite ran against the installed wheel inside the container
    assert re.search(r"=+ \d+ passed.* in [\d.]+s", log), log[-4000:]
    assert not re.search(r"=+ .*\d+ failed", log), log[-4000:]


def test_the_factory_verifies_the_container_wheel(container_run):
    wheel = container_run["wheels"][0]
    proc = factory("ci", "verify", "--wheel", str(wheel))
    assert proc.returncode == 0, tail(proc)
    assert "1/1 wheel(s) pass" in proc.stdout, tail(proc)
