"""Opens the desktop app, or explains in one line why it cannot (no display)."""

from __future__ import annotations

import os
import sys

HEADLESS_HINT = (
    "error: no display found, so the desktop app cannot open; use the headless commands"
    " instead: 'python main.py presets | summary | validate | export | render' (see --help)"
)


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def launch(design: str | None, *, screenshot: str | None = None) -> int:
    if not has_display():
        print(HEADLESS_HINT, file=sys.stderr)
        return 2
    try:
        from designer.qt.app import run
    except ImportError as exc:
        print(f"error: the desktop app is not available ({exc})", file=sys.stderr)
        return 2
    return run(design, screenshot=screenshot)
