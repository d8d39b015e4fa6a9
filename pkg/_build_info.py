"""What setup.py recorded about this build (_build_info.json)."""

from __future__ import annotations

import json
from importlib import resources


def read() -> dict:
    try:
        text = resources.files(__package__).joinpath("_build_info.json").read_text()
    except FileNotFoundError:
        raise ImportError(
            f"{__package__} is not built: _build_info.json is missing beside "
            f"{__file__}. Install the wheel (pip install {__package__}) or build one "
            "(see the README); the source tree cannot be imported directly."
        ) from None
    return json.loads(text)
