"""``resnet-designer-gui``: the CLI's ``gui`` command alone, as a gui-script.

``[project.gui-scripts]`` names ``designer.app_launcher:gui_main``. This module sits
above :mod:`designer.cli`, which reaches the app through :mod:`designer.gui`
(the display checks and ``launch``); nothing below imports it back.
"""

from __future__ import annotations

import os
import sys


def gui_main() -> int:
    """``resnet-designer-gui [DESIGN]``: the desktop app alone, as a gui-script (Windows
    starts it with no console; with no console there are no standard streams either)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    from designer.cli import main

    return main(["gui", *sys.argv[1:]])
