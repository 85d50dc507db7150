"""The design panel's editors come from the design's types, as magicgui maps types to widgets."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from designer.core import design as d
from designer.qt.fields import FIELDS, field_type, kind_of
from designer.qt.tooltips import wrapped

WIDGET_OF_KIND = {
    "choice": QComboBox,
    "int": QSpinBox,
    "float": QDoubleSpinBox,
    "bool": QCheckBox,
    "ints": QLineEdit,
    "text": QLineEdit,
}


def test_kinds_follow_the_design_annotations():
    kinds = {f.path: f.kind for f in FIELDS}
    assert kinds["block"] == "choice" and field_type("block") is d.BlockName
    assert kinds["conv_bias"] == "bool"  # a bool, not an int
    assert kinds["num_classes"] == "int"
    assert kinds["se_ratio"] == "float"
    assert kinds["head.hidden"] == "ints"
    assert kinds["name"] == "text"
    assert kinds["activation"] == "choice"  # a str with a list of choices
    assert next(f for f in FIELDS if f.path == "stem.kind").options == d.STEMS
    with pytest.raises(TypeError):
        kind_of(dict)


def test_every_field_gets_the_widget_of_its_kind_with_its_tooltip(window):
    for f in FIELDS:
        widget = window.panel.widgets[f.path]
        assert isinstance(widget, WIDGET_OF_KIND[f.kind]), f.path  # or its subclass
        assert widget.toolTip() == wrapped(f.tooltip)  # long ones wrap as paragraphs
        if f.kind == "choice":
            assert [widget.itemText(i) for i in range(widget.count())] == list(f.options)
