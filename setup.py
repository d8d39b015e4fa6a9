"""Build the ops libraries with CMake + ninja into one cp310-abi3 wheel.

Names, version and defaults come from pyproject.toml (through extconfig.py);
this file finds the toolchain (torch, nvcc, the NVIDIA wheels of
[tool.ext] cuda-libraries), runs CMake in build/cmake-<variant>-<machine>/ (kept, so a
rebuild, editable ones included, compiles only what changed), and records
what it built in <package>/_build_info.json. Knobs (environment):

  EXT_CUDA_ARCHS       CMake arch list, e.g. "80;90" (last one also gets PTX);
                       default: [tool.ext] cuda-archs, or cuda-archs-for its CUDA
                       major and the wheel's machine
  TORCH_CUDA_ARCH_LIST torch's format, e.g. "8.0 9.0+PTX" (used if the above is unset)
  EXT_CPU_ONLY=1       skip CUDA even if nvcc exists (version label +cpu)
  CUDA_HOME            toolkit root to use first (else nvcc on PATH, pip's
                       nvidia/cu1* wheels, /usr/local/cuda, build/toolchains/)
  MAX_JOBS             parallel compile jobs (default: CPU count)
  CMAKE_ARGS           extra CMake arguments (e.g. a CMAKE_CXX_LINKER_LAUNCHER, or
                       a CMAKE_TOOLCHAIN_FILE for another machine)
  EXT_TORCH_DIR        the torch package to build against, when not the build
                       environment's (a cross build: torch's wheel for the target)
  _PYTHON_HOST_PLATFORM  the wheel's platform when it is not this machine's
                       (Python's own knob; linux-aarch64 for a cross build)
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # setuptools' PEP 517 backend does not add it
import extconfig  # noqa: E402  (the one reader of pyproject.toml; finds the toolkit)

CONFIG = extconfig.load(ROOT)
IMPORT_NAME = CONFIG.import_name
ENV_PREFIX = extconfig.ENV_PREFIX


def log(msg: str) -> None:
    print(f"[{CONFIG.name} build] {msg}", flush=True)


def cuda_archs() -> str:
    """CMake CUDA_ARCHITECTURES: cubins for each arch, PTX for the last/+PTX ones."""
    own = os.environ.get(f"{ENV_PREFIX}_CUDA_ARCHS")
    torch_list = os.environ.get("TORCH_CUDA_ARCH_LIST")
    if own:
        archs = [a.strip() for a in re.split(r"[;, ]+", own) if a.strip()]
        ptx = {archs[-1]}
    elif torch_list:
        items = [a for a in re.split(r"[;, ]+", torch_list) if a]
        archs = [a.replace("+PTX", "").replace(".", "") for a in items]
        ptx = {a.replace("+PTX", "").replace(".", "") for a in items if a.endswith("+PTX")}
    else:
        archs = CONFIG.default_cuda_archs(CUDA_VERSION, MACHINE).split(";")
        ptx = {archs[-1]}
    bad = [a for a in archs if not re.fullmatch(r"\d+[af]?", a) or int(re.sub(r"\D", "", a)) < 75]
    if bad:
        raise SystemExit(f"unsupported CUDA arch(s) {bad}: CUDA 12 and 13 build sm_75 and newer; "
                         f"set {ENV_PREFIX}_CUDA_ARCHS like '80;90'")
    return ";".join(a if a in ptx else f"{a}-real" for a in archs)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def find_torch() -> tuple[Path, str]:
    """The torch to build against ($EXT_TORCH_DIR, else the build
    environment's), located without importing it (saves ~0.4 GB of build
    memory)."""
    if os.environ.get(f"{ENV_PREFIX}_TORCH_DIR"):
        torch_dir = Path(os.environ[f"{ENV_PREFIX}_TORCH_DIR"])
        match = re.search(r"^__version__\s*=\s*'([^']+)'", (torch_dir / "version.py").read_text(), re.M)
        return torch_dir, match[1].split("+")[0]
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise SystemExit(f"torch is not installed in the build environment: pip install "
                         f"'{CONFIG.torch_requirement}'")
    return Path(spec.origin).parent, importlib.metadata.version("torch")


def build_tools() -> tuple[str, str]:
    """cmake and ninja from the build environment's PyPI packages, else PATH."""
    tools = []
    for name, attr in (("cmake", "CMAKE_BIN_DIR"), ("ninja", "BIN_DIR")):
        try:
            module = __import__(name)
            tools.append(str(Path(getattr(module, attr)) / name))
        except (ImportError, AttributeError):
            found = shutil.which(name)
            if not found:
                raise SystemExit(f"{name} not found: pip install 'cmake>=3.26' ninja") from None
            tools.append(found)
    return tools[0], tools[1]


