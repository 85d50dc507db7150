"""The insight docks, driven as a user would: lint, budget fit, compare, numbers, transfer.

Expected figures come from torchvision and the anchors (published counts), never
from the code under test.
"""

from __future__ import annotations

import dataclasses

from designer.core.analysis import analyse
from designer.core.design import StageSpec
from designer.core.presets import load_preset
from designer.core.report import human_count
from tests.reference import torchvision_models
from tests.reference_figures import TORCHVISION_COUNTS

RESNET50 = TORCHVISION_COUNTS["resnet50"]
RESNET101 = TORCHVISION_COUNTS["resnet101"]


def _idle(qtbot, runner, timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=timeout)


def _bad_design():
    """Layer 2 narrower than layer 1, and five stride-2 stages on a 64x64 input (1x1 by layer5)."""
    base = load_preset("resnet50")
    stages = (
        StageSpec(2, 64, 1),
        StageSpec(2, 32, 2),
        StageSpec(2, 128, 2),
        StageSpec(2, 256, 2),
        StageSpec(2, 512, 2),
        StageSpec(2, 512, 2),
    )
    small = dataclasses.replace(base.input, height=64, width=64)
    return base.replace(name="bad", stages=stages, input=small)


def test_insights_are_toggled_from_the_view_menu(qtbot, window):
    ins = window.insights
    assert not ins.area.isVisible()
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    insights_menu = next(a.menu() for a in view.actions() if a.menu() and "Insights" in a.text())
    toggles = {a.text(): a for a in insights_menu.actions() if not a.isSeparator()}
    assert set(toggles) == {
        "Insights",
        "Lint and stages",
        "Budget fit",
        "Compare",
        "Numbers",
        "Pretrained weights",
        "Measure",
        "Train",
    }
    toggles["Numbers"].trigger()
    assert ins.area.isVisible() and ins.current() == "numbers"
    toggles["Numbers"].trigger()  # opens on its tab; it never closes the area
    assert ins.area.isVisible()
    toggles["Insights"].trigger()
    assert not ins.area.isVisible()
    toggles["Insights"].trigger()
    assert ins.area.isVisible() and ins.current() == "numbers"


def test_lint_dock_lists_findings_and_points_at_the_control(qtbot, window):
    lint = window.insights.lint
    window.insights.show("lint")
    assert lint.table.rowCount() == 0  # torchvision's ResNet-50 is clean
    stage_names = [lint.stage_table.item(r, 0).text() for r in range(lint.stage_table.rowCount())]
    assert stage_names == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    # ResNet-50's output stride is 32 at layer4 (7x7 from 224)
    assert lint.stage_table.item(4, 3).text() == "32"

    window.insights.area.hide()  # a closed area catches up when it opens again
    window.document.edit("test", lambda _d: _bad_design())
    window.insights.show("lint")
    fields = [lint.table.item(r, 1).text() for r in range(lint.table.rowCount())]
    assert "stages[1].width" in fields  # 64 -> 32 channels: widths shrink
    assert "stages[5].stride" in fields  # 64 / 2**6 < 1: already 1x1 before layer6
    row = fields.index("stages[1].width")
    with qtbot.waitSignal(lint.fieldRequested) as blocker:
        lint.table.selectRow(row)
    assert blocker.args == ["stages[1].width"]
    assert "stages[1].width" in lint.target.text()
    assert window.panel.widget_for("stages[1].width").hasFocus()

    window.document.undo_stack.undo()
    assert lint.table.rowCount() == 0


def test_fit_dock_meets_the_budget_and_apply_is_one_undo_step(qtbot, window):
    fit = window.insights.fit
    window.insights.show("fit")
    fit.max_macs.setText("two G")
    fit.run_fit()
    assert fit.error.isVisible() and "max MACs" in fit.error.text()

    fit.max_macs.setText("2G")
    fit.max_params.setText("10M")
    fit.run_fit()
    qtbot.waitUntil(lambda: bool(fit.candidates), timeout=20_000)
    assert not fit.error.isVisible()
    assert fit.table.rowCount() == len(fit.candidates)
    for candidate in fit.candidates:
        result = analyse(candidate.design)
        assert result.macs <= 2_000_000_000
        assert result.params <= 10_000_000
        assert fit.table.item(fit.candidates.index(candidate), 5).text() == candidate.binding

    before = window.document.design
    fit.table.selectRow(1)
    chosen = fit.candidates[1].design
    fit.apply()
    assert window.document.design == chosen.replace(name="ResNet-50 (fit 2G MACs, 10M params)")
    assert window.document.design != before
    window.document.undo_stack.undo()
    assert window.document.design == before


