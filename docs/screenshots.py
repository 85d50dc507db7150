"""Take the README's screenshots of the app on a real X display.

Run: Xvfb :77 -screen 0 1920x1080x24 & DISPLAY=:77 .venv/bin/python docs/screenshots.py

Each shot is a fresh window with private settings (never the user's), at 1280x800 and
1920x1080, light and dark; one more shows a stage's menu open on the graph. The screen,
not the window, is grabbed, so open menus are in the picture.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs"


def _settle(app, window, ms: int = 400) -> None:
    from PySide6.QtCore import QElapsedTimer

    timer = QElapsedTimer()
    timer.start()
    while window.is_busy() or window.drawing is None or timer.elapsed() < ms:
        app.processEvents()


def _grab(app, window, name: str) -> None:
    screen = app.primaryScreen()
    frame = window.frameGeometry()
    shot = screen.grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
    shot.save(str(OUT / name))
    print(f"wrote docs/{name}")


def shoot(size: tuple[int, int], scheme: str, *, menu: bool = False) -> None:
    from PySide6.QtCore import QPoint, QSettings

    from designer.core.presets import load_preset
    from designer.qt.app import application
    from designer.qt.appearance import apply_scheme
    from designer.qt.graph_edit import Target
    from designer.qt.main_window import MainWindow

    app = application()
    apply_scheme(app, scheme)
    window = MainWindow(load_preset("resnet50"))
    window.move(0, 0)
    window.resize(*size)
    window.show()
    _settle(app, window)
    if not menu:
        window.insights.show("compare")
        _settle(app, window)
        _grab(app, window, f"app-{size[0]}x{size[1]}-{scheme}.png")
    else:
        frame = window.graph.mapToGlobal(QPoint(window.graph.width() // 3, 120))
        window.graph_editor.popup(Target("stage", 1), frame)
        _settle(app, window)
        _grab(app, window, f"graph-editing-{scheme}.png")
    for popup in app.topLevelWidgets():
        if popup.isVisible() and popup is not window:
            popup.close()
    window.document.undo_stack.setClean()
    QSettings().clear()
    window.close()
    window.deleteLater()
    app.processEvents()


def main() -> None:
    if not os.environ.get("DISPLAY"):
        sys.exit("screenshots.py needs an X display: run it under Xvfb (see its docstring)")
    with tempfile.TemporaryDirectory() as settings:
        os.environ["XDG_CONFIG_HOME"] = settings
        os.environ["RESNET_DESIGNER_RECOVERY_DIR"] = str(Path(settings) / "recovery")
        for size in ((1280, 800), (1920, 1080)):
            for scheme in ("light", "dark"):
                shoot(size, scheme)
        shoot((1280, 800), "light", menu=True)


if __name__ == "__main__":
    main()
