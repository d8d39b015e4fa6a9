"""A CUDA 12 toolkit without installing anything into this system: Debian's
non-free `nvidia-cuda-toolkit` (PyPI has no CUDA 12 nvcc: its
nvidia-cuda-nvcc-cu12 wheels hold only ptxas/libnvvm, and
nvidia-cuda-runtime-cu12 no libcudart_static.a).

The .debs come from a newer Debian suite than this machine's, so they are
never installed (that would pull in a newer libc): apt runs with its own
state and sources under build/toolchains/apt-<suite>/ (this machine's Debian
mirror, the suite's non-free component), `apt-get download` fetches the
packages into build/toolchains/debs/, and their files are unpacked and laid
out as an NVIDIA-style toolkit in build/toolchains/cuda-<version>/:

    bin/       nvcc ptxas fatbinary nvlink cudafe++ bin2c crt/ + nvcc.profile
    nvvm/      bin/cicc libdevice/ lib64/libnvvm.so*
    targets/<arch>-linux/{include,lib}   headers (CUDA, CCCL), cudart (static)
    include -> targets/.../include, lib64 -> targets/.../lib

Debian's own layout is spread over /usr/bin, /usr/lib/nvidia-cuda-toolkit
and /usr/include with an /etc/nvcc.profile of absolute paths; the profile
written here is relative to nvcc ($(_HERE_)), like NVIDIA's.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

from ci.project import FactoryError, Project, log, run

from .debian import Apt, unpack

# CUDA major.minor -> (Debian suite, toolkit package version prefix).
SUITES = {"12.4": "trixie"}
PACKAGES = ("nvidia-cuda-toolkit", "nvidia-cuda-dev", "libnvvm4", "libcudart12",
            "libcu++-dev", "libcub-dev", "libthrust-dev")
ARCHS = {"x86_64": ("amd64", "x86_64-linux-gnu", "x86_64-linux"),
         "aarch64": ("arm64", "aarch64-linux-gnu", "sbsa-linux")}
# Only these parts of nvidia-cuda-dev (934 MB, mostly static math libraries).
DEV_PARTS = ("./usr/include/*", "./usr/lib/{triplet}/libcudart*", "./usr/lib/{triplet}/libcudadevrt.a",
             "./usr/lib/{triplet}/libculibos.a")
PROFILE = """\
# Written by addons/debcuda.py: NVIDIA's layout, relative to this directory.
TOP                = $(_HERE_)/..
NVVMIR_LIBRARY_DIR = $(TOP)/nvvm/libdevice
LD_LIBRARY_PATH   += $(TOP)/lib:
PATH              += $(TOP)/nvvm/bin:$(_HERE_):
INCLUDES          +=  "-I$(TOP)/$(_TARGET_DIR_)/include" $(_SPACE_)
LIBRARIES          =+ $(_SPACE_) "-L$(TOP)/$(_TARGET_DIR_)/lib$(_TARGET_SIZE_)/stubs" "-L$(TOP)/$(_TARGET_DIR_)/lib$(_TARGET_SIZE_)"
CUDAFE_FLAGS      +=
PTXAS_FLAGS       +=
"""


def arch() -> tuple[str, str, str]:
    machine = platform.machine()
    if machine not in ARCHS:
        raise FactoryError(f"no Debian CUDA toolkit layout known for {machine}")
    return ARCHS[machine]


def move_tree(src: Path, dst: Path) -> None:
    """Move the contents of src into dst (merging directories)."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        target = dst / item.name
        if item.is_dir() and not item.is_symlink() and target.is_dir():
            move_tree(item, target)
        else:
            if target.exists() or target.is_symlink():
                target.unlink() if not target.is_dir() else shutil.rmtree(target)
            shutil.move(str(item), str(target))


