"""The build configuration setup.py and the factory share. The one reader of
pyproject.toml: every name, version and default the build (setup.py), the
factory (ci/), the tests and the workflows use comes from here, and
everything here comes from pyproject.toml's [project] and [tool.ext].
Renaming the project is editing [project].name; nothing else. And the one
place that decides which CUDA toolkit a build uses, hence its variant
(+cu130 / +cpu): setup.py builds with it, the factory asks it beforehand.

    python extconfig.py            # all facts, one `key=value` a line (for shells and workflows)
    python extconfig.py image      # one fact
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent

#: Prefix of the build knobs (EXT_CPU_ONLY, EXT_CUDA_ARCHS): fixed rather than
#: derived from the name, so a renamed copy keeps its knobs, its
#: [tool.cibuildwheel] environment-pass and its CI settings.
ENV_PREFIX = "EXT"


@dataclass(frozen=True)
class Config:
    name: str              # distribution name ([project].name)
    import_name: str       # import name; the sources are pkg/ whatever it is
    ops_namespace: str     # torch.ops.<namespace>
    version: str           # base version, without the local label
    torch_target: str      # stable-ABI target: the oldest torch the binaries run on
    cuda_archs: str        # default CMake arch list; the last also ships PTX
    size_budget_mb: float  # verify refuses bigger wheels
    requires_python: str
    test_requires: tuple[str, ...]
    also_test_torch: tuple[str, ...]  # extra torch versions `factory test` tries offline
    manylinux_glibc: str   # glibc the factory links against (EXT_LINK_GLIBC), e.g. 2.28
    cuda_variants: tuple[str, ...]    # CUDA versions of the shipped variants, newest first
    cuda_archs_for: dict   # "<CUDA major>" or "<major>/<machine>" -> arch list, where it differs
    cuda_libraries: tuple[str, ...]   # CUDA libraries the ops link (CUDA_LIBRARIES' keys)
    torch_cuda_builds: dict           # CUDA variant -> torch's CUDA tags it serves (cu126, ...)

    def default_cuda_archs(self, cuda_version: str, machine: str = "x86_64") -> str:
        """The arch list for a toolkit of this version (e.g. "13.0") and a
        wheel for this machine (x86_64, aarch64)."""
        major = cuda_version.split(".")[0]
        return self.cuda_archs_for.get(f"{major}/{machine}", self.cuda_archs_for.get(major, self.cuda_archs))

    @property
    def torch_requirement(self) -> str:
        """What the wheels require of torch: the stable-ABI target and newer."""
        return f"torch>={self.torch_target}"

    @property
    def normalized(self) -> str:
        """PEP 503 normalised name (index directories, pip)."""
        return re.sub(r"[-_.]+", "-", self.name).lower()

    @property
    def wheel_name(self) -> str:
        """The name as wheel file names spell it."""
        return re.sub(r"[-_.]+", "_", self.name).lower()

    @property
    def image(self) -> str:
        """The CUDA build image (docker/Dockerfile), without its tag: named
        after the project so two projects made from this template never share one."""
        return f"localhost/{self.normalized}-manylinux-cuda"

    @property
    def libraries(self) -> tuple[str, ...]:
        """The shared libraries the build makes, CPU first (lib<import>_<backend>.so)."""
        return (f"lib{self.import_name}_cpu.so", f"lib{self.import_name}_cuda.so")


@dataclass(frozen=True)
class CudaLibrary:
    """A CUDA library taken from NVIDIA's pip wheels (the ones torch's CUDA
    builds install), for one CUDA major: the wheel is linked against it and
    declares a dependency on it instead of bundling it."""
    package: str     # distribution, e.g. nvidia-cublas
    versions: str    # the range the wheel requires: it holds what every supported torch pins
    header: str      # a header that marks its include directory
    soname: str      # what the CUDA library NEEDs

    @property
    def requirement(self) -> str:
        return f"{self.package}{self.versions}"


#: [tool.ext] cuda-libraries -> CUDA major -> the library. The ranges hold the
#: pins of every torch >= torch-target for that CUDA major (cuBLAS 12.6-13.1,
#: cuDNN 9.5-9.24 so far); the lower bounds are the first release of each
#: package for that CUDA major that has the calls an op makes today.
CUDA_LIBRARIES: dict[str, dict[str, CudaLibrary]] = {
    "cublas": {
        "13": CudaLibrary("nvidia-cublas", ">=13.0,<14", "cublas_v2.h", "libcublas.so.13"),
        "12": CudaLibrary("nvidia-cublas-cu12", ">=12.4,<13", "cublas_v2.h", "libcublas.so.12"),
    },
    "cudnn": {
        "13": CudaLibrary("nvidia-cudnn-cu13", ">=9.12,<10", "cudnn.h", "libcudnn.so.9"),
        "12": CudaLibrary("nvidia-cudnn-cu12", ">=9.1,<10", "cudnn.h", "libcudnn.so.9"),
    },
}


def cuda_libraries(cfg: Config, cuda: str | None) -> dict[str, CudaLibrary]:
    """The libraries a build with CUDA `cuda` (e.g. "13.0"; None: CPU) links."""
    if not cuda:
        return {}
    major = cuda.split(".")[0]
    missing = [n for n in cfg.cuda_libraries if major not in CUDA_LIBRARIES[n]]
    if missing:
        raise ConfigError(f"no CUDA {major} package known for {missing} (extconfig.CUDA_LIBRARIES)")
    return {n: CUDA_LIBRARIES[n][major] for n in cfg.cuda_libraries}


#: What a build is made from (source_digest): the build files and pkg/.
SOURCE_FILES = ("pyproject.toml", "setup.py", "extconfig.py", "CMakeLists.txt", "cmake", "pkg")
#: ...less what a build writes there.
BUILT = ("__pycache__", "*.pyc", "*.so", "_build_info.json", "*.egg-info")


def source_digest(root: Path | str | None = None) -> str:
    """A hash of the sources a wheel is built from, recorded in the wheel, so
    that the factory can tell a wheel made from other sources (a stale one)."""
    import fnmatch
    import hashlib

    root = Path(root or ROOT)
    digest = hashlib.sha256()
    for top in SOURCE_FILES:
        paths = [root / top] if (root / top).is_file() else sorted((root / top).rglob("*"))
        for path in paths:
            rel = path.relative_to(root)
            if not path.is_file() or any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in BUILT):
                continue
            digest.update(f"{rel.as_posix()}\0{len(path.read_bytes())}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ConfigError(Exception):
    """pyproject.toml lacks something the build needs."""


def load(root: Path | str | None = None) -> Config:
    path = Path(root or ROOT) / "pyproject.toml"
    if not path.is_file():
        raise ConfigError(f"{path} not found: point at the repository root")
    data = tomllib.loads(path.read_text())
    project = data.get("project", {})
    ext = data.get("tool", {}).get("ext", {})
    missing = [k for k in ("version", "torch-target", "cuda-archs") if k not in ext]
    if "name" not in project or missing:
        raise ConfigError(f"{path}: needs [project].name and [tool.ext] {', '.join(missing)}")
    name = project["name"]
    import_name = ext.get("import-name", name.replace("-", "_"))
    cfg = Config(
        name=name,
        import_name=import_name,
        ops_namespace=ext.get("ops-namespace", import_name),
        version=str(ext["version"]),
        torch_target=str(ext["torch-target"]),
        cuda_archs=str(ext["cuda-archs"]),
        size_budget_mb=float(ext.get("wheel-size-budget-mb", 5)),
        requires_python=project.get("requires-python", ""),
        test_requires=tuple(project.get("optional-dependencies", {}).get("test", ())),
        also_test_torch=tuple(str(v) for v in ext.get("also-test-torch", ())),
        manylinux_glibc=str(ext.get("manylinux-glibc", "2.28")),
        cuda_variants=tuple(str(v) for v in ext.get("cuda-variants", ())),
        cuda_archs_for={str(k): str(v) for k, v in ext.get("cuda-archs-for", {}).items()},
        cuda_libraries=tuple(ext.get("cuda-libraries", ())),
        torch_cuda_builds={str(k): list(v) for k, v in ext.get("torch-cuda-builds", {}).items()},
    )
    unknown = set(cfg.cuda_libraries) - set(CUDA_LIBRARIES)
    if unknown:
        raise ConfigError(f"{path}: [tool.ext] cuda-libraries {sorted(unknown)}: known are "
                          f"{sorted(CUDA_LIBRARIES)} (extconfig.CUDA_LIBRARIES)")
    return cfg


def import_package(cfg: Config | None = None):
    """The installed package itself (for scripts that must not spell its name)."""
    import importlib

    return importlib.import_module((cfg or load()).import_name)


def tool_table(root: Path | str | None, tool: str) -> dict:
    """pyproject.toml's [tool.<tool>] table ({} if absent), e.g. cibuildwheel's."""
    path = Path(root or ROOT) / "pyproject.toml"
    return tomllib.loads(path.read_text()).get("tool", {}).get(tool, {})


# ---------------------------------------------------------------------------
# Which CUDA toolkit a build uses (setup.py builds with it; the factory asks)
# ---------------------------------------------------------------------------


def has_cuda_headers(root: Path) -> bool:
    return any((root / p / "cuda_runtime.h").exists()
               for p in ("include", "targets/x86_64-linux/include", "targets/sbsa-linux/include"))


def pip_toolkit_roots() -> list[Path]:
    """nvcc from pip's cuda-toolkit wheels (site-packages/nvidia/cu13)."""
    roots = []
    for site in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path}:
        roots += sorted(Path(site).glob("nvidia/cu1*"), reverse=True) if site else []
    return roots


