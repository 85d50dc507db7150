"""The app under abuse: thousands of seeded random edits on the real widgets, hostile files.

Checks that nothing raises, every design the document holds (and so every view
shows) is valid, the undo stack replays to exactly the final design, and the
event loop kept turning between edits (a 5 ms heartbeat's longest gap).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

import pytest
from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from designer.core.design import validate
from designer.core.io import dumps, save
from designer.core.presets import load_preset

EDITS = int(os.environ.get("MONKEY_EDITS", "2000"))
SEED = 20261123
# a freeze guard, not a speed figure (bench/bench_gui.py measures the stalls): the longest
# gap is printed, and only an event loop stopped for seconds fails
MAX_GAP_MS = 1500

TEXTS = [
    "512, 256",
    "",
    "abc",
    "-5",
    "0",
    "1e9",
    "99999999999999999999",
    "64,,32",
    "7; 9",
    "１２",  # noqa: RUF001 (fullwidth digits on purpose: hostile input)
    "\x00",
    "a" * 300,
    "名前 🙂",
    '"); import os #',
]

# a per-stage number cell: blank (the network's value), good values, junk
OPTION_TEXTS = ["", "", "1", "2", "4", "8", "32", "64", "0.25", "0.0625", "0", "-3", "1e9", "x"]


def _int_values(rng: random.Random, low: int, high: int, cap: int | None = None) -> int:
    top = min(high, cap) if cap else high
    return rng.choice([low, low + 1, 2, 3, 7, 16, 64, 100, 513, top, rng.randint(low, top)])


class Monkey:
    def __init__(self, window, rng: random.Random) -> None:
        self.w = window
        self.rng = rng
        self.counts: dict[str, int] = {}

    def step(self) -> None:
        rng = self.rng
        actions = [
            (30, self.stage_spin),
            (30, self.field),
            (12, self.stage_option),
            (8, self.stage_buttons),
            (4, self.preset),
            (8, self.undo),
            (6, self.redo),
        ]
        total = sum(w for w, _ in actions)
        pick = rng.uniform(0, total)
        for weight, action in actions:
            pick -= weight
            if pick <= 0:
                self.counts[action.__name__] = self.counts.get(action.__name__, 0) + 1
                action()
                return

    def stage_spin(self) -> None:
        spins = self.w.panel.stages.spins
        column = self.rng.randrange(len(spins[0]))
        box = self.rng.choice(spins)[column]
        # depth 10,000 is legal and tested in test_huge; here it would only slow the run
        cap = 48 if column == 0 else None
        box.setValue(_int_values(self.rng, box.minimum(), box.maximum(), cap))

    def field(self) -> None:
        widget = self.rng.choice(list(self.w.panel.widgets.values()))
        rng = self.rng
        if isinstance(widget, QComboBox):
            widget.setCurrentIndex(rng.randrange(widget.count()))
        elif isinstance(widget, QSpinBox):
            widget.setValue(_int_values(rng, widget.minimum(), widget.maximum()))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(rng.choice([0.0, 0.0625, 0.25, 0.5, 1.0, widget.maximum(), 1e-4]))
        elif isinstance(widget, QCheckBox):
            widget.toggle()
        elif isinstance(widget, QLineEdit):
            widget.setText(rng.choice(TEXTS))
            widget.editingFinished.emit()

    def stage_option(self) -> None:
        """A per-stage option cell: a choice, a typed number (or junk, or blank), dilate;
        now and then the toggle between the shape and option columns."""
        stages = self.w.panel.stages
        rng = self.rng
        if rng.random() < 0.05:
            stages.options_toggle.toggle()
            return
        editor = rng.choice(list(rng.choice(stages.options).values()))
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(rng.randrange(editor.count()))
        elif isinstance(editor, QCheckBox):
            editor.toggle()
        elif isinstance(editor, QLineEdit):
            editor.setText(rng.choice(OPTION_TEXTS))
            editor.editingFinished.emit()

    def stage_buttons(self) -> None:
        stages = self.w.panel.stages
        if stages.table.rowCount():
            stages.table.selectRow(self.rng.randrange(stages.table.rowCount()))
        button = self.rng.choice(
            [stages.add_button, stages.remove_button, stages.up_button, stages.down_button]
        )
        if len(self.w.document.design.stages) > 8 and button is stages.add_button:
            button = stages.remove_button  # keep the graph small enough to stay quick
        button.click()

    def preset(self) -> None:
        combo = self.w.panel.preset
        index = self.rng.randrange(combo.count())
        if "1001" in combo.itemText(index) or "1202" in combo.itemText(index):
            index = 0  # legal, but thousands of layers per edit would slow the run, not test it
        combo.setCurrentIndex(index)
        combo.activated.emit(index)

    def undo(self) -> None:
        self.w.document.undo_stack.undo()

    def redo(self) -> None:
        self.w.document.undo_stack.redo()


def test_monkey_edits_leave_a_valid_replayable_design(window, qtbot, capsys):
    problems: list[str] = []
    old_hook = sys.excepthook
    sys.excepthook = lambda t, v, tb: problems.append(f"{t.__name__}: {v}")

    def on_message(kind, _context, message) -> None:
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            problems.append(message)

    old_handler = qInstallMessageHandler(on_message)
    beats: list[float] = []
    heart = QTimer()
    heart.setInterval(5)
    heart.timeout.connect(lambda: beats.append(time.perf_counter()))
    heart.start()
    rng = random.Random(SEED)
    monkey = Monkey(window, rng)
    document = window.document
    start_design = document.design
    max_gap = 0.0
    try:
        for i in range(EDITS):
            monkey.step()
            validate(document.design)  # never an invalid design in the document
            qtbot.wait(0) if i % 4 else qtbot.wait(1)
            if len(beats) > 1:
                max_gap = max(max_gap, beats[-1] - beats[-2])
        qtbot.waitUntil(lambda: not window.is_busy(), timeout=20_000)
        window._draw_soon.flush()
        assert (
            window.analyses.analysis.design == document.design
        )  # the inspector shows the document
    finally:
        heart.stop()
        qInstallMessageHandler(old_handler)
        sys.excepthook = old_hook
    assert not problems, problems[:5]

    final = document.design
    stack = document.undo_stack
    steps = stack.index()
    while stack.canUndo():  # every undo step restores a valid design
        stack.undo()
        validate(document.design)
    assert document.design == start_design
    # redo back to where the monkey left the stack (its last steps may have been undos)
    while stack.index() < steps:
        stack.redo()
    assert document.design == final
    assert dumps(final) == dumps(document.design)
    with capsys.disabled():
        print(
            f"\nmonkey: {EDITS} edits {monkey.counts}, {steps} on the undo stack,"
            f" heartbeat max gap {max_gap * 1e3:.0f} ms"
        )
    assert max_gap * 1e3 < MAX_GAP_MS


def _hostile_files(folder) -> dict[str, object]:
    good = dumps(load_preset("resnet18"))
    deep = folder / "deep.resnet.json"
    deep.write_text("[" * 200_000)
    cases: dict[str, object] = {
        "truncated": good[: len(good) // 2],
        "empty": "",
        "wrong types": '{"stages": "three", "num_classes": "ten"}',
        "binary": os.urandom(4096),
        "huge number": good.replace('"num_classes": 1000', '"num_classes": 1' + "0" * 400),
        "nan": good.replace('"num_classes": 1000', '"num_classes": NaN'),
        "list": "[1, 2, 3]",
        "future version": good.replace("resnet-designer/1", "resnet-designer/99"),
        "too big": " " * (5 * 1024 * 1024),
    }
    paths = {}
    for name, content in cases.items():
        path = folder / f"{name.replace(' ', '_')}.resnet.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(str(content), encoding="utf-8")
        paths[name] = path
    paths["deep nesting"] = deep
    paths["a folder"] = folder
    paths["missing"] = folder / "nope.resnet.json"
    return paths


def test_open_hostile_files_reports_one_line_and_keeps_the_design(window, tmp_path):
    mine = tmp_path / "mine.resnet.json"
    save(load_preset("resnet34"), mine)
    assert window.files.open_path(mine)
    window.panel.stages.spin(0, "depth").setValue(5)  # unsaved work that must survive
    before = window.document.design
    shown: list[str] = []
    window.warn = shown.append
    for name, path in _hostile_files(tmp_path).items():
        shown.clear()
        assert not window.files.open_path(path), name
        assert len(shown) == 1 and "\n" not in shown[0] and shown[0].startswith("Cannot open")
        assert window.document.design == before, name
        assert window.document.path == mine and not window.document.is_clean(), name


@pytest.fixture(autouse=True)
def _no_recursion_limit_change():
    limit = sys.getrecursionlimit()
    yield
    assert sys.getrecursionlimit() == limit


def test_open_generated_hostile_files_never_replaces_or_crashes(window, tmp_path):
    """The loader's property test (tests/core/test_hostile_files.py), through File > Open."""
    from hypothesis import HealthCheck, given, settings

    from tests.core.test_hostile_files import mutated_presets

    before = window.document.design
    shown: list[str] = []
    window.warn = shown.append
    path = tmp_path / "case.resnet.json"
    tried = {"valid": 0, "refused": 0}

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(mutated_presets())
    def open_one(value: object) -> None:
        path.write_text(json.dumps(value), encoding="utf-8")
        shown.clear()
        window.document.undo_stack.setClean()
        if window.files.open_path(path):
            tried["valid"] += 1
            assert not shown
            window.document.edit("back", lambda _d: before)
        else:
            tried["refused"] += 1
            assert len(shown) == 1 and "\n" not in shown[0]
            assert window.document.design == before

    open_one()
    assert tried["refused"] > 50 and sum(tried.values()) >= 300