def layout(stage: Path, root: Path) -> None:
    """Debian's paths (stage/usr/...) -> NVIDIA's layout in root."""
    _, triplet, target = arch()
    usr = stage / "usr"
    tk = usr / "lib" / "nvidia-cuda-toolkit"
    (root / "bin").mkdir(parents=True)
    (root / "nvvm" / "bin").mkdir(parents=True)
    (root / "nvvm" / "lib64").mkdir(parents=True)
    # The real nvcc (Debian's /usr/bin/nvcc is a wrapper script) and its tools.
    shutil.move(str(tk / "bin" / "nvcc"), root / "bin" / "nvcc")
    shutil.move(str(tk / "bin" / "crt"), root / "bin" / "crt")
    for tool in ("ptxas", "fatbinary", "nvlink", "cudafe++", "bin2c", "nvprune", "cuobjdump",
                 "nvdisasm", "cu++filt"):
        if (usr / "bin" / tool).exists():
            shutil.move(str(usr / "bin" / tool), root / "bin" / tool)
    (root / "bin" / "nvcc.profile").write_text(PROFILE)
    shutil.move(str(tk / "bin" / "cicc"), root / "nvvm" / "bin" / "cicc")
    shutil.move(str(tk / "libdevice"), root / "nvvm" / "libdevice")
    for lib in (usr / "lib" / triplet).glob("libnvvm.so*"):
        shutil.move(str(lib), root / "nvvm" / "lib64" / lib.name)
    # Headers (CUDA + CCCL) and the runtime libraries.
    inc, lib = root / "targets" / target / "include", root / "targets" / target / "lib"
    move_tree(usr / "include", inc)
    lib.mkdir(parents=True)
    for pattern in ("libcudart*", "libcudadevrt.a", "libculibos.a"):
        for f in (usr / "lib" / triplet).glob(pattern):
            shutil.move(str(f), lib / f.name)
    (root / "include").symlink_to(inc.relative_to(root))
    (root / "lib64").symlink_to(lib.relative_to(root))
    (root / "lib").symlink_to(lib.relative_to(root))
    for needed in (root / "bin" / "nvcc", root / "nvvm" / "bin" / "cicc", inc / "cuda_runtime.h",
                   inc / "nv" / "target", lib / "libcudart_static.a", lib / "libcudadevrt.a"):
        if not needed.exists():
            raise FactoryError(f"the Debian packages gave no {needed.relative_to(root)}: their layout "
                               "changed; see addons/debcuda.py's layout()")


def debian_toolkit(proj: Project, version: str) -> Path:
    """build/toolchains/cuda-<version>: the toolkit root for CUDA_HOME."""
    if version not in SUITES:
        raise FactoryError(f"no Debian source known for CUDA {version} (known: "
                           f"{', '.join(SUITES)}): install a CUDA {version} toolkit and set CUDA_HOME")
    root = proj.build_dir / "toolchains" / f"cuda-{version}"
    marker = root / ".complete"
    if marker.exists():
        return root
    suite = SUITES[version]
    log(f"CUDA {version}: Debian {suite}'s nvidia-cuda-toolkit, unpacked into {root} "
        "(about 1 GB to download once; nothing is installed into this system)")
    apt = Apt(proj, suite)
    apt.setup()
    toolkit_version = apt.version("nvidia-cuda-toolkit")
    if not toolkit_version.startswith(version + "."):
        raise FactoryError(f"Debian {suite} has nvidia-cuda-toolkit {toolkit_version}, not CUDA "
                           f"{version}: update SUITES in addons/debcuda.py")
    debs = apt.download(PACKAGES, proj.build_dir / "toolchains" / "debs")
    if root.exists():
        shutil.rmtree(root)  # an interrupted earlier attempt
    _, triplet, _ = arch()
    with tempfile.TemporaryDirectory(prefix=f".cuda-{version}-", dir=root.parent) as tmp:
        stage = Path(tmp) / "stage"
        for deb in debs:
            parts = tuple(p.format(triplet=triplet) for p in DEV_PARTS) if deb.name.startswith(
                "nvidia-cuda-dev_") else ()
            unpack(deb, stage, parts)
        layout(stage, Path(tmp) / "root")
        os.replace(Path(tmp) / "root", root)
    res = run([str(root / "bin" / "nvcc"), "--version"], capture=True, stream=False)
    if f"release {version}" not in res.output:
        raise FactoryError(f"{root}/bin/nvcc is not CUDA {version}:\n{res.output}")
    marker.write_text("".join(f"{d.name}\n" for d in debs))
    log(f"CUDA {version} toolkit ready in {root}")
    return root
