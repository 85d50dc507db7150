"""One table of the design's scalar fields, each edited by the widget its type calls for.

Each row names a dotted path into the design, its range or choices and a tooltip
in ResNet terms. The kind of editor is not written down: as magicgui maps types
to widgets, ``kind_of`` reads the design's own type annotation for the path (a
Literal is a choice, bool a check box, int a spin box, tuple[int, ...] a list of
widths...). ``designer.qt.design_panel`` maps each kind to a widget and binds it
both ways; adding a field is one row here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from designer.core import design as d
from designer.core.design import Design, DesignError
from designer.core.fields import Entry

Kind = Literal["choice", "int", "float", "bool", "ints", "text"]


# exact types, looked up by identity: a bool field is a check box, not an int spin box
SCALAR_KINDS: dict[Any, Kind] = {bool: "bool", int: "int", float: "float", str: "text"}


@cache
def field_type(path: str) -> Any:
    """The annotated type of the dotted ``path`` in ``Design`` (e.g. "stem.kind": StemKind)."""
    owner: Any = Design
    hint: Any = None
    for part in path.split("."):
        hint = typing.get_type_hints(owner)[part]
        owner = hint
    return hint


def kind_of(hint: Any, choices: tuple[str, ...] = ()) -> Kind:
    """The editor a type calls for; a str with a list of choices is a choice too."""
    origin = typing.get_origin(hint)
    if origin is Literal or (hint is str and choices):
        return "choice"
    if origin is tuple and typing.get_args(hint) == (int, ...):
        return "ints"
    if hint in SCALAR_KINDS:
        return SCALAR_KINDS[hint]
    raise TypeError(f"no editor for {hint!r}")


@dataclass(frozen=True)
class Field:
    """A network-wide field as the panel edits it: its row of the core's field table."""

    path: str  # dotted path into the design, e.g. "stem.width"
    label: str
    tooltip: str
    group: str
    choices: tuple[str, ...] = ()  # for a str field; a Literal field's come from its type
    low: float = 0
    high: float = 0
    step: float = 1

    @property
    def kind(self) -> Kind:
        return kind_of(field_type(self.path), self.choices)

    @property
    def options(self) -> tuple[str, ...]:
        """A choice field's values: the row's (a registry's names) or the Literal's."""
        return d.field_entry(self.path).choices

    @classmethod
    def of(cls, entry: Entry) -> Field:
        row = entry.row
        # whole-number boxes start at 0, so that a typed 0 is answered by the design's
        # own message rather than silently clamped by the box
        low = 0 if row.low is None or isinstance(row.low, int) else row.low
        return cls(
            entry.path,
            row.label,
            row.help,
            row.group,
            choices=entry.choices if entry.value_type is str else (),
            low=low,
            high=0 if row.high is None else row.high,
            step=row.step,
        )


FIELDS: tuple[Field, ...] = tuple(Field.of(e) for e in d.field_table() if e.row.group)
"""The panel's fields, in the order the field table declares them."""

FIELD_BY_PATH = {f.path: f for f in FIELDS}


@dataclass(frozen=True)
class StageOption:
    """A per-stage column of the stage table: a ``StageSpec`` field that overrides a
    network-wide one (None: the network's value), described by that field's row above."""

    key: str  # the StageSpec field, and the Design field it overrides
    label: str
    own_tooltip: str = ""  # only for an option with no network-wide field

    @property
    def title(self) -> str:
        """The column's title, on two lines where it has two words: narrow columns."""
        return self.label.replace("/", "/\n").replace(" ", "\n")

    @property
    def network(self) -> Field | None:
        return FIELD_BY_PATH.get(self.key)

    @property
    def kind(self) -> Kind:
        return self.network.kind if self.network else kind_of(stage_field_type(self.key))

    @property
    def options(self) -> tuple[str, ...]:
        """A choice option's values: the network-wide field's."""
        return self.network.options if self.network else ()

    @property
    def tooltip(self) -> str:
        if self.network is None:
            return self.own_tooltip
        return (
            f"{self.network.tooltip} Blank: the stage uses the network's {self.network.label}"
            " (shown in grey); clear the cell to return to it."
        )


STAGE_OPTIONS: tuple[StageOption, ...] = tuple(
    StageOption(e.name, e.row.label, "" if e.name in d.STAGE_OVERRIDES else e.row.help)
    for e in d.field_table()
    if e.path.startswith("stages[].") and e.row.stage
)
"""The stage table's per-stage options, in column order (timm's byobnet per-stage config)."""


def stage_field_type(key: str) -> Any:
    """The annotated type of a ``StageSpec`` field, without its ``| None``."""
    hint = typing.get_type_hints(d.StageSpec)[key]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint


def get_value(design: Design, path: str) -> Any:
    value: Any = design
    for part in path.split("."):
        value = getattr(value, part)
    return value


def set_value(design: Design, path: str, value: Any) -> Design:
    """A validated copy of ``design`` with the dotted ``path`` set to ``value``."""
    head, _, rest = path.partition(".")
    if not rest:
        return design.replace(**{head: value})
    inner = dataclasses.replace(getattr(design, head), **{rest: value})
    return design.replace(**{head: inner})


def parse_ints(text: str) -> tuple[int, ...]:
    """'512, 256' -> (512, 256); a one-line DesignError naming the field otherwise."""
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    parts = [p for p in parts if p]
    try:
        return tuple(int(p.replace("_", "")) for p in parts)
    except ValueError:
        raise DesignError(
            "head.hidden", f"write whole numbers separated by commas, e.g. 512, 256 (got {text!r})"
        ) from None


def format_ints(values: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in values)
