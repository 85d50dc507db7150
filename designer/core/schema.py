"""The JSON Schema of a design file, generated from the design's types and the loader's rules.

``resources/design.schema.json`` is this module's output, never edited by hand:
``python -m designer.core.schema`` rewrites it (``--check`` only compares), and a
test regenerates it and compares. Editors that read ``"$schema"`` (VS Code,
JetBrains) then validate and complete ``*.resnet.json`` files.

What it is made of:

- the keys the loader knows (``designer.core.io``), in the file's order;
- each key's JSON type from the type hints of the design's dataclasses
  (``int``, ``float``, ``bool``, a ``Literal``, ``X | None`` for a stage's
  overrides, where ``null`` means "the network's value");
- the choices the loader checks, from the registries (blocks, stems, shortcuts,
  activations, norms), and the default of every field;
- the bounds :func:`designer.core.design.validate` checks and every field's
  description, from the field table (:func:`designer.core.design.field_table`); a
  test moves each value just past its bound and checks that the loader refuses
  that very field, and not at the bound itself;
- the rules between fields the registries can state: a stem's width multiple, the
  stems a ``pool: "conv"`` can replace, ``norm_act: false`` and norms that are their
  own activation only for pre-activation blocks, a stage's ``block`` keeping the
  network's activation order, ``out_width`` or ``expansion``, a dilated stage's stride.

What the schema cannot say (the loader still refuses it, with the field named): a
network whose feature map or widths cannot work (the spatial size, a grouped
width below its groups, a zero-pad shortcut shrinking channels, GroupNorm's
multiples of 32, 20,000 blocks in all), a basic block with groups set per stage in
a network of bottlenecks, whole numbers written as ``3.0`` (JSON Schema counts them as
integers), a key given twice, and a name holding a lone surrogate escape.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from designer.core.blocks import BLOCK_KINDS, NORMS, STEM_KINDS
from designer.core.blocks.kinds import same_order_kinds
from designer.core.blocks.stems import has_pool
from designer.core.design import (
    FORMAT,
    MAX_STAGES,
    STAGE_OVERRIDES,
    Design,
    HeadSpec,
    InputSpec,
    StageSpec,
    StemSpec,
    field_entry,
    field_table,
)
from designer.core.fields import Entry
from designer.core.io import (
    _HEAD_KEYS,
    _INPUT_KEYS,
    _STAGE_KEYS,
    _STEM_KEYS,
    _TOP_KEYS,
    MAX_SCHEMA_REF,
    SCHEMA_KEY,
    SCHEMA_URL,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
FILE_NAME = "design.schema.json"


@dataclasses.dataclass(frozen=True)
class Bound:
    low: float
    high: float
    high_open: bool = False  # the high end itself is refused (a probability below 1)


def _general(path: str) -> str:
    """A list field's bounds are its items': "head.hidden" -> "head.hidden[]"."""
    return path + "[]" if typing.get_origin(field_entry(path).value_type) is tuple else path


# Every bound validate() checks on a single value, by the field's path in the file
# ("stages[]" and "head.hidden[]" for each element): the field table's rows.
BOUNDS: dict[str, Bound] = {
    _general(e.path): Bound(e.row.low, e.row.high, e.row.high_open)
    for e in field_table()
    if e.row.low is not None and e.row.high is not None
}
LENGTHS: dict[str, tuple[int, int]] = {  # (fewest, most) items or characters
    **{e.path: (0, e.row.most) for e in field_table() if e.row.most is not None},
    "stages": (1, MAX_STAGES),
}
# Text fields typed ``str`` whose values the loader checks against a registry.
CHOICES: dict[str, tuple[str, ...]] = {e.path: e.choices for e in field_table() if e.row.choices}
# Objects of the file and the keys the loader accepts in each.
OBJECTS: dict[str, tuple[type, tuple[str, ...]]] = {
    "": (Design, _TOP_KEYS),
    "input": (InputSpec, _INPUT_KEYS),
    "stem": (StemSpec, _STEM_KEYS),
    "stages[]": (StageSpec, _STAGE_KEYS),
    "head": (HeadSpec, _HEAD_KEYS),
}
_DEF_NAMES = {"input": "input", "stem": "stem", "stages[]": "stage", "head": "head"}
_OBJECT_DESCRIPTIONS: dict[str, str] = {
    SCHEMA_KEY: "this JSON Schema's address, for editors; the loader accepts any text here",
    "format": "the file format's version; other versions are refused",
    "input": "the input tensor's shape (C, H, W)",
    "stem": "what comes before the first stage",
    "stages": "the stages of residual blocks, in order",
    "head": "the classifier: hidden Linear-act-BN1d layers, dropout, then fc",
}


def _description(e: Entry) -> str:
    """A field's help; a stage's override says that null means the network's value."""
    if e.path.startswith("stages[].") and e.name in STAGE_OVERRIDES:
        return f"this stage's {e.name} (null: the network's). {e.row.help}"
    return e.row.help


