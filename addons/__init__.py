"""This machine's workarounds, as optional add-ons to the factory (README.md).

The factory (ci/) looks for this package and calls the hooks below; without
it, it takes its default paths: cibuildwheel in docker/'s image where a
container engine works, else a plain build with the host's toolchain.
Deleting this folder breaks nothing else (addons/tests/test_removable.py).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def host_build_env(proj, env: dict[str, str]) -> dict[str, str]:
    """Extra environment for a build on the host: link both libraries with
    zig against [tool.ext] manylinux-glibc's symbol versions (glibc_link.py),
    so that this machine (glibc 2.36, no Docker) makes manylinux_2_28 wheels.
    EXT_LINK_GLIBC=system turns it off; EXT_LINK_GLIBC=2.31 picks another."""
    glibc = os.environ.get(f"{proj.env_prefix}_LINK_GLIBC", proj.manylinux_glibc)
    if glibc in ("", "0", "system"):
        print(f"[addons] {proj.env_prefix}_LINK_GLIBC={glibc}: linking with the system linker", flush=True)
        return {}
    ensure_zig()
    print(f"[addons] linking for glibc {glibc} with zig ({proj.env_prefix}_LINK_GLIBC=system: "
          "the system linker)", flush=True)
    launcher = ";".join([sys.executable, str(HERE / "glibc_link.py"), glibc])
    args = env.get("CMAKE_ARGS", os.environ.get("CMAKE_ARGS", ""))
    return {"CMAKE_ARGS": f"{args} -DCMAKE_CXX_LINKER_LAUNCHER={launcher}".strip()}


def ensure_zig() -> None:
    """PyPI's ziglang in the factory's environment (addons/requirements.txt)."""
    if importlib.util.find_spec("ziglang") is None:
        print("[addons] installing zig (addons/requirements.txt) into the factory's environment",
              flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(HERE / "requirements.txt")], check=True)


def cuda_toolkit(proj, version: str) -> Path | None:
    """A CUDA `version` toolkit PyPI has no nvcc for (CUDA 12): Debian's,
    unpacked under build/toolchains/ (debcuda.py); None for the others."""
    if int(version.split(".")[0]) >= 13:
        return None
    from .debcuda import debian_toolkit

    return debian_toolkit(proj, version)


def cross_build_env(proj, machine: str, cuda: str | None) -> dict[str, str]:
    """Environment for a build for another machine (`build --arch aarch64`):
    the cross toolchain of aarch64.py."""
    from .aarch64 import cross_build_env as aarch64_env

    return aarch64_env(proj, machine, cuda)