def test_numbers_dock_explains_the_selected_conv(qtbot, window):
    numbers = window.insights.numbers
    window.insights.show("numbers")
    reference = torchvision_models().resnet50()
    conv = reference.layer2[0].conv2  # 3x3, 128 -> 128, stride 2 (v1.5)
    expected = conv.weight.numel()
    assert window.inspector.select_layer("layer2.0.conv2")
    assert numbers.layer_name == "layer2.0.conv2"
    assert f"3*3*128/1*128 = {expected:,}" in numbers.formula.text()
    assert numbers.layer_params.text() == f"{expected:,}"
    macs = expected * 28 * 28  # one weight per output pixel of the 28x28 map
    assert numbers.layer_macs.text() == f"{macs:,}"
    assert numbers.layer_flops.text() == f"{2 * macs:,}"

    # AdamW keeps two fp32 moments per parameter; momentum SGD one
    numbers.optimiser.setCurrentIndex(numbers.optimiser.findData("adamw"))
    params = sum(p.numel() for p in reference.parameters())
    assert numbers.breakdown().optimiser == 2 * 4 * params
    full = numbers.breakdown().activations
    numbers.mixed.setChecked(True)
    assert numbers.breakdown().activations < 0.6 * full  # 16-bit, bar the batch and indices
    numbers.checkpointing.setChecked(True)
    assert numbers.breakdown().activations < full // 2
    assert numbers.memory["total"].text() != "–"


def test_compare_dock_shows_deltas_and_plots(qtbot, window, tmp_path):
    compare = window.insights.compare
    window.insights.show("compare")
    compare.pin_current()
    compare.add_preset("resnet101")
    params_delta = human_count(RESNET101.params - RESNET50.params)
    macs_delta = human_count(RESNET101.macs - RESNET50.macs)
    assert compare.cell_text("Params", 0) == human_count(RESNET50.params)
    assert f"+{params_delta}" in compare.cell_text("Params", 1)
    assert f"+{macs_delta}" in compare.cell_text("MACs", 1)
    models = torchvision_models()
    layer3 = [
        sum(p.numel() for p in m.layer3.parameters())
        for m in (models.resnet50(), models.resnet101())
    ]
    assert f"+{human_count(layer3[1] - layer3[0])}" in compare.cell_text("layer3 params", 1)
    assert compare.cell_text("layer1 params", 1).endswith("=")  # same first stage
    labels = [p.label for p in compare.plot.points if p.pinned]
    assert labels == ["ResNet-50", "resnet101"]
    assert "resnet50" not in [p.label for p in compare.plot.points]  # pinned, not twice
    target = tmp_path / "pareto.svg"
    compare.save_plot(target)
    _idle(qtbot, compare.save_runner)
    assert "<svg" in target.read_text(encoding="utf-8")[:2000]


def test_transfer_dock_matches_a_resnet18_checkpoint_to_resnet34(qtbot, window, tmp_path):
    import torch

    from designer.core.torch.build import build

    models = torchvision_models()
    r18, r34 = models.resnet18().state_dict(), models.resnet34().state_dict()
    fits = {k for k, v in r34.items() if k in r18 and r18[k].shape == v.shape}
    path = tmp_path / "resnet18.pt"
    torch.save(build(load_preset("resnet18")).state_dict(), path)

    transfer = window.insights.transfer
    window.insights.show("transfer")
    window.document.edit("test", lambda _d: load_preset("resnet34"))
    transfer.load(path)
    _idle(qtbot, transfer.runner)
    report = transfer.report
    assert report is not None
    assert set(report.matched) == fits
    assert set(report.missing) == set(r34) - fits
    assert not report.unexpected and not report.shape_mismatch  # resnet18 is a prefix of 34
    assert transfer.group_counts()["Fit"] == len(fits)

    # an edit while a check runs: the stale report is dropped, the new design's shown
    window.document.edit("test", lambda _d: load_preset("resnet18"))
    qtbot.waitUntil(lambda: transfer.report is not report, timeout=20_000)
    _idle(qtbot, transfer.runner)
    assert set(transfer.report.matched) == set(r18)
    assert not transfer.report.missing


def test_transfer_dock_reports_an_unreadable_checkpoint_in_one_line(qtbot, window, tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a checkpoint", encoding="utf-8")
    transfer = window.insights.transfer
    transfer.load(path)
    _idle(qtbot, transfer.runner)
    assert transfer.report is None
    assert transfer.summary.text().startswith("⚠") and "notes.pt" in transfer.summary.text()
    assert "\n" not in transfer.summary.text()
