"""torchinfo's own totals for a design: the reference the closed-form analysis must equal."""

from __future__ import annotations

from designer.core.design import Design


def torchinfo_totals(design: Design) -> tuple[int, int]:
    """(params, mult-adds) as torchinfo counts them for the design built on meta."""
    import torchinfo

    from designer.core.torch.build import build

    model = build(design, device="meta")
    shape = (1, design.input.channels, design.input.height, design.input.width)
    stats = torchinfo.summary(model, input_size=shape, device="meta", verbose=0)
    return int(stats.total_params), int(stats.total_mult_adds)
