"""The package under test, found by the names in pyproject.toml (through
extconfig.py, the one reader of it), so the suite runs unchanged on a
renamed copy of the repository. Test modules use:

    from names import ext, NS, OPS   # the imported package, "<ns>" for messages, torch.ops.<ns>
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


def _load_extconfig():
    # By path, not sys.path: the repository root must not shadow anything.
    spec = importlib.util.spec_from_file_location("extconfig", REPO_ROOT / "extconfig.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["extconfig"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


extconfig = _load_extconfig()
CONFIG = extconfig.load(REPO_ROOT)
NAME = CONFIG.name              # distribution name
IMPORT = CONFIG.import_name     # `import <IMPORT>`
NS = CONFIG.ops_namespace       # messages start "<NS>.<op>: ..."
ext = importlib.import_module(IMPORT)
OPS = getattr(torch.ops, NS)
