"""The add-ons' tests run with the factory's (`./ci/factory test` collects
addons/): `ci`, `extconfig`, `addons` and the factory tests' helpers import
from the repository."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "ci" / "tests")]
