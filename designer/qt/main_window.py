"""The main window: design panel | graph | inspector, with menus, toolbar and status bar.

Data flows one way: a widget edit becomes a new design in the ``Document``;
the window re-analyses it (closed form, microseconds, on this thread), hands
graph layout to a worker, and each view redraws from the results.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QStyle,
    QToolBar,
    QWidget,
)

from designer import __version__
from designer.core.analysis import Analysis, analyse
from designer.core.design import Design, DesignError
from designer.core.io import FILE_SUFFIX
from designer.core.io import load as io_load
from designer.core.presets import load_preset
from designer.qt.collector import Collector
from designer.qt.design_panel import DesignPanel
from designer.qt.document import Document
from designer.qt.graph_view import GraphView
from designer.qt.insights import install as install_insights
from designer.qt.inspector import Inspector
from designer.qt.pipeline import Drawing, analyse_and_draw, draw, warm_helper
from designer.qt.recovery import Autosaver
from designer.qt.throttle import Throttle
from designer.qt.workers import Runner

APP_NAME = "ResNet Designer"
MAX_RECENT = 8
EDIT_INTERVAL_MS = 40
SYNC_ANALYSIS_BLOCKS = 1000  # more blocks than this: analysed off the UI thread
FILE_FILTER = f"ResNet designs (*{FILE_SUFFIX} *.json);;All files (*)"
NO_DOT_NOTE = "Graphviz not found: using the built-in layout"
HELPER_WARMUP_MS = 1000


class MainWindow(QMainWindow):
    graphDrawn = Signal()  # a drawing of the current design is on screen

    def __init__(self, design: Design | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.document = Document(design or load_preset("resnet50"), self)
        self.analysis: Analysis = analyse(self.document.design)
        self.baseline: Analysis | None = None
        self.level = "block"
        self.collapsed: set[int] = set()
        self.drawing: Drawing | None = None
        self.timings: dict[str, float] = {}
        self._engine_noted = False
        self._refit = True

        self.panel = DesignPanel(self.document)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.panel.ensurePolished()
        scroll.setMinimumWidth(
            self.panel.minimumSizeHint().width()
            + scroll.verticalScrollBar().sizeHint().width()
            + 2 * scroll.frameWidth()
        )
        self.graph = GraphView()
        self.inspector = Inspector()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(self.graph)
        splitter.addWidget(self.inspector)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 0)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        self.setCentralWidget(splitter)

        self.runner = Runner(parent=self)
        self.runner.done.connect(self._drawing_ready)
        self.runner.failed.connect(self._drawing_failed)
        self.runner.busyChanged.connect(self._busy_changed)
        self._analyse_soon = Throttle(EDIT_INTERVAL_MS, self._refresh, self)
        self.autosaver = Autosaver(self.document, self)
        from designer.qt.confirm import Confirmer

        self.confirmer = Confirmer(self)
        # how the window tells the user a one-line problem; tests swap in a recorder
        self.warn: Callable[[str], None] = self._warn_box

        self._build_status_bar()
        self._build_actions()
        self._build_menus_and_toolbar()
        install_insights(self)

        d = self.document
        d.designChanged.connect(lambda _design: self._analyse_soon())
        d.editFailed.connect(self._edit_failed)
        d.errorCleared.connect(self._error_cleared)
        d.cleanChanged.connect(lambda _clean: self._update_title())
        d.pathChanged.connect(lambda _path: self._update_title())
        self.graph.nodeSelected.connect(self._node_selected)
        self.graph.drawn.connect(self._graph_finished)
        self.collector = Collector(self)
        self.graph.drawn.connect(self.collector.settle)
        d.designChanged.connect(lambda _design: self.collector.activity())
        self.graph.stageToggled.connect(self._toggle_stage)
        self.inspector.layerSelected.connect(self._layer_selected)
        self.inspector.pinRequested.connect(self.pin_baseline)

        self.setAcceptDrops(True)
        self._update_title()
        self.resize(1440, 900)
        self._sized = False
        self._refresh()
        # the helper process for big drawings starts in the background, before it is needed
        QTimer.singleShot(HELPER_WARMUP_MS, lambda: QThreadPool.globalInstance().start(warm_helper))

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        if not self._sized:  # the splitter knows its width only once shown
            self._sized = True
            self.size_panes()

    def size_panes(self) -> None:
        # the layer table needs its six columns more than a block graph needs width
        panel = self.splitter.widget(0).minimumWidth()
        rest = max(self.splitter.width() - panel, 0)
        self.splitter.setSizes([panel, int(rest * 0.42), rest - int(rest * 0.42)])

    # -- building the chrome -------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.error_label = QLabel()
        self.error_label.setObjectName("statusError")
        self.error_label.hide()
        bar.addWidget(self.error_label, 1)
        self.engine_label = QLabel()
        self.engine_label.setObjectName("hint")
        bar.addPermanentWidget(self.engine_label)
        self.layout_label = QLabel()
        self.layout_label.setObjectName("hint")
        self.layout_label.setToolTip("Size of the drawn graph and the time its layout took")
        bar.addPermanentWidget(self.layout_label)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(self.fontMetrics().horizontalAdvance("M") * 8)
        self.busy.setMaximumHeight(self.fontMetrics().height())
        self.busy.setTextVisible(False)
        self.busy.setToolTip("Laying out the graph…")
        self.busy.hide()
        bar.addPermanentWidget(self.busy)
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(150)  # no flicker for the usual 20 ms layouts
        self._busy_timer.timeout.connect(self.busy.show)

    def _action(
        self,
        text: str,
        slot: object,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
        icon: QStyle.StandardPixmap | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        key = QKeySequence.StandardKey
        self.new_action = self._action(
            "&New", self.new, key.New, "Start a new design (ResNet-50)", sp.SP_FileIcon
        )
        self.open_action = self._action(
            "&Open…", self.open_dialog, key.Open, "Open a design file", sp.SP_DialogOpenButton
        )
        self.save_action = self._action(
            "&Save", self.save, key.Save, "Save the design", sp.SP_DialogSaveButton
        )
        self.save_as_action = self._action(
            "Save &As…", self.save_as, key.SaveAs, "Save the design under a new name"
        )
        self.quit_action = self._action("&Quit", self.close, key.Quit, "Close the window")
        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(key.Undo))
        self.undo_action.setIcon(self.style().standardIcon(sp.SP_ArrowBack))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence(key.Redo), QKeySequence("Ctrl+Shift+Z")])
        self.redo_action.setIcon(self.style().standardIcon(sp.SP_ArrowForward))
        self.pin_action = self._action(
            "&Pin as Baseline",
            self.pin_baseline,
            "Ctrl+B",
            "Compare later edits against the current design",
        )
        self.unpin_action = self._action(
            "&Clear Baseline", self.clear_baseline, "Ctrl+Shift+B", "Stop comparing"
        )
        self.fit_action = self._action(
            "&Fit to Window",
            self.graph.fit,
            "Ctrl+0",
            "Show the whole graph",
            sp.SP_TitleBarMaxButton,
        )
        self.zoom_in_action = self._action(
            "Zoom &In", lambda: self.graph.zoom(1.25), key.ZoomIn, "Zoom in"
        )
        self.zoom_out_action = self._action(
            "Zoom &Out", lambda: self.graph.zoom(0.8), key.ZoomOut, "Zoom out"
        )
        self.block_action = self._action(
            "&Blocks", lambda: self.set_level("block"), "Ctrl+1", "One node per residual block"
        )
        self.layer_action = self._action(
            "&Layers",
            lambda: self.set_level("layer"),
            "Ctrl+2",
            "One node per layer: convs, norms, activations, adds",
        )
        levels = QActionGroup(self)
        for action in (self.block_action, self.layer_action):
            action.setCheckable(True)
            levels.addAction(action)
        self.block_action.setChecked(True)
        self.collapse_action = self._action(
            "&Collapse All Stages", self.collapse_all, "Ctrl+[", "Draw each stage as one node"
        )
        self.expand_action = self._action(
            "&Expand All Stages", self.expand_all, "Ctrl+]", "Draw every block of every stage"
        )
        self.edge_shapes_action = self._action(
            "Edge &Shapes",
            self.graph.set_edge_labels,
            "Ctrl+3",
            "Write each edge's tensor shape beside it",
        )
        self.edge_shapes_action.setCheckable(True)
        self.about_action = self._action("&About", self.about, None, "Versions and credits")
        from designer.qt.exports import EXPORTS, Exporter

        self.exporter = Exporter(self)
        self.export_actions = [
            self._action(
                spec.menu_text, lambda _c=False, s=spec: self.exporter.start(s), None, spec.tip
            )
            for spec in EXPORTS
        ]

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        edit.addActions([self.pin_action, self.unpin_action])
        view = bar.addMenu("&View")
        view.addActions([self.block_action, self.layer_action])
        view.addSeparator()
        view.addActions([self.collapse_action, self.expand_action])
        view.addAction(self.edge_shapes_action)
        view.addSeparator()
        view.addActions([self.fit_action, self.zoom_in_action, self.zoom_out_action])
        export = bar.addMenu("E&xport")
        export.addActions(self.export_actions)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

        tools = QToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.setIconSize(QSize(16, 16))
        tools.addActions([self.new_action, self.open_action, self.save_action])
        tools.addSeparator()
        tools.addActions([self.undo_action, self.redo_action])
        tools.addSeparator()
        tools.addActions([self.block_action, self.layer_action, self.fit_action])
        tools.addSeparator()
        tools.addAction(self.pin_action)
        tools.addSeparator()
        export_button = tools.addAction("Export")
        export_button.setMenu(export)
        export_button.setToolTip("Export model.py, weights, ONNX, a diagram…")
        button = tools.widgetForAction(export_button)
        if button is not None:
            from PySide6.QtWidgets import QToolButton

            if isinstance(button, QToolButton):
                button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.addToolBar(tools)

    # -- the live pipeline -----------------------------------------------------------------
    def _refresh(self) -> None:
        """Analyse the document's design and ask a worker for its drawing.

        The closed form takes microseconds for real networks, so the inspector updates
        at once; a design of thousands of blocks is analysed by the worker instead.
        """
        design = self.document.design
        if sum(s.depth for s in design.stages) <= SYNC_ANALYSIS_BLOCKS:
            self.analysis = analyse(design)
            self.inspector.set_analysis(self.analysis)
        self.request_drawing()

    def request_drawing(self) -> int:
        design = self.document.design
        collapsed = frozenset(self.collapsed)
        if self.analysis.design is design or self.analysis.design == design:
            return self.runner.submit(draw, self.analysis, self.level, collapsed)
        return self.runner.submit(analyse_and_draw, design, self.level, collapsed)

    def _drawing_ready(self, _generation: int, drawing: Drawing) -> None:
        self.drawing = drawing
        if drawing.analysis is not self.analysis:  # analysed by the worker (a huge design)
            self.analysis = drawing.analysis
            self.inspector.set_analysis(self.analysis)
        self.timings = {"graph_ms": drawing.graph_ms, "layout_ms": drawing.layout_ms}
        # big graphs are built in slices across event-loop turns; _graph_finished follows
        self.graph.show_graph(drawing.graph, drawing.layout, refit=self._refit)

    def is_busy(self) -> bool:
        """A layout is running or a drawing is still being built."""
        return self.runner.is_busy() or self.graph.building

    def _graph_finished(self) -> None:
        drawing = self.drawing
        if drawing is None:
            return
        nodes = drawing.graph.number_of_nodes()
        self.layout_label.setText(
            f"{nodes:,} nodes · {drawing.layout.engine} layout {drawing.layout_ms:.0f} ms"
        )
        self._refit = False
        if drawing.layout.engine != "dot" and not self._engine_noted:
            from designer.core.graph.layout import dot_available

            if not dot_available():
                self._engine_noted = True
                self.engine_label.setText(NO_DOT_NOTE)
                self.statusBar().showMessage(NO_DOT_NOTE, 8000)
        self._select_in_graph(self.inspector.selected_layer())
        self.graphDrawn.emit()

    def _drawing_failed(self, _generation: int, message: str) -> None:
        self.statusBar().showMessage(f"Could not draw the graph: {message}", 10000)

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            self._busy_timer.start()
        else:
            self._busy_timer.stop()
            self.busy.hide()

    def _edit_failed(self, _key: str, _field: str, message: str) -> None:
        self.error_label.setText(f"⚠ {message}")
        self.error_label.setToolTip(message)
        self.error_label.show()
        self.graph.set_stale(True)
        self.inspector.set_stale(True)

    def _error_cleared(self) -> None:
        self.error_label.hide()
        self.graph.set_stale(False)
        self.inspector.set_stale(False)

    def set_level(self, level: str) -> None:
        if level == self.level:
            return
        self.level = level
        (self.block_action if level == "block" else self.layer_action).setChecked(True)
        self._refit = True
        self.request_drawing()

    def _toggle_stage(self, stage: int) -> None:
        self.collapsed ^= {stage}
        self.request_drawing()

    def collapse_all(self) -> None:
        self.collapsed = set(range(-1, len(self.document.design.stages) + 1))
        self._refit = True
        self.request_drawing()

    def expand_all(self) -> None:
        self.collapsed = set()
        self._refit = True
        self.request_drawing()

    # -- selection linking -----------------------------------------------------------------
    def _layer_selected(self, name: str) -> None:
        self._select_in_graph(name)

    def _select_in_graph(self, name: str) -> None:
        if not name:
            self.graph.select_node("")
            return
        layer = next((x for x in self.analysis.layers if x.name == name), None)
        if layer is None:
            return
        block = next((b for b in self.analysis.blocks if b.name == layer.block), None)
        stage = block.stage if block is not None else None
        level_name = name if self.level == "layer" else ""
        self.graph.select_node(self.graph.node_for_layer(level_name, layer.block, stage))

    def _node_selected(self, node_id: str) -> None:
        if not node_id or self.graph.graph is None:
            return
        attrs = self.graph.graph.nodes[node_id]
        name = str(attrs.get("name", ""))
        if attrs.get("kind") in ("block", "stem", "head", "stage", "add", "mul"):
            block = self.analysis.blocks
            names = [b for b in block if b.name == attrs.get("block")]
            if names:
                name = self.analysis.layers[names[0].first_layer].name
            elif attrs.get("kind") == "stage":
                stage = attrs.get("stage")
                first = next((b for b in block if b.stage == stage), None)
                name = self.analysis.layers[first.first_layer].name if first else ""
        if name:
            self.inspector.select_layer(name, emit=False)

    # -- compare ------------------------------------------------------------------------------
    def pin_baseline(self) -> None:
        self.baseline = self.analysis
        self.inspector.set_baseline(self.baseline)
        self.statusBar().showMessage(f"Pinned {self.analysis.design.name} as the baseline", 4000)

    def clear_baseline(self) -> None:
        self.baseline = None
        self.inspector.set_baseline(None)

    # -- files -----------------------------------------------------------------------------------
    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.display_name()}[*] — {APP_NAME}")
        self.setWindowModified(not self.document.is_clean())

    def maybe_save(self) -> bool:
        """True if it is fine to drop the current design (saved, discarded or clean)."""
        if self.document.is_clean():
            return True
        answer = QMessageBox.question(
            self,
            APP_NAME,
            f"Save the changes to {self.document.display_name()}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new(self) -> None:
        if self.maybe_save():
            self.document.reset(load_preset("resnet50").replace(name="Untitled"))
            self._refit = True

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open design", self._last_dir(), FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        try:
            self.document.open(path)
        except (DesignError, OSError, ValueError, RecursionError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._report(f"Cannot open {Path(path).name}: {reason}")
            return False
        self._refit = True
        self._add_recent(str(path))
        self.statusBar().showMessage(f"Opened {path}", 4000)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        suggested = str(Path(self._last_dir()) / f"{_slug(self.document.design.name)}{FILE_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Save design as", suggested, FILE_FILTER)
        if not path:
            return False
        if not path.endswith((FILE_SUFFIX, ".json")):
            path += FILE_SUFFIX
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except OSError as exc:
            self._report(f"Cannot save {path.name}: {exc.strerror or exc}")
            return False
        self._add_recent(str(path))
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def _report(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        self.warn(message)

    def _warn_box(self, message: str) -> None:
        if not _headless():
            QMessageBox.warning(self, APP_NAME, message)

    def restore(self, design: Design, path: Path | None) -> None:
        """Bring back recovered work: the file it came from, then the changes as one edit.

        The document stays unsaved (and undoable back to the file on disk).
        """
        base = None
        if path is not None:
            try:
                base = io_load(path)
            except (DesignError, OSError, ValueError):
                path = None
        self.document.reset(base or design, path)
        self.document.edit("recovery", lambda _d: design, "Restore unsaved changes")
        if base is None:  # nothing on disk to compare with: mark it unsaved all the same
            self.document.undo_stack.resetClean()
        self._refit = True
        self.statusBar().showMessage("Restored the unsaved changes of the last session", 8000)

    @staticmethod
    def settings() -> QSettings:
        return QSettings("resnet-designer", "ResNet Designer")

    def recent_files(self) -> list[str]:
        value = self.settings().value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != path]
        self.settings().setValue("recent", [path, *recent][:MAX_RECENT])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(
                lambda _c=False, p=path: self.maybe_save() and self.open_path(p)
            )

    def _last_dir(self) -> str:
        if self.document.path is not None:
            return str(self.document.path.parent)
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.cwd())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and self.maybe_save():
            event.acceptProposedAction()
            self.open_path(urls[0].toLocalFile())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.maybe_save():
            self.autosaver.discard()  # a clean exit: nothing to recover next time
            self.graph.cancel_build()
            event.accept()
        else:
            event.ignore()

    # -- help ----------------------------------------------------------------------------------
    def about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", about_text())


def about_text() -> str:
    import PySide6
    from PySide6.QtCore import qVersion

    torch = sys.modules.get("torch")
    torch_line = f"torch {torch.__version__}" if torch is not None else "torch: not loaded yet"
    python = sys.version.split()[0]
    return (
        f"<h3>{APP_NAME} {__version__}</h3>"
        "<p>Design, inspect and export ResNet-family networks.</p>"
        f"<p>Python {python}<br>Qt {qVersion()} (PySide6 {PySide6.__version__})<br>"
        f"{torch_line}</p>"
        "<p>Multiply-adds follow torchinfo's convention; FLOPs = 2 × MACs.</p>"
    )


def _slug(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.strip().lower())
    return keep.strip("_") or "design"


def _headless() -> bool:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.platformName() in ("offscreen", "minimal")


_ = QIcon
