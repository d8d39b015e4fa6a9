"""aarch64 wheels (GH200, GB200, DGX Spark) built on this x86_64 machine, and
their test under qemu-aarch64, with nothing installed into the system.

    ./ci/factory build --arch aarch64 [--cpu]          # the factory calls cross_build_env()
    .venv/bin/python -m addons.aarch64 test WHEEL [--torch 2.10.0] [-- PYTEST ARGS]

Everything lives in build/toolchains/aarch64/, made once:

    gcc/         Debian's cross g++ 12 (.debs unpacked); bin/ wrappers add --sysroot
    torch-<v>/   torch's aarch64 wheel at the factory's pin: headers + libraries to link
    cuda-<v>/    the x86_64 nvcc with targets/sbsa-linux from NVIDIA's aarch64 cudart
                 and CCCL wheels (nvcc compiles device code the same for any host)
    toolchain.cmake
    sysroot/     (the test) Debian arm64's python3.11 and the libraries it needs
    qemu/        Debian's qemu-user-static
    site-<v>/    (the test) torch <v> for aarch64 and the test requirements

Linking stays the glibc_link.py add-on's (zig, for glibc 2.28, aarch64 now):
the wheel is manylinux_2_28_aarch64.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ci import project
from ci.project import FactoryError, Project, log, run

from .debian import Apt, unpack

SUITE = "bookworm"
GCC = ("cpp-12-aarch64-linux-gnu", "gcc-12-aarch64-linux-gnu", "g++-12-aarch64-linux-gnu",
       "binutils-aarch64-linux-gnu", "libgcc-12-dev-arm64-cross", "libstdc++-12-dev-arm64-cross",
       "libc6-dev-arm64-cross", "libc6-arm64-cross", "linux-libc-dev-arm64-cross", "libgcc-s1-arm64-cross",
       "libstdc++6-arm64-cross", "libasan8-arm64-cross", "libatomic1-arm64-cross", "libgomp1-arm64-cross",
       "libitm1-arm64-cross", "liblsan0-arm64-cross", "libtsan2-arm64-cross", "libubsan1-arm64-cross",
       "libhwasan0-arm64-cross")
WRAPPER = """#!/bin/sh
# Written by addons/aarch64.py: Debian's cross {tool} from where it was unpacked.
root="$(dirname "$0")/../root"
LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" \\
    exec "$root/usr/bin/aarch64-linux-gnu-{tool}-12" --sysroot="$root" "$@"
"""
TOOLCHAIN = """# Written by addons/aarch64.py: CMake for aarch64 on this x86_64 machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER {gcc}/bin/aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER {gcc}/bin/aarch64-linux-gnu-g++)
set(CMAKE_CUDA_HOST_COMPILER {gcc}/bin/aarch64-linux-gnu-g++)
"""
AARCH64 = ["--platform", "manylinux_2_28_aarch64", "--platform", "manylinux_2_27_aarch64",
           "--platform", "manylinux_2_17_aarch64", "--platform", "manylinux2014_aarch64",
           "--only-binary=:all:", "--implementation", "cp"]


def home(proj: Project) -> Path:
    return proj.build_dir / "toolchains" / "aarch64"


def once(path: Path, make) -> Path:
    """`path`, made by make(staging dir) unless a marker says it is complete."""
    if (path / ".complete").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}-", dir=path.parent) as tmp:
        make(Path(tmp) / "stage")
        os.replace(Path(tmp) / "stage", path)
    (path / ".complete").write_text("")
    return path


def pip_aarch64(target: Path, *requirements: str, python: str = "3.11", deps: bool = True) -> None:
    run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(target),
         "--python-version", python, *AARCH64, *([] if deps else ["--no-deps"]), *requirements])


def gcc(proj: Project) -> Path:
    def make(stage: Path) -> None:
        log(f"the aarch64 cross g++: Debian {SUITE}'s packages, unpacked (about 60 MB to download, once)")
        apt = Apt(proj, SUITE)
        apt.setup()
        for deb in apt.download(GCC, home(proj) / "debs"):
            unpack(deb, stage / "root")
        (stage / "bin").mkdir()
        for tool in ("gcc", "g++"):
            wrapper = stage / "bin" / f"aarch64-linux-gnu-{tool}"
            wrapper.write_text(WRAPPER.format(tool=tool))
            wrapper.chmod(0o755)
    return once(home(proj) / "gcc", make)


def factory_torch_version() -> str:
    from importlib import metadata

    return metadata.version("torch").split("+")[0]


def torch_dir(proj: Project, version: str) -> Path:
    """torch's aarch64 wheel (its headers and libraries), for linking."""
    def make(stage: Path) -> None:
        log(f"torch {version} for aarch64 (its wheel, about 450 MB, once): headers and libraries")
        with tempfile.TemporaryDirectory() as tmp:
            run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                 "--python-version", "3.11", *AARCH64, "-d", tmp, f"torch=={version}"])
            with zipfile.ZipFile(next(Path(tmp).glob("torch-*.whl"))) as zf:
                zf.extractall(stage, [n for n in zf.namelist()
                                      if n.startswith(("torch/include/", "torch/lib/")) or n == "torch/version.py"])
    return once(home(proj) / f"torch-{version}", make) / "torch"


