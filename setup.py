"""Build the ops libraries with CMake + ninja into one cp310-abi3 wheel.

Names, version and defaults come from pyproject.toml; this file only finds the
toolchain (torch, nvcc), runs CMake, and records what it built in
<package>/_build_info.json. Knobs (environment):

  EXT_CUDA_ARCHS       CMake arch list, e.g. "80;90" (last one also gets PTX);
                       default: [tool.ext] cuda-archs, or cuda-archs-for its CUDA major
  TORCH_CUDA_ARCH_LIST torch's format, e.g. "8.0 9.0+PTX" (used if the above is unset)
  EXT_CPU_ONLY=1       skip CUDA even if nvcc exists (version label +cpu)
  CUDA_HOME            toolkit root to use first (else nvcc on PATH, pip's
                       nvidia/cu1* wheels, /usr/local/cuda, then the toolkits
                       `./ci/factory build` installed in build/toolchains/)
  MAX_JOBS             parallel compile jobs (default: CPU count)
  EXT_LINK_GLIBC=2.28  link both libraries with `zig cc` (PyPI's ziglang) against
                       glibc 2.28's symbol versions, for a manylinux_2_28 wheel
                       built on any newer glibc (cmake/glibc_link.py). Unset,
                       empty or "system": the system linker, and the libraries
                       need this machine's glibc. `./ci/factory build` sets it
                       from pyproject's [tool.ext] manylinux-glibc unless the
                       caller did; a plain `pip install .` builds for the machine
                       it runs on, so it keeps the system linker (no zig needed).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # setuptools' PEP 517 backend does not add it
import extconfig  # noqa: E402  (the one reader of pyproject.toml; finds the toolkit)

CONFIG = extconfig.load(ROOT)
NAME = CONFIG.name
IMPORT_NAME = CONFIG.import_name
OPS_NAMESPACE = CONFIG.ops_namespace
ENV_PREFIX = extconfig.ENV_PREFIX
TORCH_TARGET = CONFIG.torch_target


def log(msg: str) -> None:
    print(f"[{NAME} build] {msg}", flush=True)


def fix_pip_toolkit_layout(root: Path) -> None:
    """pip's toolkit has lib/ but nvcc.profile links from lib64/."""
    if not (root / "lib64").exists() and (root / "lib").is_dir():
        (root / "lib64").symlink_to("lib")


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
        archs = CONFIG.default_cuda_archs(CUDA_VERSION).split(";")
        ptx = {archs[-1]}
    bad = [a for a in archs if not re.fullmatch(r"\d+[af]?", a) or int(re.sub(r"\D", "", a)) < 75]
    if bad:
        raise SystemExit(f"unsupported CUDA arch(s) {bad}: CUDA 12 and 13 build sm_75 and newer; "
                         f"set {ENV_PREFIX}_CUDA_ARCHS like '80;90'")
    return ";".join(a if a in ptx else f"{a}-real" for a in archs)


def link_glibc() -> str | None:
    """The glibc version to link against (EXT_LINK_GLIBC), None for the system linker."""
    value = os.environ.get(f"{ENV_PREFIX}_LINK_GLIBC", "").strip()
    if value in ("", "system", "0"):
        return None
    if not re.fullmatch(r"2\.\d+", value):
        raise SystemExit(f"{ENV_PREFIX}_LINK_GLIBC={value!r}: want a glibc version like 2.28, "
                         "or 'system' for the system linker")
    if importlib.util.find_spec("ziglang") is None:
        raise SystemExit(f"{ENV_PREFIX}_LINK_GLIBC={value} links with zig, which is not installed "
                         f"in the build environment ({sys.executable}): pip install ziglang, or "
                         f"set {ENV_PREFIX}_LINK_GLIBC=system (the libraries then need this "
                         "machine's glibc)")
    return value


