"""The package: its ops are the functions of ops.py (the README lists them).
Importing it loads the ops libraries into torch (_loader.py) and registers
their fake kernels (_fake.py)."""

from importlib import resources as _resources

from . import _fake, _loader  # noqa: F401  (_fake's kernels register below)
from ._build_info import read as _read_build_info

build_info = _read_build_info()
__version__ = build_info["version"]
#: True when the CUDA kernels are loaded (a CUDA build on a CUDA torch).
cuda_enabled = _loader.load_libraries(build_info)
_loader.register_fakes(build_info["ops_namespace"])

from . import ops  # noqa: E402
from .ops import *  # noqa: E402,F401,F403  (every op wrapper in ops.__all__)

#: For CMake: find_package(<name>) with CMAKE_PREFIX_PATH set to this.
cmake_prefix_path = str(_resources.files(__name__).joinpath("share", "cmake"))

__all__ = [*ops.__all__, "build_info", "cuda_enabled", "cmake_prefix_path"]
