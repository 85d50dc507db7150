"""Structural edits of a design, as pure functions: what the graph's menus do.

Each takes a design and returns a new one (validated), or raises ``DesignError``
naming the field and the fix. The app applies them through its undo stack, the
same way as a form edit, so every graph action is one undoable step.

Stages are addressed by index; a block by (stage, index within the stage). A
stage's blocks are alike except the first (which carries the stride), so
"remove this block" shortens the stage, and "downsample here" splits it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from designer.core.design import (
    MAX_DEPTH,
    MAX_STAGES,
    Design,
    DesignError,
    StageSpec,
)


def _stage(design: Design, stage: int) -> StageSpec:
    if not 0 <= stage < len(design.stages):
        raise DesignError(
            f"stages[{stage}]", f"there is no such stage; the design has {len(design.stages)}"
        )
    return design.stages[stage]


def _with_stages(design: Design, stages: list[StageSpec]) -> Design:
    if not stages:
        raise DesignError(
            "stages", "a network needs at least one stage; add another before removing this one"
        )
    if len(stages) > MAX_STAGES:
        raise DesignError("stages", f"at most {MAX_STAGES} stages; merge some before adding more")
    return design.replace(stages=tuple(stages))


def set_stage(design: Design, stage: int, **changes: Any) -> Design:
    """Change fields of one stage (depth, width, stride, block, groups...)."""
    old = _stage(design, stage)
    stages = list(design.stages)
    stages[stage] = dataclasses.replace(old, **changes)
    return _with_stages(design, stages)


def add_blocks(design: Design, stage: int, count: int = 1) -> Design:
    """``count`` more blocks at the end of ``stage`` (negative: fewer, never below one)."""
    depth = _stage(design, stage).depth + count
    if depth < 1:
        raise DesignError(
            f"stages[{stage}].depth", "a stage keeps at least one block; remove the stage instead"
        )
    if depth > MAX_DEPTH:
        raise DesignError(f"stages[{stage}].depth", f"at most {MAX_DEPTH:,} blocks in a stage")
    return set_stage(design, stage, depth=depth)


def remove_block(design: Design, stage: int) -> Design:
    """One block fewer in ``stage``; its last block goes the stage's way with it."""
    if _stage(design, stage).depth == 1:
        return remove_stage(design, stage)
    return add_blocks(design, stage, -1)


def insert_stage(design: Design, at: int, like: int | None = None) -> Design:
    """A new one-block stage at position ``at`` (0: first), a copy of stage ``like``
    (default: the neighbour it follows, or the first stage) at stride 1, so the
    shapes of everything after it stay as they were."""
    if not 0 <= at <= len(design.stages):
        raise DesignError(
            "stages", f"cannot insert at {at}; positions run 0 to {len(design.stages)}"
        )
    source = _stage(design, like if like is not None else max(at - 1, 0))
    new = dataclasses.replace(source, depth=1, stride=1, dilate=False)
    stages = list(design.stages)
    stages.insert(at, new)
    return _with_stages(design, stages)


def remove_stage(design: Design, stage: int) -> Design:
    _stage(design, stage)
    stages = list(design.stages)
    del stages[stage]
    return _with_stages(design, stages)


def move_stage(design: Design, stage: int, step: int) -> Design:
    """Swap ``stage`` with the one ``step`` (-1 up, +1 down) away."""
    _stage(design, stage)
    target = stage + step
    if not 0 <= target < len(design.stages):
        where = "first" if target < 0 else "last"
        raise DesignError(f"stages[{stage}]", f"it is already the {where} stage")
    stages = list(design.stages)
    stages[stage], stages[target] = stages[target], stages[stage]
    return _with_stages(design, stages)


def split_stage(design: Design, stage: int, at: int, stride: int = 1) -> Design:
    """Split ``stage`` before its block ``at``: blocks ``at``.. become a new stage with
    ``stride``. At stride 1 the network is unchanged (the same blocks, grouped in two);
    at stride 2 the new stage downsamples where block ``at`` was."""
    old = _stage(design, stage)
    if not 0 < at < old.depth:
        raise DesignError(
            f"stages[{stage}]",
            f"a stage of {old.depth} blocks splits before blocks 1 to {old.depth - 1}, not {at}",
        )
    head = dataclasses.replace(old, depth=at)
    tail = dataclasses.replace(old, depth=old.depth - at, stride=stride, dilate=False)
    stages = list(design.stages)
    stages[stage : stage + 1] = [head, tail]
    return _with_stages(design, stages)


def merge_with_next(design: Design, stage: int) -> Design:
    """Join ``stage`` and the stage after it into one with both stages' blocks and the
    first one's settings (the second's stride and width give way)."""
    first = _stage(design, stage)
    if stage + 1 >= len(design.stages):
        raise DesignError(
            f"stages[{stage}]", "it is the last stage; there is no next stage to merge with"
        )
    second = design.stages[stage + 1]
    depth = first.depth + second.depth
    if depth > MAX_DEPTH:
        raise DesignError(
            f"stages[{stage}].depth",
            f"merged, the stage would have {depth:,} blocks; at most {MAX_DEPTH:,}",
        )
    stages = list(design.stages)
    stages[stage : stage + 2] = [dataclasses.replace(first, depth=depth)]
    return _with_stages(design, stages)


def set_block_stride(design: Design, stage: int, block: int, stride: int) -> Design:
    """The stride of block ``block`` of ``stage``: the stage's own for its first block;
    for a later one, the stage splits there (stride 1 on a later block changes nothing)."""
    if block == 0:
        return set_stage(design, stage, stride=stride)
    if stride == 1:
        return design
    return split_stage(design, stage, block, stride)