def factory_toolkit_roots(root: Path) -> list[Path]:
    """Toolkits the factory installed under <root>/build/toolchains/cuda-<version>/
    (pip's wheels in nvidia/cu<major>/, or a toolkit unpacked at the top),
    newest version first."""
    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(v) for v in re.findall(r"\d+", path.name))

    roots = []
    for base in sorted((Path(root) / "build" / "toolchains").glob("cuda-*"), key=version, reverse=True):
        roots += [base, *sorted(base.glob("nvidia/cu1*"), reverse=True)]
    return roots


def find_cuda(env: Mapping[str, str], root: Path | str | None = None,
              log: Callable[[str], None] = lambda msg: None) -> tuple[Path | None, str]:
    """(toolkit root, why) for a build of the repository at `root` with the
    environment `env` - the toolkit root is None for a CPU-only build."""
    if env.get(f"{ENV_PREFIX}_CPU_ONLY", "") not in ("", "0"):
        return None, f"{ENV_PREFIX}_CPU_ONLY is set"
    candidates: list[tuple[Path, str]] = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if env.get(var):
            candidates.append((Path(env[var]), f"${var}"))
    on_path = shutil.which("nvcc", path=env.get("PATH", os.defpath))
    if on_path:
        candidates.append((Path(on_path).resolve().parent.parent, "nvcc on PATH"))
    candidates += [(tk, "pip's cuda-toolkit wheel") for tk in pip_toolkit_roots()]
    candidates.append((Path("/usr/local/cuda"), "/usr/local/cuda"))
    candidates += [(tk, "the factory's build/toolchains") for tk in factory_toolkit_roots(Path(root or ROOT))]
    for tk, origin in candidates:
        if (tk / "bin" / "nvcc").exists() and has_cuda_headers(tk):
            return tk, origin
        if (tk / "bin" / "nvcc").exists():
            log(f"skipping {tk / 'bin' / 'nvcc'} ({origin}): no CUDA headers beside it "
                "(a wrapper script? set CUDA_HOME to the toolkit root)")
    return None, ("no nvcc found (looked in $CUDA_HOME, PATH, pip's nvidia/cu1* wheels, "
                  "/usr/local/cuda, build/toolchains/cuda-*); install one with "
                  "pip install 'cuda-toolkit[nvcc,cudart,cccl]==13.0.*', or let "
                  "`./ci/factory build` install it, for a CUDA build")


