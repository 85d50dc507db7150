"""The Insights area, the interactive Compare plot, fit names, one batch size,
and where the checkpoint dialog opens. Driven with real key and mouse events.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QFileDialog, QToolTip

from designer.core.explain import training_memory
from designer.core.presets import load_preset
from tests.qt.waiting import settled
from tests.reference_figures import TORCHVISION_COUNTS

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
DIGITS = [getattr(Qt.Key, f"Key_{n}") for n in range(10)]
RESNET34 = TORCHVISION_COUNTS["resnet34"]
RESNET101 = TORCHVISION_COUNTS["resnet101"]


def _short(counts) -> tuple[str, str]:
    """Params in millions and MACs in billions, two decimals: the hover text's form."""
    return f"{counts.params / 1e6:.2f}M", f"{counts.macs / 1e9:.2f}G"


def _press(qtbot, window, key, modifiers=CTRL_ALT) -> None:
    window.activateWindow()
    qtbot.keyClick(window, key, modifiers)


def _insights_menu(window):
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    return next(a.menu() for a in view.actions() if a.menu() and "Insights" in a.text())


# -- one area --------------------------------------------------------------------------
def test_the_insights_are_one_dock_with_seven_tabs_opened_and_closed_as_a_whole(qtbot, window):
    ins = window.insights
    names = {d.objectName() for d in window.findChildren(QDockWidget)}
    assert "insightsDock" in names
    assert not names & {f"{n}Dock" for n in ("lint", "fit", "compare", "numbers", "transfer")}
    area = ins.area
    assert area.windowTitle() == "Insights" and not area.isVisible()
    tabs = ins.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == [
        "Lint and stages",
        "Budget fit",
        "Compare",
        "Numbers",
        "Pretrained weights",
        "Measure",
        "Train",
    ]
    assert all(tabs.tabToolTip(i) for i in range(tabs.count()))

    texts = [a.text() for a in _insights_menu(window).actions() if not a.isSeparator()]
    assert texts[0] == "Insights" and len(texts) == 8
    toggle = ins.toggle
    assert toggle.isCheckable() and not toggle.isChecked()
    assert toggle.shortcut().toString() == "Ctrl+Alt+0"

    _press(qtbot, window, Qt.Key.Key_4)  # Ctrl+Alt+4: open on the Numbers tab
    qtbot.waitUntil(area.isVisible)
    assert ins.current() == "numbers" and ins.numbers.isVisible()
    assert toggle.isChecked()
    _press(qtbot, window, Qt.Key.Key_2)  # another tab: the area stays, the tab changes
    assert area.isVisible() and ins.current() == "fit" and not ins.numbers.isVisible()

    # a modest height: at most ~30% of the window, and about 240 px
    qtbot.waitUntil(lambda: area.height() <= max(0.3 * window.height(), 120) + 8)
    assert area.height() <= 260

    _press(qtbot, window, Qt.Key.Key_0)  # the whole area closes at once...
    qtbot.waitUntil(lambda: not area.isVisible())
    assert not toggle.isChecked()
    _press(qtbot, window, Qt.Key.Key_0)  # ...and opens again on the tab it showed
    qtbot.waitUntil(area.isVisible)
    assert ins.current() == "fit"


def test_show_opens_the_area_on_that_tab(qtbot, window):
    ins = window.insights
    ins.show("transfer")
    assert ins.area.isVisible() and ins.current() == "transfer"
    assert ins.docks["transfer"] is ins.area  # the older mapping still answers
    ins.show("lint")
    assert ins.current() == "lint" and ins.lint.isVisible() and not ins.transfer.isVisible()


# -- the Compare plot --------------------------------------------------------------------
def _compare(qtbot, window):
    window.insights.show("compare")
    plot = window.insights.compare.plot
    qtbot.waitUntil(lambda: bool(plot.points) and plot.width() > 100)
    settled(qtbot, plot)
    return plot


def test_compare_plot_names_a_point_on_hover_and_loads_it_on_click(qtbot, window):
    plot = _compare(qtbot, window)
    assert plot.font().pointSizeF() == QApplication.font().pointSizeF()  # no 4-px labels
    at = plot.position_of("resnet34")
    qtbot.mouseMove(plot, at)
    qtbot.waitUntil(lambda: "ResNet-34" in plot.hover_text())
    text = plot.hover_text()
    assert all(figure in text for figure in _short(RESNET34))  # "21.80M", "3.66G"
    assert QToolTip.isVisible() and "ResNet-34" in QToolTip.text()

    stack = window.document.undo_stack
    before = window.document.design
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=at)
    assert window.document.design == load_preset("resnet34")
    assert stack.undoText() == "Load resnet34 from Compare"
    stack.undo()
    assert window.document.design == before

    qtbot.mouseMove(plot, QPoint(2, 2))  # away from every point: no tip
    qtbot.waitUntil(lambda: plot.hover_text() == "")


