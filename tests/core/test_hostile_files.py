"""Hostile and malformed design files: a design or a one-line error, never a crash.

Over 10,000 generated cases run here: arbitrary JSON, mutations of real presets
(wrong types, absurd numbers, NaN, strings, nested junk, unknown keys, future
formats) and truncated files; a sample also goes through the CLI.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.core.design import Design, DesignError
from designer.core.io import design_to_dict, dumps, loads
from designer.core.presets import load_preset, preset_names
from tests.core.test_fuzz_cli import answered

JUNK_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**12, 1e308, -0.0, 0.5]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "relu", "basic", "3", "NaN", "\u2028", '\'"""', "resnet-designer/2"]),
)
JUNK = st.recursive(
    JUNK_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


@st.composite
def mutated_presets(draw: st.DrawFn) -> object:
    """A real preset with one to three values replaced, removed, or keys added."""
    data = json.loads(dumps(load_preset(draw(st.sampled_from(preset_names())))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add_key"]))
        if not path:
            if action == "add_key":
                data[draw(st.text(max_size=12))] = draw(JUNK)
            continue
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = draw(JUNK)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][draw(st.text(max_size=12))] = draw(JUNK)
    return data


def _design_or_one_line_error(text: str) -> Design | None:
    try:
        design = loads(text)
    except DesignError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message
        assert len(message) < 400
        return None
    assert isinstance(design, Design)
    # a design that loads is fully valid: it round-trips and its numbers are finite
    assert loads(dumps(design)) == design
    assert math.isfinite(design.se_ratio) and math.isfinite(design.head.dropout)
    return design


def fast(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=1000,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )


@fast(4000)
@given(JUNK)
def test_arbitrary_json(value: object) -> None:
    _design_or_one_line_error(json.dumps(value))


@fast(4000)
@given(mutated_presets())
def test_mutated_presets(value: object) -> None:
    _design_or_one_line_error(json.dumps(value))


@fast(2000)
@given(st.sampled_from(preset_names()), st.floats(0, 1))
def test_truncated_files(name: str, fraction: float) -> None:
    text = dumps(load_preset(name))
    _design_or_one_line_error(text[: int(len(text) * fraction)])


@fast(300)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    _design_or_one_line_error(text)


@settings(max_examples=60, deadline=None, database=None)
@given(mutated_presets())
def test_cli_answers_0_or_2_with_one_line(
    tmp_path_factory: pytest.TempPathFactory, value: object
) -> None:
    """A sample through the real CLI, in a child process with real UTF-8 streams."""
    folder = Path(tmp_path_factory.mktemp("cli"))
    (folder / "case.resnet.json").write_text(json.dumps(value), encoding="utf-8")
    answered(["validate", "case.resnet.json"], folder)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stages": [{"depth": 100_000, "width": 64}]}, "stages[0].depth"),
        ({"num_classes": 10**10}, "num_classes"),
        ({"input": {"channels": 3, "height": 10**6, "width": 224}}, "input.height"),
        ({"stages": [{"depth": 1, "width": 10**9}]}, "stages[0].width"),
        ({"se_ratio": float("inf")}, None),
    ],
)
def test_absurd_sizes_are_refused_by_name(change: dict, field: str | None) -> None:
    data = {**design_to_dict(load_preset("resnet18")), **change}
    text = json.dumps(data)  # inf becomes the non-JSON token Infinity: refused too
    with pytest.raises(DesignError) as info:
        loads(text)
    if field is not None:
        assert info.value.field == field


def test_huge_but_legal_designs_analyse_in_closed_form() -> None:
    import time

    from designer.core.analysis import analyse

    base = design_to_dict(load_preset("resnet50"))
    cases = [
        {"stages": [{"depth": 3, "width": 1_000_000, "stride": 1}]},
        {"stages": [{"depth": 10_000, "width": 8, "stride": 1}], "block": "basic"},
        {"input": {"channels": 3, "height": 8192, "width": 8192}},
        {"num_classes": 10**9},
    ]
    for change in cases:
        design = loads(json.dumps({**base, **change}))
        start = time.perf_counter()
        result = analyse(design)
        # a hang guard, not a figure (bench_analysis times the analysis): closed form takes
        # milliseconds, where a loop over these pixels or classes would run for minutes
        assert time.perf_counter() - start < 5
        assert result.params > 0 and result.macs > 0


def test_building_a_huge_design_is_refused_before_allocating() -> None:
    import tracemalloc

    from designer.core.torch.build import build

    base = load_preset("resnet50")
    huge = base.replace(
        stages=tuple(s.__class__(s.depth, s.width * 64, s.stride) for s in base.stages)
    )
    tracemalloc.start()
    with pytest.raises(DesignError, match="GiB"):
        build(huge)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 1024 * 1024
