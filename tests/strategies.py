"""Hypothesis strategies for designs: small enough to build and run on a CPU in milliseconds."""

from __future__ import annotations

from hypothesis import strategies as st

from designer.core.blocks import BLOCK_KINDS, STEM_KINDS
from designer.core.blocks.stems import has_pool
from designer.core.design import (
    ACTIVATIONS,
    BLOCKS,
    SHORTCUTS,
    STEMS,
    Design,
    DesignError,
    HeadSpec,
    InputSpec,
    StageSpec,
    StemSpec,
    validate,
)


@st.composite
def small_designs(draw: st.DrawFn) -> Design:
    # every registered kind, so a kind added to designer.core.blocks is tested at once
    block = draw(st.sampled_from(BLOCKS))
    bottleneck = BLOCK_KINDS[block].grouped
    groups = draw(st.sampled_from([1, 2, 4])) if bottleneck else 1
    width_per_group = draw(st.sampled_from([4, 16, 64])) if bottleneck else 64
    stem_kind = draw(st.sampled_from(STEMS))
    pooled = has_pool(STEM_KINDS[stem_kind])
    pool = draw(st.sampled_from(["max", "conv"])) if pooled else "max"
    shortcut = draw(st.sampled_from(SHORTCUTS))
    # per-stage overrides: a block of the same activation order, with its own options
    same_order = [n for n, k in BLOCK_KINDS.items() if k.preact == BLOCK_KINDS[block].preact]
    n_stages = draw(st.integers(1, 4))
    stages = []
    for _ in range(n_stages):
        choice = draw(st.integers(0, 4))
        override = draw(st.integers(0, 3)) == 0
        stage_block = draw(st.sampled_from(same_order)) if override else None
        stage_bottleneck = BLOCK_KINDS[stage_block or block].grouped
        stride = draw(st.sampled_from([1, 1, 2, 3]))
        stages.append(
            StageSpec(
                depth=draw(st.integers(1, 2)),
                width=draw(st.sampled_from([4, 8, 12, 16])),
                stride=stride,
                expansion=draw(st.integers(1, 4)) if choice == 1 else None,
                out_width=draw(st.sampled_from([8, 24, 32])) if choice == 2 else None,
                block=stage_block,
                groups=draw(st.sampled_from([1, 2])) if override and stage_bottleneck else None,
                width_per_group=(
                    draw(st.sampled_from([16, 64])) if override and stage_bottleneck else None
                ),
                se_ratio=draw(st.sampled_from([0.0, 0.5])) if override else None,
                stride_on=draw(st.sampled_from(["3x3", "1x1"])) if override else None,
                dilate=stride > 1 and shortcut == "projection" and draw(st.booleans()),
            )
        )
    size = draw(st.integers(5, 40))
    design = Design(
        stages=tuple(stages),
        name="random",
        input=InputSpec(draw(st.integers(1, 4)), size, draw(st.integers(5, 40))),
        num_classes=draw(st.integers(1, 20)),
        block=block,
        stem=StemSpec(
            stem_kind,
            draw(st.sampled_from([8, 16])),
            pool,
            norm_act=not (
                BLOCK_KINDS[block].preact and stem_kind != "none" and draw(st.booleans())
            ),
        ),
        groups=groups,
        width_per_group=width_per_group,
        shortcut=shortcut,
        stride_on=draw(st.sampled_from(["3x3", "1x1"])),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        # anti-aliasing only where no stage dilates (a dilated stage does not subsample)
        anti_alias=(
            "none"
            if any(s.dilate for s in stages)
            else draw(st.sampled_from(["none", "none", "avg", "blur"]))
        ),
        se_ratio=draw(st.sampled_from([0.0, 0.0, 0.25])),
        se_divisor=draw(st.sampled_from([0, 0, 8])),
        drop_path_rate=draw(st.sampled_from([0.0, 0.0, 0.2])),
        block_dropout=draw(st.sampled_from([0.0, 0.0, 0.3])),
        conv_bias=draw(st.booleans()),
        zero_init_residual=draw(st.booleans()),
        head=HeadSpec(
            hidden=tuple(draw(st.lists(st.sampled_from([8, 16]), max_size=2))),
            dropout=draw(st.sampled_from([0.0, 0.2])),
        ),
    )
    try:
        return validate(design)
    except DesignError:
        # e.g. zero_pad asked to shrink channels: a legitimate refusal, not a sample
        from hypothesis import reject

        reject()
        raise
