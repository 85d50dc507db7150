"""Per-stage options, the new network-wide controls and the grouped preset list, driven
as a user drives them: clicks on the real cells, typed text, arrow keys, the toolbar.

Expected numbers always come from the core's analysis of the design the edit should
have made, never from a number written down here.
"""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QToolBar,
)

from designer.core.analysis import analyse
from designer.core.blocks import BLOCK_KINDS
from designer.core.design import STAGE_OVERRIDES, Design
from designer.core.presets import SOURCES, load_preset, preset_groups
from designer.qt.design_panel import CUSTOM, INHERITED, INVALID, PRESET_ROLE
from designer.qt.fields import FIELD_BY_PATH, STAGE_OPTIONS


def _number(text: str) -> int:
    return int(text.split()[0].replace(",", ""))


def _shows_numbers_of(qtbot, window, design: Design) -> None:
    """The document holds ``design`` and the inspector shows the core's numbers for it."""
    assert window.document.design == design
    expected = analyse(design)
    qtbot.waitUntil(
        lambda: _number(window.inspector.values["params"].text()) == expected.params,
        timeout=3000,
    )
    assert _number(window.inspector.values["macs"].text()) == expected.macs


def _click_check(qtbot, check: QCheckBox) -> None:
    """Click a check box on its box and label (a wide one's centre may be empty space)."""
    width = min(check.width(), check.sizeHint().width())
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(width // 2, check.height() // 2))


def _show_options(qtbot, window) -> None:
    stages = window.panel.stages
    if not stages.options_visible():
        _click_check(qtbot, stages.options_toggle)
    assert stages.options_visible()
    assert stages.option(0, "block").isVisibleTo(window)
    assert not stages.spin(0, "depth").isVisibleTo(window)


def _type(qtbot, line: QLineEdit, text: str) -> None:
    """Click into a cell, replace its text (an empty text clears it), press Enter."""
    qtbot.mouseClick(line, Qt.MouseButton.LeftButton)
    qtbot.keyClick(line, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    if text:
        qtbot.keyClicks(line, text)
    else:
        qtbot.keyClick(line, Qt.Key.Key_Delete)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def _arrow(qtbot, combo: QComboBox, key: Qt.Key = Qt.Key.Key_Down, times: int = 1) -> None:
    """Step a closed combo box with the arrow keys, as a keyboard user does."""
    combo.setFocus()
    for _ in range(times):
        qtbot.keyClick(combo, key)


def _undo(qtbot, window) -> None:
    toolbar = window.findChild(QToolBar, "mainToolbar")
    button = toolbar.widgetForAction(window.undo_button_action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _items(combo: QComboBox) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


@pytest.fixture
def warnings(window) -> list[str]:
    """Every message box the window would have raised (none is expected)."""
    shown: list[str] = []
    window.warn = shown.append
    return shown


def test_the_options_are_the_core_overrides_plus_dilate():
    assert tuple(o.key for o in STAGE_OPTIONS) == (*STAGE_OVERRIDES, "dilate")
    for option in STAGE_OPTIONS:
        network = FIELD_BY_PATH.get(option.key)
        # one description per field: a stage column reuses the network-wide field's
        assert option.tooltip.startswith(network.tooltip) if network else option.tooltip


def test_stage_block_through_the_table_changes_design_and_analysis_and_undoes(qtbot, window):
    original = window.document.design
    _show_options(qtbot, window)
    combo = window.panel.stages.option(3, "block")
    # only the post-activation blocks of this post-activation network, after its own
    post = {name for name, kind in BLOCK_KINDS.items() if not kind.preact}
    assert _items(combo)[0] == "(bottleneck)" and set(_items(combo)[1:]) == post
    assert {"basic", "bottleneck", "res2net"} <= post and "preact_basic" not in post
    assert combo.property(INHERITED) is True
    _arrow(qtbot, combo)
    _shows_numbers_of(qtbot, window, original.with_stage(3, block="basic"))
    assert combo.currentText() == "basic" and not combo.property(INHERITED)
    assert window.panel.stages.options_toggle.text() == "Per-stage options (1 set)"

    _undo(qtbot, window)
    _shows_numbers_of(qtbot, window, original)
    assert window.document.design.stages[3].block is None
    assert combo.currentText() == "(bottleneck)" and combo.property(INHERITED) is True


def test_delete_in_a_choice_cell_returns_the_stage_to_the_network(qtbot, window):
    original = window.document.design
    _show_options(qtbot, window)
    combo = window.panel.stages.option(1, "stride_on")
    _arrow(qtbot, combo, times=2)  # (3x3) -> 3x3 -> 1x1
    assert window.document.design == original.with_stage(1, stride_on="1x1")
    qtbot.keyClick(combo, Qt.Key.Key_Delete)
    assert window.document.design == original
    assert window.document.design.stages[1].stride_on is None


def test_grouped_stage_typed_then_cleared_returns_to_none(qtbot, window):
    original = window.document.design
    _show_options(qtbot, window)
    groups = window.panel.stages.option(1, "groups")
    per_group = window.panel.stages.option(1, "width_per_group")
    # blank cells show what applies: the network's groups and width per group
    assert groups.text() == "" and groups.placeholderText() == str(original.groups)
    assert per_group.placeholderText() == str(original.width_per_group)
    _type(qtbot, groups, "32")
    _type(qtbot, per_group, "4")
    _shows_numbers_of(qtbot, window, original.with_stage(1, groups=32, width_per_group=4))

    _type(qtbot, groups, "")
    _shows_numbers_of(qtbot, window, original.with_stage(1, width_per_group=4))
    assert window.document.design.stages[1].groups is None
    assert groups.text() == "" and groups.placeholderText() == "1"
    _undo(qtbot, window)
    assert window.document.design.stages[1].groups == 32


def test_se_on_one_stage_counts_its_gates_and_undoes(qtbot, window):
    original = window.document.design
    _show_options(qtbot, window)
    se = window.panel.stages.option(2, "se_ratio")
    assert se.placeholderText() == repr(original.se_ratio)
    _type(qtbot, se, "0.0625")
    _shows_numbers_of(qtbot, window, original.with_stage(2, se_ratio=0.0625))
    assert analyse(window.document.design).params > analyse(original).params
    _undo(qtbot, window)
    _shows_numbers_of(qtbot, window, original)
    assert se.text() == ""


def test_dilate_keeps_the_resolution_and_undoes(qtbot, window):
    original = window.document.design
    _show_options(qtbot, window)
    check = window.panel.stages.option(3, "dilate")
    _click_check(qtbot, check)
    dilated = original.with_stage(3, dilate=True)
    _shows_numbers_of(qtbot, window, dilated)  # same weights, 4x the last stage's MACs
    assert analyse(dilated).macs > analyse(original).macs
    assert check.isChecked()
    _undo(qtbot, window)
    _shows_numbers_of(qtbot, window, original)
    assert not check.isChecked()


def test_dilating_a_stage_of_stride_1_is_refused_naming_the_field(qtbot, window, warnings):
    original = window.document.design
    _show_options(qtbot, window)
    check = window.panel.stages.option(0, "dilate")  # the first stage does not stride
    _click_check(qtbot, check)
    assert window.document.design == original  # refused: nothing changed
    assert window.document.error is not None and window.document.error[1] == "stages[0].dilate"
    message = window.panel.error_label.text()
    assert message.startswith("stages[0].dilate:") and "stride 1" in message
    assert "\n" not in message and window.panel.error_label.isVisibleTo(window)
    assert check.property(INVALID) is True
    assert warnings == [] and QApplication.activeModalWidget() is None
    _click_check(qtbot, check)  # taking it back clears the mark
    assert window.document.error is None and not check.property(INVALID)


def test_groups_a_basic_stage_cannot_have_are_refused_naming_the_field(qtbot, window, warnings):
    _show_options(qtbot, window)
    _arrow(qtbot, window.panel.stages.option(0, "block"))  # (bottleneck) -> basic
    basic = window.document.design
    assert basic.stages[0].block == "basic"
    groups = window.panel.stages.option(0, "groups")
    _type(qtbot, groups, "32")
    assert window.document.design == basic
    assert window.document.error[1] == "stages[0].groups"
    assert window.panel.error_label.text().startswith("stages[0].groups:")
    assert "bottleneck" in window.panel.error_label.text()  # the fix: a bottleneck block
    assert groups.property(INVALID) is True and groups.text() == "32"

    _type(qtbot, groups, "many")  # not a number at all: the same one line, the same field
    assert window.document.design == basic
    assert window.document.error[1] == "stages[0].groups"
    assert "whole number" in window.panel.error_label.text()
    _type(qtbot, groups, "")  # clearing the cell is always allowed
    assert window.document.error is None and not groups.property(INVALID)
    assert warnings == []


def test_a_network_edit_a_stage_refuses_shows_the_stage_option(qtbot, window):
    _show_options(qtbot, window)
    _arrow(qtbot, window.panel.stages.option(2, "block"))  # stage 3 basic
    _click_check(qtbot, window.panel.stages.options_toggle)  # back to depths and widths
    assert not window.panel.stages.options_visible()
    groups = window.panel.widgets["groups"]
    groups.setFocus()
    groups.lineEdit().selectAll()
    qtbot.keyClicks(groups, "32")
    qtbot.keyClick(groups, Qt.Key.Key_Return)
    assert window.document.error[1] == "stages[2].groups"
    # the refusal names a per-stage option: its columns come back, marked
    assert window.panel.stages.options_visible()
    assert window.panel.stages.option(2, "groups").property(INVALID) is True


def test_pre_activation_networks_offer_their_own_blocks_and_a_bare_stem(qtbot, window):
    block = window.panel.widgets["block"]
    _arrow(qtbot, block, times=2)  # bottleneck -> preact_basic -> preact_bottleneck
    preact = window.document.design
    assert preact.block == "preact_bottleneck"
    _show_options(qtbot, window)
    combo = window.panel.stages.option(0, "block")
    assert _items(combo) == ["(preact_bottleneck)", "preact_basic", "preact_bottleneck"]

    norm_act = window.panel.widgets["stem.norm_act"]
    assert norm_act.isChecked()
    _click_check(qtbot, norm_act)
    bare = preact.replace(stem=dataclasses.replace(preact.stem, norm_act=False))
    _shows_numbers_of(qtbot, window, bare)
    # the stem's norm moves into the first block (timm's ResNetV2), and the table says so
    model = window.inspector.model
    names = [model.layer(row).name for row in range(model.rowCount())]
    assert "bn1" not in names and "layer1.0.bn1" in names


def test_stem_norm_act_off_is_refused_for_post_activation_blocks(qtbot, window, warnings):
    original = window.document.design
    norm_act = window.panel.widgets["stem.norm_act"]
    _click_check(qtbot, norm_act)
    assert window.document.design == original
    assert window.document.error[1] == "stem.norm_act"
    assert norm_act.property(INVALID) is True and warnings == []
    assert "timm" in norm_act.toolTip() and "pre-activation" in norm_act.toolTip()


@pytest.mark.parametrize(
    ("path", "origin"), [("drop_path_rate", "drop_path_rate"), ("block_dropout", "Wide ResNet")]
)
def test_regularisers_are_typed_in_and_leave_the_numbers(qtbot, window, path, origin):
    original = window.document.design
    box = window.panel.widgets[path]
    assert origin in box.toolTip()
    box.setFocus()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "0.2")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    _shows_numbers_of(qtbot, window, original.replace(**{path: 0.2}))  # training only
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "1")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert window.document.design == original.replace(**{path: 0.2})
    assert window.document.error[1] == path  # 1 would drop every block: refused


def test_lint_pointing_at_a_stage_option_shows_and_focuses_it(qtbot, window):
    assert not window.panel.stages.options_visible()
    window.focus_field("stages[2].se_ratio")
    assert window.panel.stages.options_visible()
    assert window.panel.widget_for("stages[2].se_ratio") is window.panel.stages.option(
        2, "se_ratio"
    )
    window.focus_field("stages[2].depth")
    assert not window.panel.stages.options_visible()


def _preset_items(combo: QComboBox) -> list[tuple[str, bool]]:
    model = combo.model()
    return [
        (combo.itemText(i), bool(model.flags(model.index(i, 0)) & Qt.ItemFlag.ItemIsEnabled))
        for i in range(combo.count())
    ]


def test_presets_are_grouped_by_source_under_titles_that_cannot_be_chosen(window):
    expected: list[tuple[str, bool]] = [(CUSTOM, True)]
    for source, names in preset_groups():
        expected.append((SOURCES.get(source, "Other presets"), False))
        expected += [(name, True) for name in names]
    assert _preset_items(window.panel.preset) == expected


def test_preset_keys_skip_the_titles_and_load_by_keyboard(qtbot, window):
    combo = window.panel.preset
    groups = preset_groups()
    assert len(groups) >= 2
    first_group, second_group = groups[0][1], groups[1][1]
    assert combo.currentText() == "resnet50" and "resnet50" in first_group
    # down to the first group's last preset, then over the next group's title
    steps = len(first_group) - first_group.index("resnet50")
    _arrow(qtbot, combo, times=steps)
    assert window.document.design == load_preset(second_group[0])
    assert combo.currentText() == second_group[0]
    assert combo.itemData(combo.currentIndex(), PRESET_ROLE) == second_group[0]
    _arrow(qtbot, combo, Qt.Key.Key_Up)  # back over the title
    assert window.document.design == load_preset(first_group[-1])

    # the design is a preset again after an edit is undone (_preset_of)
    window.panel.stages.spin(0, "depth").stepBy(1)
    assert combo.currentText() == CUSTOM
    _undo(qtbot, window)
    assert combo.currentText() == first_group[-1]


def test_preset_popup_loads_by_keyboard(qtbot, window):
    combo = window.panel.preset
    groups = preset_groups()
    target = groups[1][1][0]  # the second source's first preset, after its title
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=2000)
    while combo.itemText(view.currentIndex().row()) != groups[0][1][-1]:
        qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Down)  # over the title, never onto it
    assert combo.itemText(view.currentIndex().row()) == target
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=2000)
    assert window.document.design == load_preset(target)
    assert combo.currentText() == target