DESCRIPTIONS: dict[str, str] = {
    **_OBJECT_DESCRIPTIONS,
    **{e.path: _description(e) for e in field_table()},
}


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _default(cls: type, name: str) -> Any:
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                return dataclasses.MISSING
            return _plain(value)
    raise KeyError(name)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _number(path: str, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    bound = BOUNDS.get(path)
    if bound is not None:
        out["minimum"] = bound.low
        out["exclusiveMaximum" if bound.high_open else "maximum"] = bound.high
    return out


def _for_type(path: str, hint: Any) -> dict[str, Any]:
    """The schema of one value of type ``hint`` at ``path``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"{path}: cannot describe {hint}")
        inner = _for_type(path, options[0])
        if "enum" in inner:
            return {**inner, "type": [inner["type"], "null"], "enum": [*inner["enum"], None]}
        return {**inner, "type": [inner["type"], "null"]}
    if origin is Literal:
        return {"type": "string", "enum": list(CHOICES.get(path, typing.get_args(hint)))}
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        out: dict[str, Any] = {"type": "array", "items": _for_type(f"{path}[]", item)}
        fewest, most = LENGTHS.get(path, (0, None))
        out["minItems"] = fewest
        if most is not None:
            out["maxItems"] = most
        return out
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return _number(path, "integer")
    if hint is float:
        return _number(path, "number")
    if hint is str:
        if path in CHOICES:
            return {"type": "string", "enum": list(CHOICES[path])}
        out = {"type": "string"}
        if path in LENGTHS:
            out["minLength"], out["maxLength"] = LENGTHS[path]
        return out
    if dataclasses.is_dataclass(hint):
        return {"$ref": f"#/$defs/{_DEF_NAMES[path]}"}
    raise TypeError(f"{path}: cannot describe {hint}")


def _object(path: str) -> dict[str, Any]:
    cls, keys = OBJECTS[path]
    hints = _field_types(cls)
    prefix = f"{path}." if path else ""
    properties: dict[str, Any] = {}
    required = []
    for key in keys:
        where = f"{prefix}{key}"
        if key == "format":
            prop: dict[str, Any] = {"const": FORMAT}
            default: Any = FORMAT
        elif key == "stages":
            prop = {"type": "array", "items": {"$ref": "#/$defs/stage"}}
            prop["minItems"], prop["maxItems"] = LENGTHS["stages"]
            default = dataclasses.MISSING
        else:
            prop = _for_type(where, hints[key])
            default = _default(cls, key)
        if (key in ("depth", "width") and cls is StageSpec) or key == "stages":
            required.append(key)
        if where in DESCRIPTIONS:
            prop = {"description": DESCRIPTIONS[where], **prop}
        if default is not dataclasses.MISSING:
            prop["default"] = default
        properties[key] = prop
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    return out


def _stage_rules() -> list[dict[str, Any]]:
    """Within one stage: out_width or expansion; a dilated stage strides; a basic block
    chosen for the stage takes no groups."""
    plain = [name for name, kind in BLOCK_KINDS.items() if not kind.grouped]
    return [
        {"not": {"required": ["out_width", "expansion"]}},
        {
            "if": {"properties": {"dilate": {"const": True}}, "required": ["dilate"]},
            "then": {"properties": {"stride": {"minimum": 2}}, "required": ["stride"]},
        },
        {
            "if": {"properties": {"block": {"enum": plain}}, "required": ["block"]},
            "then": {
                "properties": {
                    "groups": {"enum": [1, None]},
                    "width_per_group": {"enum": [64, None]},
                }
            },
        },
    ]


def _top_rules() -> list[dict[str, Any]]:
    """Between fields of the whole file, from what the registries say of each kind."""
    preact, post = same_order_kinds(True), same_order_kinds(False)
    plain = [name for name, kind in BLOCK_KINDS.items() if not kind.grouped]
    pooled = [name for name, kind in STEM_KINDS.items() if has_pool(kind)]
    rules: list[dict[str, Any]] = []
    for name, kind in STEM_KINDS.items():
        if kind.width_multiple > 1:
            rules.append(
                {
                    "if": _has("stem", {"properties": {"kind": {"const": name}}}),
                    "then": {
                        "properties": {
                            "stem": {"properties": {"width": {"multipleOf": kind.width_multiple}}}
                        }
                    },
                }
            )
    rules.append(
        {
            "if": _has("stem", {"properties": {"pool": {"const": "conv"}}, "required": ["pool"]}),
            "then": {"properties": {"stem": {"properties": {"kind": {"enum": pooled}}}}},
        }
    )
    rules.append(
        {
            "if": _has(
                "stem", {"properties": {"norm_act": {"const": False}}, "required": ["norm_act"]}
            ),
            "then": {
                "properties": {
                    "block": {"enum": preact},
                    "stem": {"properties": {"kind": {"not": {"const": "none"}}}},
                },
                "required": ["block"],
            },
        }
    )
    activating = [name for name, norm in NORMS.items() if norm.activates]
    rules.append(
        {  # a norm that is its own activation needs a norm-activation pair at each use
            "if": {"properties": {"norm": {"enum": activating}}, "required": ["norm"]},
            "then": {"properties": {"block": {"enum": preact}}, "required": ["block"]},
        }
    )
    no_groups = {"groups": {"enum": [1, None]}, "width_per_group": {"enum": [64, None]}}
    per_stage_block = {"type": "array", "items": {"properties": {"block": {"enum": [None]}}}}
    rules.append(
        {
            "if": {"properties": {"block": {"enum": preact}}, "required": ["block"]},
            "then": _stages_with({"block": {"enum": [*preact, None]}}),
            "else": _stages_with({"block": {"enum": [*post, None]}}),
        }
    )
    rules.append(
        {  # a dilated stage does not subsample: nothing to anti-alias
            "if": {
                "properties": {"anti_alias": {"not": {"const": "none"}}},
                "required": ["anti_alias"],
            },
            "then": _stages_with({"dilate": {"const": False}}),
        }
    )
    rules.append(
        {  # a network of basic blocks, no stage choosing another: no groups anywhere
            "if": {
                "properties": {"block": {"enum": plain}, "stages": per_stage_block},
                "required": ["block"],
            },
            "then": {
                "properties": {
                    "groups": {"const": 1},
                    "width_per_group": {"const": 64},
                    "stages": {"items": {"properties": no_groups}},
                },
            },
        }
    )
    return rules


def _has(key: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {key: body}, "required": [key]}


def _stages_with(properties: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"stages": {"items": {"properties": properties}}}}


def design_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a design file."""
    top = _object("")
    top["properties"] = {
        SCHEMA_KEY: {
            "description": DESCRIPTIONS[SCHEMA_KEY],
            "type": "string",
            "maxLength": MAX_SCHEMA_REF,
        },
        **top["properties"],
    }
    stage = _object("stages[]")
    stage["allOf"] = _stage_rules()
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_URL,
        "title": "ResNet Designer design file (*.resnet.json)",
        "description": (
            f"A ResNet-family network, format {FORMAT}. Generated by designer.core.schema"
            " from the design's types and the loader's rules: do not edit."
        ),
        **top,
        "allOf": _top_rules(),
        "$defs": {
            "input": _object("input"),
            "stem": _object("stem"),
            "stage": stage,
            "head": _object("head"),
        },
    }


def schema_text() -> str:
    """The schema as resources/design.schema.json holds it (2-space indent, a final newline)."""
    return json.dumps(design_schema(), indent=2, ensure_ascii=False) + "\n"


def schema_path() -> Path:
    """Where the repository keeps the generated schema."""
    return Path(__file__).resolve().parents[2] / "resources" / FILE_NAME


def _main(argv: list[str]) -> int:
    target = schema_path()
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if argv == ["--check"]:
        if current != schema_text():
            print(f"{target} is out of date: run python -m designer.core.schema", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python -m designer.core.schema [--check]", file=sys.stderr)
        return 2
    if current != schema_text():
        target.write_text(schema_text(), encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
