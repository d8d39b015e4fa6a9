"""The one reader of pyproject.toml: every name, version and default the
build (setup.py), the factory (ci/), the tests and the workflows use comes
from here, and everything here comes from pyproject.toml's [project] and
[tool.ext]. Renaming the project is editing [project].name; nothing else.

    python extconfig.py            # all facts, one `key=value` a line (for shells and workflows)
    python extconfig.py image      # one fact
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path

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
    dependencies: tuple[str, ...]
    test_requires: tuple[str, ...]
    also_test_torch: tuple[str, ...]  # extra torch versions `factory test` tries offline
    manylinux_glibc: str   # glibc the factory links against (EXT_LINK_GLIBC), e.g. 2.28
    cuda_variants: tuple[str, ...]    # CUDA versions of the shipped variants, newest first
    cuda_archs_for: dict   # CUDA major -> arch list, where it differs from cuda_archs

    def default_cuda_archs(self, cuda_version: str) -> str:
        """The arch list for a toolkit of this version (e.g. "13.0")."""
        return self.cuda_archs_for.get(cuda_version.split(".")[0], self.cuda_archs)

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
    return Config(
        name=name,
        import_name=import_name,
        ops_namespace=ext.get("ops-namespace", import_name),
        version=str(ext["version"]),
        torch_target=str(ext["torch-target"]),
        cuda_archs=str(ext["cuda-archs"]),
        size_budget_mb=float(ext.get("wheel-size-budget-mb", 5)),
        requires_python=project.get("requires-python", ""),
        dependencies=tuple(project.get("dependencies", ())),
        test_requires=tuple(project.get("optional-dependencies", {}).get("test", ())),
        also_test_torch=tuple(str(v) for v in ext.get("also-test-torch", ())),
        manylinux_glibc=str(ext.get("manylinux-glibc", "2.28")),
        cuda_variants=tuple(str(v) for v in ext.get("cuda-variants", ())),
        cuda_archs_for={str(k): str(v) for k, v in ext.get("cuda-archs-for", {}).items()},
    )


def import_package(cfg: Config | None = None):
    """The installed package itself (for scripts that must not spell its name)."""
    import importlib

    return importlib.import_module((cfg or load()).import_name)


def tool_table(root: Path | str | None, tool: str) -> dict:
    """pyproject.toml's [tool.<tool>] table ({} if absent), e.g. cibuildwheel's."""
    path = Path(root or ROOT) / "pyproject.toml"
    return tomllib.loads(path.read_text()).get("tool", {}).get(tool, {})


def facts(cfg: Config) -> dict[str, str]:
    out = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "cuda_archs_for"}
    out.update(normalized=cfg.normalized, wheel_name=cfg.wheel_name, image=cfg.image,
               env_prefix=ENV_PREFIX)
    return {k: " ".join(v) if isinstance(v, tuple) else str(v) for k, v in out.items()}


if __name__ == "__main__":
    all_facts = facts(load())
    if len(sys.argv) > 1:
        print(all_facts[sys.argv[1]])
    else:
        print("\n".join(f"{k}={v}" for k, v in all_facts.items()))
