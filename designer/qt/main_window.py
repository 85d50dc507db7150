"""The main window: design panel | graph | inspector, with menus, toolbar and status bar.

Data flows one way: a widget edit becomes a new design in the ``Document``; the
``AnalysisModel`` analyses it once and publishes the result; the inspector, the
confirmer, the insight docks and the graph pipeline (a worker lays the graph
out) each redraw from that one analysis. File handling lives in ``FileController``
and exports in ``Exporter``: they get the document and callbacks, never the window.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QByteArray, QPoint, QSettings, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QStyle,
    QToolBar,
    QToolButton,
    QWidget,
)

from designer import __version__
from designer.core.analysis import Analysis
from designer.core.design import Design
from designer.core.presets import load_preset
from designer.qt.analysis_model import AnalysisModel
from designer.qt.appearance import SCHEMES, apply_scheme, remember, saved_scheme
from designer.qt.checkpoints import short_name
from designer.qt.collector import Collector
from designer.qt.confirm import Confirmer
from designer.qt.design_panel import DesignPanel
from designer.qt.document import Document
from designer.qt.exports import EXPORTS, Exporter
from designer.qt.files import APP_NAME, FileController
from designer.qt.graph_edit import GraphEditor, Target, target_of
from designer.qt.graph_view import GraphView
from designer.qt.insights import install as install_insights
from designer.qt.insights import train_dock
from designer.qt.inspector import Inspector
from designer.qt.pipeline import Drawing, draw, warm_helper
from designer.qt.throttle import Throttle
from designer.qt.tooltips import wrap_all
from designer.qt.workers import Runner

if TYPE_CHECKING:
    from designer.core.recover import Recovery

GRAPH_SHARE = 0.6  # of the width beside the form: the graph's; the inspector gets the rest
SPLITTER_KEY = "window/splitter"
DOCKS_KEY = "window/docks"
DIRECTION_KEY = "graph/direction"
EDIT_INTERVAL_MS = 40  # bursts of edits are drawn at most once per interval
NO_DOT_NOTE = "Graphviz not found: using the built-in layout"
HELPER_WARMUP_MS = 1000


class MainWindow(QMainWindow):
    graphDrawn = Signal()  # a drawing of the current design is on screen

    def __init__(self, design: Design | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.document = Document(design or load_preset("resnet50"), self)
        self.analyses = AnalysisModel(self.document, self)
        self.baseline: Analysis | None = None
        self.level = "block"
        # left to right suits wide screens (torchview's and hiddenlayer's option)
        self.direction = "LR" if QSettings().value(DIRECTION_KEY) == "LR" else "TB"
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
        self.panel_scroll = scroll
        self._fit_panel()
        self.graph = GraphView()
        self.inspector = Inspector()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(self.graph)
        splitter.addWidget(self.inspector)
        # when the window changes size, the graph and the inspector share the change
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        self.setCentralWidget(splitter)
        # the per-stage options' columns need a wider panel than the stage shapes'
        self.panel.stages.optionsShown.connect(lambda _on: self._fit_panel(resize=True))

        self.runner = Runner(parent=self)
        self.runner.done.connect(self._drawing_ready)
        self.runner.failed.connect(self._drawing_failed)
        self.runner.busyChanged.connect(self._busy_changed)
        self._draw_soon = Throttle(EDIT_INTERVAL_MS, self.request_drawing, self)
        # how the window tells the user a one-line problem; tests swap in a recorder
        self.warn: Callable[[str], None] = self._warn_box
        self.files = FileController(
            self.document, self, self.statusBar().showMessage, lambda m: self.warn(m)
        )
        self.files.replaced.connect(self._refit_next)
        self.exporter = Exporter(
            self.document,
            self.analyses,
            self,
            level=lambda: self.level,
            direction=lambda: self.direction,
            say=lambda m: self.statusBar().showMessage(m, 10000),
            warn=lambda m: self.warn(m),
            weights=lambda: self.insights.transfer.path,
        )
        self.confirmer = Confirmer(self.analyses, self.inspector.set_confirmation, self)

        self._build_status_bar()
        self._build_actions()
        self._build_menus_and_toolbar()
        self.insights = install_insights(self, self.document, self.analyses, self.view_menu)
        self.insights.lint.fieldRequested.connect(self.focus_field)
        self.panel.limitHit.connect(lambda message: self.statusBar().showMessage(message, 6000))
        # one batch size: the totals', the Numbers tab's and the Budget fit's follow each other
        self.insights.set_batch(self.inspector.batch.value())
        self.inspector.batchChanged.connect(self.insights.set_batch)
        self.insights.on_batch_changed(self.inspector.set_batch)
        # the checkpoint attached in the Pretrained-weights dock goes into every export;
        # a whole new design (New, Open) lets go of it, Open Checkpoint attaches its own
        transfer = self.insights.transfer
        transfer.attachedChanged.connect(lambda _path: self._update_title())
        self.files.replaced.connect(transfer.detach)
        self.files.checkpointOpened.connect(self._checkpoint_opened)
        self.inspector.layerSelected.connect(self.insights.numbers.select_layer)

        d = self.document
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
        self.graph_editor = GraphEditor(
            d, lambda m: self.statusBar().showMessage(m, 8000), self.graph
        )
        self.graph_editor.collapseRequested.connect(self._toggle_stage)
        self.graph.menuRequested.connect(
            lambda attrs, at: self._on_target(attrs, lambda t: self.graph_editor.popup(t, at))
        )
        self.graph.editRequested.connect(
            lambda attrs, at: self._on_target(attrs, lambda t: self.graph_editor.open_editor(t, at))
        )
        self.graph.deleteRequested.connect(
            lambda attrs: self._on_target(attrs, self.graph_editor.delete)
        )
        self.graph.titleButtonClicked.connect(self._title_button)
        self.inspector.layerSelected.connect(self._layer_selected)
        self.inspector.pinRequested.connect(self.pin_baseline)
        self.analyses.subscribe(self.inspector.set_analysis)
        self.analyses.subscribe(lambda _analysis: self._draw_soon())
        self.analyses.failed.connect(self._analysis_failed)

        self.setAcceptDrops(True)
        wrap_all(self)
        self._update_title()
        self.resize(self._first_size())
        self._sized = False
        # the helper process for big drawings starts in the background, before it is needed
        QTimer.singleShot(HELPER_WARMUP_MS, lambda: QThreadPool.globalInstance().start(warm_helper))

    def _first_size(self) -> QSize:
        """1440x900, or what the screen has room for (a 1280x800 laptop: all of it)."""
        screen = self.screen()
        room = screen.availableGeometry().size() if screen is not None else QSize(1440, 900)
        title_bar = 32  # the window manager's frame is not part of the size set here
        return QSize(min(1440, room.width()), min(900, room.height() - title_bar))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # the splitter knows its width only once shown
            self._sized = True
            self.size_panes()
            self._restore_layout()

    def _fit_panel(self, resize: bool = False) -> None:
        """Make the design panel's pane as wide as the panel needs (never a clipped form)."""
        scroll = self.panel_scroll
        self.panel.ensurePolished()
        # the layouts between the stage table and the panel learn of its new minimum one
        # posted event per level; settle them now, innermost first
        widget: QWidget | None = self.panel.stages.table
        while widget is not None and widget is not scroll:
            layout = widget.layout()
            if layout is not None:
                layout.activate()
            widget = widget.parentWidget()
        scroll.setMinimumWidth(
            self.panel.minimumSizeHint().width()
            + scroll.verticalScrollBar().sizeHint().width()
            + 2 * scroll.frameWidth()
        )
        if resize and self._sized:
            self.size_panes()

    def size_panes(self) -> None:
        """The form as wide as it needs, then the graph (the centre of the designer) gets
        GRAPH_SHARE of the rest and the inspector the remainder, at least its minimum."""
        panel = self.panel_scroll.minimumWidth()  # the splitter's first widget
        rest = max(self.splitter.width() - panel, 0)
        inspector = max(rest - int(rest * GRAPH_SHARE), self.inspector.minimumSizeHint().width())
        self.splitter.setSizes([panel, rest - inspector, inspector])

    def _restore_layout(self) -> None:
        """The user's pane and dock sizes from the last session, where they fit."""
        settings = QSettings()
        state = settings.value(SPLITTER_KEY)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.splitter.restoreState(state)
            if self.splitter.sizes()[0] < self.panel_scroll.minimumWidth():
                self.size_panes()  # a narrower screen than last time: start afresh
        docks = settings.value(DOCKS_KEY)
        if isinstance(docks, QByteArray) and not docks.isEmpty():
            self.restoreState(docks)

    def _save_layout(self) -> None:
        settings = QSettings()
        settings.setValue(SPLITTER_KEY, self.splitter.saveState())
        settings.setValue(DOCKS_KEY, self.saveState())

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
        slot: Callable[..., object],
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
        files = self.files
        self.new_action = self._action(
            "&New", files.new, key.New, "Start a new design (ResNet-50)", sp.SP_FileIcon
        )
        self.open_action = self._action(
            "&Open…", files.open_dialog, key.Open, "Open a design file", sp.SP_DialogOpenButton
        )
        self.open_checkpoint_action = self._action(
            "Open &Checkpoint…",
            files.open_checkpoint_dialog,
            "Ctrl+Shift+O",
            "Recover a design from a checkpoint (.pt, .pth, .safetensors…) and attach its weights",
            sp.SP_DriveHDIcon,
        )
        self.save_action = self._action(
            "&Save", files.save, key.Save, "Save the design", sp.SP_DialogSaveButton
        )
        self.save_as_action = self._action(
            "Save &As…", files.save_as, key.SaveAs, "Save the design under a new name"
        )
        self.quit_action = self._action("&Quit", self.close, key.Quit, "Close the window")
        # the document's own: they apply a field's typed text first, and an Undo while a
        # field holds a refused value only throws that value away
        self.undo_action = self.document.create_undo_action(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(key.Undo))
        self.undo_action.setIcon(self.style().standardIcon(sp.SP_ArrowBack))
        self.redo_action = self.document.create_redo_action(self, "&Redo")
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
        self.fit_width_action = self._action(
            "Fit &Width",
            self.graph.fit_width,
            "Ctrl+9",
            "Fit the graph's width to the window and show its start",
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
        self.left_to_right_action = self._action(
            "Left to &Right",
            self.set_left_to_right,
            "Ctrl+4",
            "Lay the graph out left to right (for wide screens) instead of top to bottom",
        )
        self.left_to_right_action.setCheckable(True)
        self.left_to_right_action.setChecked(self.direction == "LR")
        self.about_action = self._action("&About", self.about, None, "Versions and credits")
        self.shortcuts_action = self._action(
            "&Keyboard Shortcuts",
            self.show_shortcuts,
            key.HelpContents,
            "Every shortcut and mouse gesture",
        )
        self.export_actions = [
            self._action(
                spec.menu_text, lambda _c=False, s=spec: self.exporter.start(s), None, spec.tip
            )
            for spec in EXPORTS
        ]

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action, self.open_checkpoint_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: self.files.fill_recent(self.recent_menu))
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        edit.addActions([self.pin_action, self.unpin_action])
        view = self.view_menu = bar.addMenu("&View")
        view.addActions([self.block_action, self.layer_action])
        view.addSeparator()
        view.addActions([self.collapse_action, self.expand_action])
        view.addActions([self.edge_shapes_action, self.left_to_right_action])
        appearance = view.addMenu("&Appearance")
        schemes = QActionGroup(self)
        self.scheme_actions: dict[str, QAction] = {}
        for scheme in SCHEMES:

            def choose(_c: bool = False, s: str = scheme) -> None:
                self.set_scheme(s)

            action = appearance.addAction(scheme.title(), choose)
            action.setCheckable(True)
            action.setChecked(scheme == saved_scheme())
            schemes.addAction(action)
            self.scheme_actions[scheme] = action
        view.addSeparator()
        view.addActions(
            [self.fit_action, self.fit_width_action, self.zoom_in_action, self.zoom_out_action]
        )
        export = bar.addMenu("E&xport")
        export.addActions(self.export_actions)
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts_action, self.about_action])

        tools = QToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.setIconSize(QSize(16, 16))
        tools.addActions(
            [self.new_action, self.open_action, self.open_checkpoint_action, self.save_action]
        )
        tools.addSeparator()
        self.undo_button_action = self._fixed_text(self.undo_action, "Undo")
        self.redo_button_action = self._fixed_text(self.redo_action, "Redo")
        tools.addActions([self.undo_button_action, self.redo_button_action])
        tools.addSeparator()
        tools.addActions([self.block_action, self.layer_action, self.fit_action])
        tools.addSeparator()
        tools.addAction(self.pin_action)
        tools.addSeparator()
        export_button = tools.addAction("Export")
        export_button.setMenu(export)
        export_button.setToolTip("Export model.py, weights, ONNX, a diagram…")
        button = tools.widgetForAction(export_button)
        if isinstance(button, QToolButton):
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.addToolBar(tools)

    def _fixed_text(self, action: QAction, text: str) -> QAction:
        """A toolbar twin of an action whose text changes ("Undo Change width"): the same
        effect, icon and state under a fixed label, so the buttons after it stay put;
        the full text is its tooltip."""
        return _Twin(action, text, self)

    # -- the live pipeline -----------------------------------------------------------------
    def request_drawing(self) -> int | None:
        """Ask a worker for a drawing of the current analysis (None: it is still coming,
        and its arrival asks again)."""
        analysis = self.analyses.analysis
        if analysis is None or not self.analyses.is_current():
            return None
        return self.runner.submit(
            draw, analysis, self.level, frozenset(self.collapsed), self.direction
        )

    def _drawing_ready(self, _generation: int, drawing: Drawing) -> None:
        self.drawing = drawing
        self.timings = {"graph_ms": drawing.graph_ms, "layout_ms": drawing.layout_ms}
        # big graphs are built in slices across event-loop turns; _graph_finished follows
        self.graph.show_graph(drawing.graph, drawing.layout, refit=self._refit)

    def _refit_next(self) -> None:
        """A whole new design (New, Open, restore): fit its first drawing to the view."""
        self._refit = True

    def _analysis_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Could not analyse the design: {message}", 10000)

    def is_busy(self) -> bool:
        """An analysis or a layout is running or held back, or a drawing is being built."""
        return (
            self.analyses.is_busy()
            or self._draw_soon.is_pending()
            or self.runner.is_busy()
            or self.graph.building
        )

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

    def set_scheme(self, scheme: str) -> None:
        """Light, dark or the desktop's colours (View ▸ Appearance), remembered."""
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        apply_scheme(app, scheme)
        remember(scheme)
        self.scheme_actions[scheme].setChecked(True)
        self.request_drawing()  # the graph's colours come from the palette

    def set_left_to_right(self, on: bool) -> None:
        direction = "LR" if on else "TB"
        self.left_to_right_action.setChecked(on)
        if direction == self.direction:
            return
        self.direction = direction
        QSettings().setValue(DIRECTION_KEY, direction)
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

    # -- editing on the graph ----------------------------------------------------------------
    def _on_target(self, attrs: dict, act: Callable[[Target], object]) -> None:
        target = target_of(attrs, len(self.document.design.stages))
        if target is not None:
            act(target)

    def _title_button(self, stage: int, action: str, at: QPoint) -> None:
        from designer.core import edits

        editor = self.graph_editor
        if action == "add":
            editor.apply(f"Add a block to layer{stage + 1}", lambda x: edits.add_blocks(x, stage))
        elif action == "remove":
            editor.apply(
                f"Remove a block from layer{stage + 1}", lambda x: edits.remove_block(x, stage)
            )
        else:
            editor.popup(Target("stage", stage), at)

    # -- selection linking -----------------------------------------------------------------
    def _layer_selected(self, name: str) -> None:
        self._select_in_graph(name)

    def _drawn_analysis(self) -> Analysis | None:
        """The analysis the graph on screen was drawn from (its names are the graph's)."""
        return self.drawing.analysis if self.drawing is not None else None

    def _select_in_graph(self, name: str) -> None:
        if not name:
            self.graph.select_node("")
            return
        analysis = self._drawn_analysis()
        if analysis is None:
            return
        layer = next((x for x in analysis.layers if x.name == name), None)
        if layer is None:
            return
        block = next((b for b in analysis.blocks if b.name == layer.block), None)
        stage = block.stage if block is not None else None
        level_name = name if self.level == "layer" else ""
        self.graph.select_node(self.graph.node_for_layer(level_name, layer.block, stage))

    def _node_selected(self, node_id: str) -> None:
        analysis = self._drawn_analysis()
        if not node_id or self.graph.graph is None or analysis is None:
            return
        attrs = self.graph.graph.nodes[node_id]
        name = str(attrs.get("name", ""))
        if attrs.get("kind") in ("block", "stem", "head", "stage", "add", "mul"):
            block = analysis.blocks
            names = [b for b in block if b.name == attrs.get("block")]
            if names:
                name = analysis.layers[names[0].first_layer].name
            elif attrs.get("kind") == "stage":
                stage = attrs.get("stage")
                first = next((b for b in block if b.stage == stage), None)
                name = analysis.layers[first.first_layer].name if first else ""
        if name:
            self.inspector.select_layer(name, emit=False)

    # -- compare ------------------------------------------------------------------------------
    def pin_baseline(self) -> None:
        analysis = self.analyses.analysis
        if analysis is None or not self.analyses.is_current():
            self.statusBar().showMessage("Still analysing: pin again in a moment", 4000)
            return
        self.baseline = analysis
        self.inspector.set_baseline(analysis)
        self.statusBar().showMessage(f"Pinned {analysis.design.name} as the baseline", 4000)

    def clear_baseline(self) -> None:
        self.baseline = None
        self.inspector.set_baseline(None)

    # -- files -----------------------------------------------------------------------------------
    def _update_title(self) -> None:
        weights = self.insights.transfer.path if hasattr(self, "insights") else ""
        attached = f" — weights from {short_name(weights)}" if weights else ""
        self.setWindowTitle(f"{self.document.display_name()}[*]{attached} — {APP_NAME}")
        self.setWindowModified(not self.document.is_clean())

    def _checkpoint_opened(self, path: str, recovery: Recovery) -> None:
        """File > Open Checkpoint put ``path``'s design in the document: attach its weights."""
        self.insights.transfer.load(path, recovery)
        self.insights.show("transfer")

    def _warn_box(self, message: str) -> None:
        if not _headless():
            QMessageBox.warning(self, APP_NAME, message)

    def focus_field(self, field: str) -> None:
        """Point the user at the control for ``field`` (a lint finding's design path):
        scrolled into view, focused and outlined for a few seconds."""
        if self.panel.point_at(field):
            self.statusBar().showMessage(f"Fix it at {field}: the outlined control", 6000)
        else:
            self.statusBar().showMessage(f"Fix it at {field}", 6000)

    def show_shortcuts(self) -> None:
        from designer.qt.shortcuts import shortcuts_dialog

        dialog = shortcuts_dialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and self.files.maybe_save():
            event.acceptProposedAction()
            self.files.open_any(urls[0].toLocalFile())  # a design, or a checkpoint's

    def closeEvent(self, event: QCloseEvent) -> None:
        runs = self.insights.train.before_closing()  # asked first, done once the close is sure
        if runs == train_dock.CANCEL or not self.files.close():
            event.ignore()
            return
        self._save_layout()
        self.graph.cancel_build()
        self.insights.measure.stop()  # a running measurement is cancelled, not awaited
        alive = self.insights.train.detach(stop=runs == train_dock.STOP)
        if alive:
            self.statusBar().showMessage(
                f"{alive} training run(s) asked to stop; their checkpoints stay"
                if runs == train_dock.STOP
                else f"{alive} training run(s) left running; the Train tab reattaches next time"
            )
        event.accept()

    # -- help ----------------------------------------------------------------------------------
    def about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", about_text())


class _Twin(QAction):
    """An action that triggers another and follows its state, under its own text."""

    def __init__(self, action: QAction, text: str, parent: QWidget) -> None:
        super().__init__(action.icon(), text, parent)
        self._action = action
        self.triggered.connect(action.trigger)
        action.changed.connect(self.follow)  # a bound slot: disconnected when deleted
        self.follow()

    def follow(self) -> None:
        a = self._action
        if not shiboken6.isValid(a):  # the window is being torn down
            return
        self.setEnabled(a.isEnabled())
        self.setToolTip(f"{a.text().replace('&', '')} ({a.shortcut().toString()})")


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


def _headless() -> bool:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.platformName() in ("offscreen", "minimal")
