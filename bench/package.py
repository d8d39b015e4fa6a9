"""The package under benchmark, found by the names in pyproject.toml (so the
scripts run unchanged on a renamed copy): `from package import ext, NAME`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for extconfig.py only
import extconfig  # noqa: E402

CONFIG = extconfig.load()
NAME = CONFIG.name  # also the key of our rows in result files
ext = extconfig.import_package(CONFIG)