def locate(lib: extconfig.CudaLibrary) -> tuple[Path, Path, str]:
    """(include dir, library file, its directory relative to site-packages)
    of a CUDA library in the build environment's NVIDIA wheel."""
    try:
        dist = importlib.metadata.distribution(lib.package)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"{lib.soname} comes from the {lib.package} wheel, which is not installed "
                         f"in the build environment: pip install '{lib.requirement}'") from None
    files = {Path(str(f)).name: Path(str(f)) for f in dist.files or ()}
    if lib.header not in files or lib.soname not in files:
        raise SystemExit(f"{lib.package} {dist.version} has no {lib.header} or {lib.soname}: "
                         f"pip install --force-reinstall '{lib.requirement}'")
    site = Path(str(dist.locate_file("")))
    library = site / files[lib.soname]
    return (site / files[lib.header]).parent, library, library.parent.relative_to(site).as_posix()


# The factory asks extconfig the same question for the variant a build makes.
CUDA_ROOT, CUDA_ORIGIN = extconfig.find_cuda(os.environ, ROOT, log)
CUDA_VERSION = extconfig.cuda_version(CUDA_ROOT) if CUDA_ROOT else None
LOCAL_LABEL = extconfig.local_label(CUDA_VERSION)
# The machine the wheel is for (Python's _PYTHON_HOST_PLATFORM for cross builds).
MACHINE = sysconfig.get_platform().split("-", 1)[1]
VERSION = f"{CONFIG.version}+{LOCAL_LABEL}"
CUDA_LIBRARIES = extconfig.cuda_libraries(CONFIG, CUDA_VERSION)


