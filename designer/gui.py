"""Opens the desktop app, or explains in one line why it cannot.

Qt aborts the whole process (a core dump, no Python exception) when its platform
plugin cannot load, so what would make it fail is checked here first: no display,
or, on X11, the system libraries Qt's xcb plugin needs but pip cannot install.

The CLI's ``gui`` command (:mod:`designer.cli`) comes here, and so, through the CLI,
does the ``resnet-designer-gui`` script (:mod:`designer.app_launcher`).
"""

from __future__ import annotations

import ctypes.util
import os
import shlex
import sys
from pathlib import Path

SCRIPT = "resnet-designer"
MAIN_MODULES = ("designer", "designer.__main__", "designer.cli")
# Qt's xcb plugin (X11) links these; Debian package names (`make run` as root installs them)
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def invoked_as() -> str:
    """The command the user ran, for hints: ``resnet-designer`` (the installed scripts),
    ``python -m designer`` (or ``designer.cli``) or ``python main.py`` (a checkout)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name in MAIN_MODULES:
        return f"python -m {spec.name.removesuffix('.__main__')}"
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if Path(argv0).name == "main.py":
        return f"python {shlex.quote(argv0)}"
    return SCRIPT  # resnet-designer, resnet-designer-gui, or an embedding program


def headless_commands() -> str:
    return f"'{invoked_as()} presets | summary | validate | export | render' (see --help)"


def headless_hint() -> str:
    return (
        "error: no display found, so the desktop app cannot open; use the headless commands"
        f" instead: {headless_commands()}"
    )


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
        print(headless_hint(), file=sys.stderr)
        return 2
    missing = missing_x11_packages()
    if missing:
        packages = " ".join(missing)
        print(
            f"error: Qt needs system libraries to open a window: sudo apt-get install {packages}"
            f" (or run 'make run' as root); the headless commands work without them: "
            f"{headless_commands()}",
            file=sys.stderr,
        )
        return 2
    try:
        from designer.qt.app import run
    except ImportError as exc:
        print(f"error: the desktop app is not available ({exc})", file=sys.stderr)
        return 2
    return run(design, screenshot=screenshot)
