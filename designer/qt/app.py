"""The app's entry: QApplication, style, the main window, and the --screenshot mode.

Nothing here imports torch: the window with the graph and totals must be up
well under a second after launch.
"""

from __future__ import annotations

import gc
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from designer.core.design import Design, DesignError
from designer.core.resources import resource_dir

if TYPE_CHECKING:
    from designer.qt.main_window import MainWindow
    from designer.qt.recovery import AskRestore

RESOURCES = resource_dir()
SCREENSHOT_SIZE = (1600, 1000)
SCREENSHOT_TIMEOUT_MS = 30_000


def application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv or [sys.argv[0]])
    app.setApplicationName("ResNet Designer")
    app.setOrganizationName("resnet-designer")
    # resnet-designer.desktop (resources/, `make install-desktop`): Wayland's app id, which
    # lets the desktop show the entry's name and icon for the window
    app.setDesktopFileName("resnet-designer")
    icon = RESOURCES / "icons" / "app.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    style = RESOURCES / "styles" / "app.qss"
    if style.is_file():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    from designer.qt.appearance import apply_scheme, saved_scheme

    scheme = saved_scheme()
    if scheme != "system":
        apply_scheme(app, scheme)
    return app


def resolve(spec: str | None) -> Design | None:
    """A preset name or a design file; DesignError (one line) if it is neither."""
    if spec is None:
        return None
    from designer.commands.common import resolve_design

    return resolve_design(spec)


def run(
    spec: str | None = None,
    *,
    screenshot: str | None = None,
    ask_restore: AskRestore | None = None,
) -> int:
    """Open the app; offer back unsaved work of a run that died (never in screenshot mode).

    A checkpoint opens as File > Open Checkpoint does: the window comes up at once and
    the design is recovered in the background, its weights attached. Only a design file
    is bound as the file Save writes: saving a checkpoint's or a model.py's design there
    would overwrite the user's weights or code with a design's JSON.
    """
    from designer.core.recover import is_checkpoint

    checkpoint = spec if spec is not None and is_checkpoint(spec) else None
    if checkpoint is not None and not Path(checkpoint).is_file():
        print(f"error: {checkpoint}: no such file", file=sys.stderr)
        return 2
    try:
        design = None if checkpoint is not None else resolve(spec)
    except DesignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app = application()
    from designer.qt.main_window import MainWindow

    window = MainWindow(design)
    if (
        spec is not None
        and checkpoint is None
        and Path(spec).suffix != ".py"
        and Path(spec).is_file()
    ):
        window.document.reset(window.document.design, Path(spec))
    if screenshot:
        window.resize(*SCREENSHOT_SIZE)
    window.show()
    window.size_panes()
    # startup's objects (Qt wrappers, modules) never die: keep the collector's full
    # passes, which scan everything, short enough not to stall the UI on big graphs
    gc.freeze()
    if checkpoint is not None:
        window.files.open_checkpoint(checkpoint)
    if screenshot:
        return _screenshot(app, window, Path(screenshot))
    from designer.qt import processes, recovery

    ask = ask_restore or recovery.ask_with_box
    QTimer.singleShot(0, lambda: window.files.offer_recovery(ask))
    _quit_on_sigterm(app, window)
    try:
        return app.exec()
    finally:
        processes.shutdown()


def _quit_on_sigterm(app: QApplication, window: MainWindow) -> None:
    """SIGTERM (a logout, ``kill``): keep unsaved work for recovery, stop helpers, quit.

    Python runs signal handlers only between bytecodes, so a light timer gives it
    the chance while Qt's event loop waits.
    """

    def terminate(_signum: int, _frame: object) -> None:
        window.files.autosaver.save_now()  # the next start offers the work back
        # exit(), not quit(): Qt 6's quit() closes the windows first, and a window with
        # unsaved changes would ask a question nobody is there to answer
        app.exit(0)

    signal.signal(signal.SIGTERM, terminate)
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)


def _screenshot(app: QApplication, window: MainWindow, path: Path) -> int:
    """Wait until the graph is drawn and no work is pending, save the window, exit."""
    status = {"code": 1}

    def save() -> None:
        reading = window.files.is_reading() or window.insights.transfer.is_busy()
        if window.is_busy() or window.drawing is None or reading:
            QTimer.singleShot(20, save)
            return
        image = window.grab()
        path.parent.mkdir(parents=True, exist_ok=True)
        if image.save(str(path)):
            status["code"] = 0
        else:
            print(f"error: cannot write the screenshot to {path}", file=sys.stderr)
        window.document.undo_stack.setClean()
        window.close()
        app.quit()

    def timeout() -> None:
        print("error: the graph was not drawn in time; no screenshot saved", file=sys.stderr)
        app.quit()

    window.graphDrawn.connect(lambda: QTimer.singleShot(30, save))
    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, timeout)
    app.exec()
    return status["code"]
