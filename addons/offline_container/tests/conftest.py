"""Run by `./ci/factory test` with the factory's interpreter (its factory
suite collects addons/): `ci`, `extconfig` and `addons` import from the
repository root."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