def cuda_version(toolkit: Path) -> str:
    out = subprocess.run([str(toolkit / "bin" / "nvcc"), "--version"], check=True,
                         capture_output=True, text=True).stdout
    match = re.search(r"release (\d+)\.(\d+)", out)
    if not match:
        raise RuntimeError(f"cannot read the CUDA version from `nvcc --version`:\n{out}")
    return f"{match[1]}.{match[2]}"


def local_label(cuda: str | None) -> str:
    """The version's local label: cu130 for CUDA 13.0, cpu for none."""
    return "cu" + "".join(cuda.split(".")[:2]) if cuda else "cpu"


def build_label(env: Mapping[str, str], root: Path | str | None = None) -> str:
    """The local label a build of `root` with environment `env` gets."""
    toolkit, _ = find_cuda(env, root)
    return local_label(cuda_version(toolkit) if toolkit else None)


def facts(cfg: Config) -> dict[str, str]:
    out = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name not in ("cuda_archs_for", "torch_cuda_builds")}
    out["torch_requirement"] = cfg.torch_requirement
    out.update(normalized=cfg.normalized, wheel_name=cfg.wheel_name, image=cfg.image,
               env_prefix=ENV_PREFIX)
    return {k: " ".join(v) if isinstance(v, tuple) else str(v) for k, v in out.items()}


def build_requirements(cfg: Config, env: Mapping[str, str], root: Path | str | None = None) -> list[str]:
    """The NVIDIA wheels a build with `env` links ([tool.ext] cuda-libraries
    for its toolkit's CUDA major; none for a CPU build)."""
    toolkit, _ = find_cuda(env, root)
    return [lib.requirement for lib in cuda_libraries(cfg, cuda_version(toolkit) if toolkit else None).values()]


if __name__ == "__main__":
    config = load()
    all_facts = facts(config)
    if sys.argv[1:] == ["cuda_library_requirements"]:  # docker/cibw-steps.sh
        print(" ".join(build_requirements(config, os.environ)))
    elif len(sys.argv) > 1:
        print(all_facts[sys.argv[1]])
    else:
        print("\n".join(f"{k}={v}" for k, v in all_facts.items()))
