"""The field table: every option of a design described once, beside its declaration.

Each field of the design's dataclasses is declared with :func:`option`, which records
its row: a label and help text in ResNet terms, its bounds or choices, the panel group
that edits it, whether a stage may override it, and whether files always write it.
Validation, the JSON Schema, the file format, the design panel's controls and stage
columns and the CLI's field listing all read these rows (:func:`rows`), so adding an
option is one declaration plus its meaning in the parts and the plan.

This module knows nothing of the design itself: it describes and checks values by
the type annotation and the row, for any dataclass.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

ROW = "row"  # the key of a field's row in its dataclass metadata
Written = Literal["always", "when_set"]


class FieldError(ValueError):
    """A value outside its row's bounds or choices; ``path`` is its dotted place in the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Row:
    """What one field is: for people (label, help), for checks (bounds, choices), for files."""

    label: str
    help: str
    group: str = ""  # the design panel's section that edits it ("" : the stage table or none)
    low: float | None = None
    high: float | None = None
    high_open: bool = False  # the high end itself is refused (a probability below 1)
    step: float = 1  # the panel's spin-box step
    # a text field's values: a registry (read when checked, so a kind registered later
    # is a choice too) or a tuple
    choices: Mapping[str, Any] | tuple[str, ...] = ()
    most: int | None = None  # a list's or a text's longest length
    written: Written = "always"  # "when_set": files carry it only when it is not the default
    stage: bool = False  # a stage may override it (StageSpec has a field of the same name)


def option(default: Any, **row: Any) -> Any:
    """A dataclass field with its row (the field table is the declarations themselves)."""
    made = Row(**row)
    if isinstance(default, (list, dict, set)):
        raise TypeError("a mutable default needs default_factory")
    return dataclasses.field(default=default, metadata={ROW: made})


def option_factory(factory: Any, **row: Any) -> Any:
    return dataclasses.field(default_factory=factory, metadata={ROW: Row(**row)})


@dataclass(frozen=True)
class Entry:
    """A row where it sits: its dotted path ("stem.width", "stages[].depth"), type, default."""

    path: str
    name: str  # the dataclass attribute
    row: Row
    hint: Any
    default: Any  # dataclasses.MISSING for a required field

    @property
    def optional(self) -> bool:
        """``X | None``: a stage's override, None meaning "the network's value"."""
        return typing.get_origin(self.hint) in (typing.Union, types.UnionType) and type(
            None
        ) in typing.get_args(self.hint)

    @property
    def value_type(self) -> Any:
        """The type without its ``| None``."""
        if not self.optional:
            return self.hint
        (inner,) = [a for a in typing.get_args(self.hint) if a is not type(None)]
        return inner

    @property
    def choices(self) -> tuple[str, ...]:
        """A choice field's values: the row's, else its Literal type's."""
        if self.row.choices:
            return tuple(self.row.choices)
        t = self.value_type
        if typing.get_origin(t) is Literal:
            return tuple(str(v) for v in typing.get_args(t))
        return ()

    def check(self, path: str, value: object) -> None:
        """Refuse ``value`` at ``path`` unless it is of the type and within the row."""
        if value is None and self.optional:
            return
        check_value(path, self.value_type, self.row, self.choices, value)


def rows(cls: type, prefix: str = "") -> Iterator[Entry]:
    """Every row of ``cls`` and of the dataclasses it holds, in declaration order.

    A field holding a dataclass (the input, stem, head) contributes that class's rows
    under its name; one holding a tuple of dataclasses (the stages) under ``name[]``.
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        row = f.metadata.get(ROW)
        path = prefix + f.name
        if row is not None:
            default: Any = f.default
            if f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            yield Entry(path, f.name, row, hint, default)
        elif dataclasses.is_dataclass(hint):
            yield from rows(typing.cast(type, hint), path + ".")
        elif typing.get_origin(hint) is tuple and dataclasses.is_dataclass(
            item := typing.get_args(hint)[0]
        ):
            yield from rows(typing.cast(type, item), path + "[].")


def show(value: object, limit: int = 40) -> str:
    """A short, single-line rendering of a user's value for an error message."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"a number of {len(str(abs(value))):,} digits"  # repr would be refused or huge
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bounds(row: Row) -> str:
    low, high = row.low, row.high
    if isinstance(low, int) and isinstance(high, int):
        return f"between {low:,} and {high:,}"
    return f"at least {low} and {'below' if row.high_open else 'at most'} {high}"


def check_value(path: str, hint: Any, row: Row, choices: tuple[str, ...], value: object) -> None:
    """One value of type ``hint`` against its row (the rules between fields are elsewhere)."""
    if choices:
        if value not in choices:
            raise FieldError(path, f"must be one of {', '.join(choices)} (got {show(value)})")
    elif hint is bool:
        if not isinstance(value, bool):
            raise FieldError(path, f"must be true or false (got {show(value)})")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(path, f"must be a whole number (got {show(value)})")
        _in_range(path, row, value)
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldError(path, f"must be a number (got {show(value)})")
        _in_range(path, row, value)
    elif hint is str:
        if not isinstance(value, str) or (row.most is not None and len(value) > row.most):
            raise FieldError(path, f"must be text of at most {row.most} characters")
    elif typing.get_origin(hint) is tuple:
        if not isinstance(value, tuple):
            raise FieldError(path, f"must be a list (got {show(value)})")
        if row.most is not None and len(value) > row.most:
            raise FieldError(path, f"at most {row.most} items (got {len(value):,})")
        (item, _ellipsis) = typing.get_args(hint)
        for i, element in enumerate(value):
            check_value(f"{path}[{i}]", item, row, (), element)
    else:
        raise TypeError(f"{path}: no check for {hint!r}")


def _in_range(path: str, row: Row, value: int | float) -> None:
    low = -math.inf if row.low is None else row.low
    high = math.inf if row.high is None else row.high
    # compare before any float(): an int of 400 digits is refused, not an OverflowError
    outside = value != value or value < low or value > high or (row.high_open and value == high)
    if outside:
        raise FieldError(path, f"must be {_bounds(row)} (got {_shown_number(value)})")


def _shown_number(value: int | float) -> str:
    if isinstance(value, int) and abs(value) < 10**30:
        return f"{value:,}"
    return show(value)