def cuda(proj: Project, version: str) -> Path:
    """A CUDA toolkit root whose nvcc (x86_64) targets aarch64 hosts."""
    from ci.build import factory_toolkit

    def make(stage: Path) -> None:
        x86 = factory_toolkit(proj, version)
        log(f"CUDA {version} for aarch64 hosts: this machine's nvcc, NVIDIA's aarch64 cudart and CCCL")
        target = stage / "targets" / "sbsa-linux"
        # nvcc's own headers (crt/...) are the same for every host; the
        # aarch64 wheels' headers and libraries go over them.
        shutil.copytree(x86 / "include", target / "include", symlinks=True)
        with tempfile.TemporaryDirectory() as tmp:
            pip_aarch64(Path(tmp), f"nvidia-cuda-runtime=={version}.*", f"nvidia-cuda-cccl=={version}.*", deps=False)
            wheel_root = next(Path(tmp).glob("nvidia/cu*"))
            shutil.copytree(wheel_root / "include", target / "include", symlinks=True, dirs_exist_ok=True)
            shutil.copytree(wheel_root / "lib", target / "lib", symlinks=True)
        shutil.copytree(x86 / "bin", stage / "bin", symlinks=True)
        (stage / "nvvm").symlink_to(x86.resolve() / "nvvm")
        for name in ("include", "lib", "lib64"):
            (stage / name).symlink_to(Path("targets") / "sbsa-linux" / ("include" if name == "include" else "lib"))
        if not (target / "lib" / "libcudart_static.a").exists():
            raise FactoryError("NVIDIA's aarch64 cudart wheel has no libcudart_static.a")
        for versioned in (target / "lib").glob("libcudart.so.*"):
            if not (target / "lib" / "libcudart.so").exists():
                (target / "lib" / "libcudart.so").symlink_to(versioned.name)
    return once(home(proj) / f"cuda-{version}", make)


def cross_build_env(proj: Project, machine: str, cuda_version: str | None) -> dict[str, str]:
    """The factory's hook for `build --arch`: a CMake toolchain for aarch64,
    torch's aarch64 libraries, and for CUDA a toolkit that targets aarch64."""
    if machine != "aarch64":
        raise FactoryError(f"this add-on cross-builds for aarch64, not {machine}")
    compilers = gcc(proj)
    toolchain = home(proj) / "toolchain.cmake"
    toolchain.write_text(TOOLCHAIN.format(gcc=compilers))
    env = {"CMAKE_ARGS": f"{os.environ.get('CMAKE_ARGS', '')} -DCMAKE_TOOLCHAIN_FILE={toolchain}".strip(),
           f"{proj.env_prefix}_TORCH_DIR": str(torch_dir(proj, factory_torch_version())),
           "_PYTHON_HOST_PLATFORM": "linux-aarch64"}
    if cuda_version:
        env["CUDA_HOME"] = str(cuda(proj, cuda_version))
    return env


# ---------------------------------------------------------------------------
# The test under qemu-aarch64
# ---------------------------------------------------------------------------