class CMakeBuild(build_ext):
    """Configure, build and install the CMake project into the package dir.

    What a build makes is exactly what CMake installed (its
    install_manifest.txt) plus _build_info.json: libraries of another variant
    left in the package dir by an earlier build are deleted first. Editable
    installs (pip install --no-build-isolation -e .) copy the same files into
    pkg/. CMake's tree is build/cmake-<label>-<machine>/ for every kind of build.
    """

    def _package_dir(self) -> Path:
        return Path(self.build_lib) / IMPORT_NAME

    def build_extension(self, ext: Extension) -> None:
        pkg_dir = self._package_dir()
        pkg_dir.mkdir(parents=True, exist_ok=True)
        for stale in pkg_dir.glob(f"lib{IMPORT_NAME}_*.so"):
            stale.unlink()
        tree = ROOT / "build" / f"cmake-{LOCAL_LABEL}-{MACHINE}"
        tree.mkdir(parents=True, exist_ok=True)
        torch_dir, torch_version = find_torch()
        major, minor = (int(v) for v in CONFIG.torch_target.split(".")[:2])
        cmake, ninja = build_tools()
        args = [
            f"-S{ROOT}", f"-B{tree}", "-GNinja", f"-DCMAKE_MAKE_PROGRAM={ninja}",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DCMAKE_INSTALL_PREFIX={pkg_dir.resolve()}",
            f"-DPACKAGE_NAME={IMPORT_NAME}",
            f"-DOPS_NAMESPACE={CONFIG.ops_namespace}",
            f"-DPACKAGE_VERSION={VERSION}",
            f"-DTORCH_DIR={torch_dir}",
            f"-DTORCH_TARGET_VERSION=0x{major:02x}{minor:02x}000000000000",
            f"-DWITH_CUDA={'ON' if CUDA_ROOT else 'OFF'}",
        ]
        archs, libraries = "", {}
        if CUDA_ROOT:
            archs = cuda_archs()
            found = {name: locate(lib) for name, lib in CUDA_LIBRARIES.items()}
            runpath = ["$ORIGIN/../torch/lib", *(f"$ORIGIN/../{rel}" for _, _, rel in found.values())]
            args += [f"-DCMAKE_CUDA_COMPILER={CUDA_ROOT / 'bin' / 'nvcc'}",
                     f"-DCUDAToolkit_ROOT={CUDA_ROOT}",
                     f"-DCMAKE_CUDA_ARCHITECTURES={archs}",
                     "-DEXT_CUDA_LIBRARIES=" + ";".join(f"{i}|{lib}" for i, lib, _ in found.values()),
                     "-DEXT_RUNPATH=" + ";".join(dict.fromkeys(runpath))]
            libraries = {name: {"package": lib.package, "versions": lib.versions, "soname": lib.soname}
                         for name, lib in CUDA_LIBRARIES.items()}
            log(f"CUDA {CUDA_VERSION} from {CUDA_ORIGIN} ({CUDA_ROOT}); archs {archs}"
                + (f"; libraries {', '.join(CUDA_LIBRARIES)}" if CUDA_LIBRARIES else ""))
        else:
            log(f"CPU-only build: {CUDA_ORIGIN}")
        args += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        jobs = os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)
        subprocess.run([cmake, *args], check=True)
        subprocess.run([cmake, "--build", str(tree), "-j", jobs], check=True)
        subprocess.run([cmake, "--install", str(tree)], check=True, stdout=subprocess.DEVNULL)
        info = {
            "name": CONFIG.name,
            "import_name": IMPORT_NAME,
            "ops_namespace": CONFIG.ops_namespace,
            "version": VERSION,
            "cuda": CUDA_VERSION,
            "cuda_archs": archs.split(";") if archs else [],
            "cuda_libraries": libraries,
            "torch_headers": torch_version,
            "torch_target": CONFIG.torch_target,
            "cuda_variants": list(CONFIG.cuda_variants),
            "torch_cuda_builds": CONFIG.torch_cuda_builds,
            "git_commit": git_commit(),
            "sources": extconfig.source_digest(ROOT),
        }
        (pkg_dir / "_build_info.json").write_text(json.dumps(info, indent=2) + "\n")
        installed = (tree / "install_manifest.txt").read_text().split()
        self._built = sorted({*map(Path, installed), pkg_dir.resolve() / "_build_info.json"})

    def get_outputs(self) -> list[str]:
        if self.inplace:
            return list(self.get_output_mapping().keys())
        return [str(p) for p in getattr(self, "_built", [])]

    def _get_output_mapping(self):
        """(built file, its place in the source package) for editable installs."""
        pkg_dir = self._package_dir().resolve()
        for built in getattr(self, "_built", []):
            yield str(built), str(ROOT / "pkg" / built.relative_to(pkg_dir))

    def copy_extensions_to_source(self) -> None:
        for stale in (ROOT / "pkg").glob(f"lib{IMPORT_NAME}_*.so"):
            stale.unlink()
        for built, inplace in self._get_output_mapping():
            Path(inplace).parent.mkdir(parents=True, exist_ok=True)
            self.copy_file(built, inplace, level=self.verbose)


(ROOT / "build").mkdir(exist_ok=True)  # egg_info's base, below
setup(
    version=VERSION,
    install_requires=[CONFIG.torch_requirement, *(lib.requirement for lib in CUDA_LIBRARIES.values())],
    # The sources live in pkg/ whatever the import name is: renaming the
    # project never moves a file.
    packages=[IMPORT_NAME],
    package_dir={IMPORT_NAME: "pkg"},
    # MANIFEST.in puts the C++ sources in the sdist; the wheel ships only
    # what CMake installed (and the .py files).
    include_package_data=False,
    # A dummy extension makes setuptools run CMakeBuild and tag the wheel for
    # a platform; the libraries have no Python C-API, hence abi3 for cp310+.
    ext_modules=[Extension(f"{IMPORT_NAME}._ops", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"bdist_wheel": {"py_limited_api": "cp310"},
             # metadata in build/, not beside pyproject.toml, where a stale
             # <name>.egg-info would shadow the installed package's metadata
             "egg_info": {"egg_base": "build"}},
)