def _option_columns_fit(window) -> None:
    stages = window.panel.stages
    table = stages.table
    header = table.horizontalHeader()
    scroll = window.panel_scroll
    # the whole panel fits its pane: nothing is cut at the right edge
    assert scroll.viewport().width() >= window.panel.minimumSizeHint().width()
    for col in range(table.columnCount()):
        if table.isColumnHidden(col):
            continue
        assert table.columnWidth(col) >= header.sectionSizeHint(col), col
        for row in range(table.rowCount()):
            cell = table.cellWidget(row, col)
            # the cell's widget fills the cell (nothing resizes it behind the table's back)
            assert cell.geometry() == table.visualRect(table.model().index(row, col)), (row, col)
            if isinstance(cell, QComboBox):
                sized = QComboBox()  # the width its items need, as Qt measures it
                sized.addItems(_items(cell))
                sized.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
                need = sized.sizeHint().width()
            elif isinstance(cell, QLineEdit):
                text = cell.text() or cell.placeholderText()
                need = cell.fontMetrics().horizontalAdvance(text) + 4
            else:
                need = cell.findChild(QCheckBox).sizeHint().width()
            assert cell.width() >= need, (row, col)
    # every row is shown
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    assert table.height() >= rows + header.height()


def test_options_fit_a_1280_by_800_window(qtbot, window):
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=2000)
    narrow = window.panel_scroll.minimumWidth()
    _show_options(qtbot, window)
    qtbot.wait(10)
    assert window.panel_scroll.minimumWidth() > narrow  # the pane widened for the options
    _option_columns_fit(window)
    _arrow(qtbot, window.panel.widgets["block"], times=2)  # the longest block names
    qtbot.wait(50)  # (a combo box that sized itself to its items did so after 20 ms)
    _option_columns_fit(window)
    _arrow(qtbot, window.panel.widgets["block"], Qt.Key.Key_Up, times=2)  # shorter again
    qtbot.wait(50)
    _option_columns_fit(window)
    graph, inspector = window.splitter.sizes()[1:]
    assert graph > 200 and inspector > 300  # the graph and the layer table stay usable
    _click_check(qtbot, window.panel.stages.options_toggle)
    qtbot.wait(10)
    assert window.panel_scroll.minimumWidth() == narrow


def test_every_preset_shows_its_stage_options(qtbot, window):
    """Whatever the presets hold (timm's dilated, grouped, bare-stem designs), each cell
    shows the stage's own value or, blank, the network's."""
    from designer.core.presets import preset_names

    stages = window.panel.stages
    for name in preset_names():
        design = load_preset(name)
        if sum(s.depth for s in design.stages) > 200:
            continue  # legal, but thousands of layers would only slow this test
        window.document.reset(design)
        assert window.panel.preset.currentText() == name
        for row, stage in enumerate(design.stages):
            for option in STAGE_OPTIONS:
                editor = stages.option(row, option.key)
                value = getattr(stage, option.key)
                network = getattr(design, option.key, None)
                if isinstance(editor, QComboBox):
                    assert editor.currentData() == value, (name, row, option.key)
                    assert editor.itemText(0) == f"({network})"
                elif isinstance(editor, QLineEdit):
                    assert editor.text() == ("" if value is None else str(value)), name
                    assert editor.placeholderText() == str(network), name
                else:
                    assert editor.isChecked() == value, (name, row)
        assert window.panel.widgets["stem.norm_act"].isChecked() == design.stem.norm_act
        qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
