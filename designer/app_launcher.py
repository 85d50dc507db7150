"""Opens the desktop app, or explains in one line why it cannot.

Qt aborts the whole process (a core dump, no Python exception) when its platform
plugin cannot load, so what would make it fail is checked here first: no display,
or, on X11, the system libraries Qt's xcb plugin needs but pip cannot install.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

HEADLESS_COMMANDS = "'python main.py presets | summary | validate | export | render' (see --help)"
HEADLESS_HINT = (
    "error: no display found, so the desktop app cannot open; use the headless commands"
    f" instead: {HEADLESS_COMMANDS}"
)
# Qt's xcb plugin (X11) links these; Debian package names (`make run` as root installs them)
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def missing_x11_packages() -> list[str]:
    """Packages whose libraries Qt needs for an X11 window and this system lacks."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    x11 = platform.startswith("xcb") or (
        not platform and bool(os.environ.get("DISPLAY")) and not os.environ.get("WAYLAND_DISPLAY")
    )
    if not sys.platform.startswith("linux") or not x11:
        return []
    return [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]


def launch(design: str | None, *, screenshot: str | None = None) -> int:
    if not has_display():
        print(HEADLESS_HINT, file=sys.stderr)
        return 2
    missing = missing_x11_packages()
    if missing:
        packages = " ".join(missing)
        print(
            f"error: Qt needs system libraries to open a window: sudo apt-get install {packages}"
            f" (or run 'make run' as root); the headless commands work without them: "
            f"{HEADLESS_COMMANDS}",
            file=sys.stderr,
        )
        return 2
    try:
        from designer.qt.app import run
    except ImportError as exc:
        print(f"error: the desktop app is not available ({exc})", file=sys.stderr)
        return 2
    return run(design, screenshot=screenshot)
