"""Load the ops libraries into torch, turning each way that can fail into one
message that names the cause and the fix.

No CUDA context is created here (that would break fork-based workers):
GPU arch coverage is checked only if CUDA is already initialised, by
`python -m <pkg> info`, and by the CUDA kernels themselves.
"""

from __future__ import annotations

import ctypes
import functools
import re
import warnings
from importlib import metadata, resources
from typing import Callable

import torch


class CudaUnavailableWarning(UserWarning):
    """The CUDA kernels could not be enabled; the CPU kernels still work."""


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+")[0])[:2])


def library_path(info: dict, backend: str):
    return resources.files(__package__).joinpath(f"lib{info['import_name']}_{backend}.so")


def _in_range(version: str, spec: str) -> bool:
    """Whether `version` (1.2.3) meets a range like ">=13.0,<14" (the form
    setup.py records for CUDA libraries)."""
    have = _numbers(version)
    tests = {">=": lambda v: have >= v, "<": lambda v: have < v, "<=": lambda v: have <= v,
             ">": lambda v: have > v, "==": lambda v: have[:len(v)] == v}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        op = re.match(r"[<>=]=?", part)[0]
        if not tests[op](_numbers(part[len(op):])):
            return False
    return True


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+")[0]))


def check_cuda_libraries(info: dict) -> None:
    """The NVIDIA wheels the CUDA library links ([tool.ext] cuda-libraries),
    installed at a version it was built for: else ImportError with the fix."""
    for lib, need in (info.get("cuda_libraries") or {}).items():
        fix = f"pip install '{need['package']}{need['versions']}'"
        try:
            have = metadata.version(need["package"])
        except metadata.PackageNotFoundError:
            raise ImportError(f"{info['name']}: its CUDA kernels call {lib} ({need['soname']}) from the "
                              f"{need['package']} wheel, which is not installed: {fix}") from None
        if not _in_range(have, need["versions"]):
            raise ImportError(f"{info['name']}: its CUDA kernels need {lib} from {need['package']}"
                              f"{need['versions']}, but {have} is installed: {fix}")


def _load_failure(info: dict, detail: str) -> str:
    """Why dlopen failed, from the loader's own text (always quoted after it)."""
    name = info["name"]
    for lib, need in (info.get("cuda_libraries") or {}).items():
        if need["soname"] in detail or re.search(rf"undefined symbol: {lib}", detail, re.I):
            return (f"{lib} ({need['soname']}, from the {need['package']} wheel) is missing or of "
                    f"another version than it was built for: pip install --force-reinstall "
                    f"'{need['package']}{need['versions']}'")
    symbol = re.search(r"undefined symbol: (\S+)", detail)
    if symbol and re.search(r"torch|c10|aoti|at\d|ATen", symbol[1]):
        return (f"it was built for torch>={info['torch_target']} but this torch "
                f"({torch.__version__}) lacks a symbol it needs. Upgrade torch "
                f"(pip install -U torch) or reinstall {name} for this torch")
    if symbol:
        return ("the library lacks a symbol of its own, a build bug (a source file left "
                "out of the library?). Rebuild it; the build links with --no-undefined, "
                "so a fresh build names the missing piece")
    glibc = re.search(r"version `((?:GLIBC|GLIBCXX|CXXABI)_[\d.]+)' not found", detail)
    if glibc:
        return (f"this system's C/C++ runtime lacks {glibc[1]}, which the wheel was linked "
                f"against. Install a wheel built for this platform (pip install "
                f"--force-reinstall {name}) or build one here (pip install .)")
    return (f"the dynamic loader refused it (a corrupt file, or one for another platform). "
            f"Reinstall it: pip install --force-reinstall {name}")


def registration_errors(path) -> str:
    """What the library's op registrations raised ("" if nothing): the
    registration macros (csrc/ops/common/library.h) keep it instead of aborting."""
    lib = ctypes.CDLL(str(path))  # already loaded by torch: the same handle
    read = lib.ext_registration_errors
    read.restype = ctypes.c_char_p
    return (read() or b"").decode(errors="replace").strip()


def _load(info: dict, backend: str) -> None:
    path = library_path(info, backend)
    name = info["name"]
    if not path.is_file():
        raise ImportError(
            f"{name}: its {backend} library {path} is missing; the installation is "
            f"incomplete. Reinstall it: pip install --force-reinstall {name}"
        )
    try:
        torch.ops.load_library(str(path))
    except OSError as e:
        detail = str(e)
        raise ImportError(f"{name}: cannot load {path.name}: {_load_failure(info, detail)}. "
                          f"(loader said: {detail})") from None
    errors = registration_errors(path)
    if errors:
        raise ImportError(f"{name}: {path.name} loaded but registering its ops failed; fix "
                          f"the op's schema or registration and rebuild. torch said:\n{errors}")


