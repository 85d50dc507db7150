"""Where the bundled resources (presets, styles, icons) live.

In a checkout (and an editable install) that is the repository's ``resources/``;
a wheel installs the same files to ``<prefix>/share/resnet-designer``.
"""

from __future__ import annotations

import site
import sys
from functools import cache
from pathlib import Path


@cache
def resource_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "resources"
    candidates = [
        checkout,
        Path(sys.prefix) / "share" / "resnet-designer",
        Path(site.getuserbase()) / "share" / "resnet-designer",
    ]
    return next((path for path in candidates if (path / "presets").is_dir()), checkout)