def test_compare_plot_loads_a_pinned_design_and_follows_the_dock(qtbot, window):
    plot = _compare(qtbot, window)
    compare = window.insights.compare
    qtbot.mouseClick(compare.pin_button, Qt.MouseButton.LeftButton)
    compare.preset.setFocus()
    index = compare.preset.findText("resnet101")
    while compare.preset.currentIndex() != index:  # choose it with the keyboard
        key = Qt.Key.Key_Down if compare.preset.currentIndex() < index else Qt.Key.Key_Up
        qtbot.keyClick(compare.preset, key)
    qtbot.mouseClick(compare.add_button, Qt.MouseButton.LeftButton)
    labels = [p.label for p in plot.points if p.pinned]
    assert labels == ["ResNet-50", "resnet101"]
    at = plot.position_of("resnet101")
    qtbot.mouseMove(plot, at)
    qtbot.waitUntil(lambda: "resnet101" in plot.hover_text())
    assert all(figure in plot.hover_text() for figure in _short(RESNET101))
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=at)
    assert window.document.design == load_preset("resnet101")
    assert window.document.undo_stack.undoText() == "Load resnet101 from Compare"

    # the plot is drawn to its widget's size: a taller dock, a taller plot, same figures
    small = plot.height()
    window.resizeDocks([window.insights.area], [small + 200], Qt.Orientation.Vertical)
    window.resize(window.width(), window.height() + 300)
    qtbot.waitUntil(lambda: plot.height() > small + 50)
    settled(qtbot, plot)
    qtbot.mouseMove(plot, plot.position_of("resnet101"))
    qtbot.waitUntil(lambda: "resnet101" in plot.hover_text())


def test_compare_plot_export_still_writes_the_figure(qtbot, window, tmp_path):
    _compare(qtbot, window)
    compare = window.insights.compare
    target = tmp_path / "pareto.png"
    compare.save_plot(target)
    qtbot.waitUntil(lambda: not compare.save_runner.is_busy(), timeout=20_000)
    assert target.read_bytes().startswith(b"\x89PNG")


# -- a fitted design is named after its budget ----------------------------------------
def _fit_and_apply(qtbot, fit, macs: str = "", params: str = "") -> None:
    for line, text in ((fit.max_macs, macs), (fit.max_params, params)):
        line.setFocus()
        line.selectAll()
        qtbot.keyClick(line, Qt.Key.Key_Delete)
        if text:
            qtbot.keyClicks(line, text)
    fit.candidates = []
    qtbot.mouseClick(fit.fit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(fit.candidates), timeout=20_000)
    rect = fit.table.visualRect(fit.table.model().index(0, 0))
    qtbot.mouseClick(fit.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert fit.apply_button.isEnabled()
    qtbot.mouseClick(fit.apply_button, Qt.MouseButton.LeftButton)


def test_applying_a_fit_names_the_design_after_its_budget_once(qtbot, window):
    window.insights.show("fit")
    fit = window.insights.fit
    _fit_and_apply(qtbot, fit, macs="2G")
    assert window.document.design.name == "ResNet-50 (fit 2G MACs)"
    _fit_and_apply(qtbot, fit, macs="1.5G", params="8M")  # the earlier suffix is replaced
    assert window.document.design.name == "ResNet-50 (fit 1.5G MACs, 8M params)"

    compare = window.insights.compare
    window.insights.show("compare")
    qtbot.mouseClick(compare.pin_button, Qt.MouseButton.LeftButton)
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    qtbot.mouseClick(compare.pin_button, Qt.MouseButton.LeftButton)
    headers = [compare.table.horizontalHeaderItem(i).text() for i in (1, 2)]
    assert headers == ["ResNet-50 (fit 1.5G MACs, 8M params)", "ResNet-50"]


# -- one batch size ----------------------------------------------------------------------
def _type_batch(qtbot, spin, value: int) -> None:
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_the_numbers_and_fit_batch_sizes_are_one_and_say_when_the_user_changes_it(qtbot, window):
    ins = window.insights
    numbers, fit = ins.numbers, ins.fit
    ins.show("numbers")
    heard: list[int] = []
    ins.on_batch_changed(heard.append)
    _type_batch(qtbot, numbers.batch, 64)
    assert heard[-1] == 64 and fit.batch.value() == 64
    assert numbers.breakdown().activations == training_memory(numbers.analysis, 64).activations
    heard.clear()

    ins.set_batch(8)  # from elsewhere (the inspector): shown, never echoed back
    assert numbers.batch.value() == 8 and fit.batch.value() == 8 and heard == []
    assert numbers.breakdown().activations == training_memory(numbers.analysis, 8).activations

    ins.show("fit")
    _type_batch(qtbot, fit.batch, 128)
    assert heard[-1] == 128 and numbers.batch.value() == 128
    assert fit.budget().batch_size == 128


# -- the checkpoint dialog opens in the design's folder ---------------------------------
def test_choose_checkpoint_starts_in_the_designs_folder_or_the_last_one(
    qtbot, window, tmp_path, monkeypatch
):
    asked: list[str] = []
    answer = {"path": ""}

    def fake(_parent, _caption, directory, _filter, *args, **kwargs):
        asked.append(directory)
        return answer["path"], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake))
    transfer = window.insights.transfer
    loaded: list[str] = []
    monkeypatch.setattr(transfer, "load", lambda path, recovery=None: loaded.append(str(path)))
    window.insights.show("transfer")
    button = transfer.choose

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # untitled, nothing chosen yet
    assert Path(asked[-1]) == Path.home()

    weights = tmp_path / "weights"
    weights.mkdir()
    answer["path"] = str(weights / "r18.pt")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert loaded == [str(weights / "r18.pt")]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # remembered
    assert Path(asked[-1]) == weights

    designs = tmp_path / "designs"
    designs.mkdir()
    window.document.save(designs / "mine.resnet.json")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # a saved design: its folder
    assert Path(asked[-1]) == designs