def cuda_driver_version() -> tuple[int, int] | None:
    """The driver's CUDA version via libcuda, without initialising CUDA."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    version = ctypes.c_int(0)
    if libcuda.cuDriverGetVersion(ctypes.byref(version)) != 0:
        return None
    return version.value // 1000, (version.value % 1000) // 10


def covers(archs: list[str], capability: tuple[int, int]) -> bool:
    """True if the build has a cubin this GPU runs, or PTX it can JIT.

    CMake arch entries: "80-real" is a cubin (runs on sm_80..sm_8x), "120" a
    cubin plus PTX (the PTX JITs on any newer GPU), an "a" suffix (sm_90a)
    runs on exactly that GPU.
    """
    sm = capability[0] * 10 + capability[1]
    for arch in archs:
        match = re.fullmatch(r"(\d+)([af]?)(-real)?", arch)
        if not match:
            continue
        num, suffix, cubin_only = int(match[1]), match[2], bool(match[3])
        if suffix == "a":
            if num == sm:
                return True
        elif num // 10 == sm // 10 and num <= sm:
            return True  # a cubin of the same major, older or equal minor
        elif not cubin_only and num <= sm:
            return True  # PTX for an older arch
    return False


def check_archs(info: dict) -> list[str]:
    """Messages for visible GPUs the build cannot run on (initialises CUDA)."""
    problems = []
    for i in range(torch.cuda.device_count()):
        cap = torch.cuda.get_device_capability(i)
        if not covers(info["cuda_archs"], cap):
            problems.append(
                f"GPU {i} ({torch.cuda.get_device_name(i)}, sm_{cap[0]}{cap[1]}) is not covered "
                f"by this build's archs {info['cuda_archs']} and no PTX can be JIT-compiled for "
                f"it: rebuild with EXT_CUDA_ARCHS='{cap[0]}{cap[1]}'"
            )
    return problems


# The oldest NVIDIA driver (Linux) for each CUDA major: minor-version
# compatibility lets a CUDA 12.x runtime run on any 12.x driver.
MIN_DRIVER = {12: "525", 13: "580"}


def label(cuda: str) -> str:
    """cu124 for '12.4'."""
    return "cu" + "".join(cuda.split(".")[:2])


def variant_for_driver(info: dict, driver: tuple[int, int]) -> str | None:
    """The newest CUDA variant of this release (its build info lists them)
    that a driver for CUDA `driver` runs, e.g. '12.4' for a CUDA 12.8 driver."""
    fits = [v for v in info.get("cuda_variants", []) if _version_tuple(v)[0] <= driver[0]]
    return max(fits, key=_version_tuple) if fits else None


def torch_builds(info: dict, cuda: str) -> list[str]:
    """The torch CUDA builds (cu126, ...) the +cu<cuda> wheel serves."""
    return info.get("torch_cuda_builds", {}).get(cuda) or [label(cuda)]


def install_command(info: dict, cuda: str) -> str:
    """The pinned pip command for the +cu<cuda> wheel of this release, from
    the index named after this torch's CUDA build where that wheel serves it."""
    base = info["version"].split("+")[0]
    builds = torch_builds(info, cuda)
    mine = label(torch.version.cuda) if torch.version.cuda else None
    tag = mine if mine in builds else builds[0]
    return (f"pip install --force-reinstall --no-deps '{info['name']}=={base}+{label(cuda)}' "
            f"--index-url <index>/{tag}/simple (it serves torch's {', '.join(builds)} builds)")


def cpu_by_choice(info: dict) -> bool:
    """A +cpu build, or a CPU-only torch: the CPU kernels are what the user chose."""
    return not info["cuda"] or torch.version.cuda is None


def cuda_problem(info: dict) -> str | None:
    """None if the CUDA library can be loaded here, else why not (always a
    message). The CPU-by-choice cases say so too; only the others are worth a
    warning (load_libraries)."""
    if not info["cuda"]:
        return "this is a CPU-only (+cpu) build"
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build"
    driver = cuda_driver_version()
    need = _version_tuple(info["cuda"])
    if driver is not None and driver[0] < need[0]:
        why = (f"the NVIDIA driver supports CUDA {driver[0]}.{driver[1]} but this {info['name']} "
               f"wheel (+{label(info['cuda'])}) was built with CUDA {info['cuda']}, which needs a "
               f"driver for CUDA {need[0]}.x (>= {MIN_DRIVER.get(need[0], '?')})")
        fit = variant_for_driver(info, driver)
        if fit and fit != info["cuda"]:
            return (f"{why}. Install the +{label(fit)} wheel, built for this driver: "
                    f"{install_command(info, fit)}; or upgrade the driver. CPU tensors still work")
        return f"{why}: upgrade the driver, or install the +cpu build; CPU tensors still work"
    return None


def load_libraries(info: dict) -> bool:
    """Load the CPU library, then the CUDA one when it can work; True if CUDA is on."""
    if _version_tuple(torch.__version__) < _version_tuple(info["torch_target"]):
        raise ImportError(
            f"{info['name']} {info['version']} needs torch>={info['torch_target']} (its "
            f"stable-ABI target) but torch {torch.__version__} is installed: "
            f"pip install -U 'torch>={info['torch_target']}'"
        )
    _load(info, "cpu")
    problem = cuda_problem(info)
    if problem:
        if not cpu_by_choice(info):
            warnings.warn(f"{info['name']}: CUDA kernels disabled: {problem}", CudaUnavailableWarning, 2)
        return False
    check_cuda_libraries(info)
    _load(info, "cuda")
    if torch.cuda.is_initialized():
        for msg in check_archs(info):
            warnings.warn(f"{info['name']}: {msg}", CudaUnavailableWarning, 2)
    return True


# Fake (meta) kernels, for torch.compile and torch.export: _fake.py
# decorates each with @fake("<op>"); register_fakes() hands them to torch.
_FAKES: dict[str, Callable] = {}


def fake(op: str):
    def add(fn: Callable) -> Callable:
        _FAKES[op] = fn
        return fn
    return add


def register_fakes(namespace: str) -> None:
    """Each fake gets the op's name as messages spell it ("<ns>.<op>") first."""
    for op, fn in _FAKES.items():
        torch.library.register_fake(f"{namespace}::{op}")(functools.partial(fn, f"{namespace}.{op}"))