def torch_target_hex() -> str:
    major, minor = (int(v) for v in TORCH_TARGET.split(".")[:2])
    return f"0x{major:02x}{minor:02x}000000000000"


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
    """The build environment's torch, located without importing it (saves
    ~0.4 GB of build memory)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise SystemExit("torch is not installed in the build environment: pip install 'torch>=2.10'")
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


# The factory asks extconfig the same question for the variant a build makes.
CUDA_ROOT, CUDA_ORIGIN = extconfig.find_cuda(os.environ, ROOT, log)
CUDA_VERSION = extconfig.cuda_version(CUDA_ROOT) if CUDA_ROOT else None
LOCAL_LABEL = extconfig.local_label(CUDA_VERSION)


class CMakeBuild(build_ext):
    """Configure, build and install the CMake project into the package dir.

    What a build makes is exactly what CMake installed (its
    install_manifest.txt) plus _build_info.json: libraries of another variant
    left in build/ by an earlier build are deleted first, so a +cpu build never
    ships a stale CUDA library. Editable installs (pip install -e .) copy the
    same files into the source package, pkg/; re-running the same command
    rebuilds incrementally (CMake's tree stays in build/, one per variant).
    """

    def _package_dir(self) -> Path:
        return Path(self.build_lib) / IMPORT_NAME

    def build_extension(self, ext: Extension) -> None:
        pkg_dir = self._package_dir()
        pkg_dir.mkdir(parents=True, exist_ok=True)
        for stale in pkg_dir.glob(f"lib{IMPORT_NAME}_*.so"):
            stale.unlink()
        build_temp = Path(self.build_temp) / f"cmake-{LOCAL_LABEL}"
        build_temp.mkdir(parents=True, exist_ok=True)
        torch_dir, torch_version = find_torch()
        archs = cuda_archs() if CUDA_ROOT else ""
        glibc = link_glibc()
        args = [
            f"-S{ROOT}", f"-B{build_temp}", "-GNinja",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DCMAKE_INSTALL_PREFIX={pkg_dir.resolve()}",
            f"-DPACKAGE_NAME={IMPORT_NAME}",
            f"-DOPS_NAMESPACE={OPS_NAMESPACE}",
            f"-DPACKAGE_VERSION={VERSION}",
            f"-DTORCH_DIR={torch_dir}",
            f"-DTORCH_TARGET_VERSION={torch_target_hex()}",
            f"-DWITH_CUDA={'ON' if CUDA_ROOT else 'OFF'}",
            # Both libraries link as CXX (CMakeLists.txt says so for the CUDA
            # one): this launcher redoes their -shared links with zig. Empty
            # clears a launcher an earlier configure of this tree set.
            "-DCMAKE_CXX_LINKER_LAUNCHER="
            + (f"{sys.executable};{ROOT / 'cmake' / 'glibc_link.py'};{glibc}" if glibc else ""),
        ]
        log(f"linking against glibc {glibc}'s symbol versions with zig" if glibc else
            f"linking with the system linker ({ENV_PREFIX}_LINK_GLIBC unset): the libraries "
            "need this machine's glibc")
        if CUDA_ROOT:
            fix_pip_toolkit_layout(CUDA_ROOT)
            args += [f"-DCMAKE_CUDA_COMPILER={CUDA_ROOT / 'bin' / 'nvcc'}",
                     f"-DCUDAToolkit_ROOT={CUDA_ROOT}",
                     f"-DCMAKE_CUDA_ARCHITECTURES={archs}"]
            log(f"CUDA {CUDA_VERSION} from {CUDA_ORIGIN} ({CUDA_ROOT}); archs {archs}")
        else:
            log(f"CPU-only build: {CUDA_ORIGIN}")
        jobs = os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)
        cmake, ninja = build_tools()
        args.append(f"-DCMAKE_MAKE_PROGRAM={ninja}")
        subprocess.run([cmake, *args], check=True)
        subprocess.run([cmake, "--build", str(build_temp), "-j", jobs], check=True)
        subprocess.run([cmake, "--install", str(build_temp)], check=True)
        info = {
            "name": NAME,
            "import_name": IMPORT_NAME,
            "ops_namespace": OPS_NAMESPACE,
            "version": VERSION,
            "cuda": CUDA_VERSION,
            "cuda_archs": archs.split(";") if archs else [],
            "torch_headers": torch_version,
            "torch_target": TORCH_TARGET,
            "link_glibc": glibc,
            "cuda_variants": list(CONFIG.cuda_variants),
            "git_commit": git_commit(),
        }
        (pkg_dir / "_build_info.json").write_text(json.dumps(info, indent=2) + "\n")
        installed = (build_temp / "install_manifest.txt").read_text().split()
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


VERSION = f"{CONFIG.version}+{LOCAL_LABEL}"

setup(
    version=VERSION,
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
    options={"bdist_wheel": {"py_limited_api": "cp310"}},
)