def qemu(proj: Project) -> Path:
    def make(stage: Path) -> None:
        apt = Apt(proj, SUITE)
        apt.setup()
        for deb in apt.download(("qemu-user-static",), home(proj) / "debs"):
            unpack(deb, stage, ("./usr/bin/qemu-aarch64-static",))
    return once(home(proj) / "qemu", make) / "usr" / "bin" / "qemu-aarch64-static"


def sysroot(proj: Project) -> Path:
    """Debian arm64's python3.11 and what it needs, unpacked."""
    def make(stage: Path) -> None:
        log(f"Debian {SUITE} arm64's python3.11 and its libraries, unpacked (once)")
        apt = Apt(proj, SUITE, "arm64")
        apt.setup()
        for deb in apt.download_closure(("python3.11", "libstdc++6", "libgomp1"), home(proj) / "debs-arm64"):
            unpack(deb, stage)
    return once(home(proj) / "sysroot", make)


def aarch64_requirements(dist_info: Path) -> list[str]:
    """A distribution's requirements that hold on Linux aarch64 (pip would
    judge their markers by this x86_64 machine)."""
    from email.parser import Parser

    from packaging.requirements import Requirement

    env = {"platform_machine": "aarch64", "platform_system": "Linux", "sys_platform": "linux",
           "python_version": "3.11", "extra": ""}
    reqs = [Requirement(r) for r in Parser().parsestr((dist_info / "METADATA").read_text()).get_all("Requires-Dist") or []]
    return [f"{r.name}{r.specifier}" for r in reqs if r.marker is None or r.marker.evaluate(env)]


def site(proj: Project, torch: str) -> Path:
    """torch `torch` for aarch64 and the test requirements (PyPI's aarch64 wheels)."""
    def make(stage: Path) -> None:
        log(f"torch {torch} and the test requirements for aarch64 (PyPI's wheels, once)")
        pip_aarch64(stage, f"torch=={torch}", deps=False)
        pip_aarch64(stage, *aarch64_requirements(next(stage.glob("torch-*.dist-info"))), *proj.test_requires)
    return once(home(proj) / f"site-{torch}", make)


# Tests start Python processes of their own (sys.executable): this machine
# cannot exec an aarch64 program, so they start this script, which does it
# through qemu (no binfmt_misc registration, which would change the system).
PYTHON = """#!/bin/sh
exec {qemu} -L {root} {root}/usr/bin/python3.11 "$@"
"""
SITECUSTOMIZE = "import sys\nsys.executable = sys._base_executable = {python!r}\n"


def test(proj: Project, wheel: Path, torch: str, pytest_args: list[str]) -> int:
    """The product suite against `wheel`, in aarch64's python under qemu."""
    emulator, root, deps = qemu(proj), sysroot(proj), site(proj, torch)
    with tempfile.TemporaryDirectory(prefix="aarch64-test-") as tmp:
        own = Path(tmp) / "site"
        pip_aarch64(own, str(wheel), deps=False)
        python = Path(tmp) / "python3.11"
        python.write_text(PYTHON.format(qemu=emulator, root=root))
        python.chmod(0o755)
        (own / "sitecustomize.py").write_text(SITECUSTOMIZE.format(python=str(python)))
        env = {**os.environ, "PYTHONPATH": f"{own}:{deps}", f"{proj.env_prefix}_REPO": str(proj.root),
               "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [str(python), "-m", "pytest", str(proj.tests_dir), "-p", "no:cacheprovider", "-ra", *pytest_args]
        log(f"under qemu-aarch64 ({wheel.name}, torch {torch}): python {' '.join(cmd[1:])}")
        return subprocess.run(cmd, cwd=tmp, env=env).returncode


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(prog="python -m addons.aarch64", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("test",))
    p.add_argument("wheel", type=Path)
    p.add_argument("--torch", default="2.10.0",
                   help="torch for aarch64 to test with (default 2.10.0: the stable-ABI target, and "
                        "PyPI's last CPU-only aarch64 torch; later ones need NVIDIA's aarch64 wheels)")
    args = p.parse_args(argv)
    try:
        return test(project.load(), args.wheel.resolve(), args.torch, extra)
    except FactoryError as e:
        print(f"[addons] error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
