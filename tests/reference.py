"""Outside references: torchvision's models and torchinfo's own counts.

torchvision is installed beside its own torch (the Makefile's pair): it imports as it is,
and a test never skips for want of it. The published figures themselves (parameter counts,
mult-adds, the papers' tables) are in ``tests.reference_figures``, which imports no torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import ModuleType

import torch
from torch import nn


def randomised_norms(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with random norm scales, shifts and running statistics, so
    that only a right mapping of every tensor gives the same outputs (not torch's defaults,
    which a norm left out would match)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.2)
    return model.eval()


def forward_flops(
    model: Callable[[torch.Tensor], torch.Tensor], side: int, device: str = "cpu"
) -> int:
    """torch's FlopCounterMode count of one 3 x side x side image (a bias add counts none).

    On the ``meta`` device (the model moved there) nothing is computed: the counter reads
    shapes alone, which is all a count needs.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, side, side, device=device))
    return counter.get_total_flops()


def torchvision_models() -> ModuleType:
    import torchvision.models as models

    return models


def torchinfo_leaf_rows(model: nn.Module, input_shape: tuple[int, ...], device: str = "cpu"):
    """(name, kind, output shape, params, macs) per leaf call, as torchinfo reports them."""
    import torchinfo

    stats = torchinfo.summary(
        model, input_size=(1, *input_shape), device=device, verbose=0, depth=100
    )
    rows = []
    for info in stats.summary_list:
        if not info.is_leaf_layer:
            continue
        names = []
        node = info
        while node is not None and node.var_name is not None and node.depth > 0:
            names.append(node.var_name)
            node = node.parent_info
        params = 0 if info.is_recursive else info.num_params
        rows.append(
            (
                ".".join(reversed(names)),
                info.class_name,
                tuple(info.output_size[1:]),
                params,
                info.macs,
            )
        )
    return stats, rows


_V2_STEM = {"conv": "conv1", "conv1": "conv1.0", "norm1": "conv1.1", "conv2": "conv1.3"}
_V2_STEM |= {"norm2": "conv1.4", "conv3": "conv1.6"}
_V2_BLOCK = re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.(.+)")


def timm_resnetv2_to_ours(
    state: dict[str, torch.Tensor], ours: set[str]
) -> dict[str, torch.Tensor]:
    """timm's ResNetV2 state dict with our (torchvision's) names.

    stem.conv -> conv1; a deep stem's stem.conv1/2/3 -> conv1.0/.3/.6 and stem.norm1/2
    -> conv1.1/.4; stages.i.blocks.j.normK/convK -> layer{i+1}.j.bnK/convK, its
    downsample.conv -> downsample.<the index of our shortcut's conv>; norm -> bn_final;
    head.fc, a 1x1 conv -> fc, its weight flattened to 2-D.
    """
    out = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        if module.startswith("stem."):
            new = f"{_V2_STEM[module.removeprefix('stem.')]}.{leaf}"
        elif match := _V2_BLOCK.fullmatch(module):
            stage, block, part = match.groups()
            prefix = f"layer{int(stage) + 1}.{block}."
            if part == "downsample.conv":
                (new,) = (
                    k
                    for k in ours
                    if re.fullmatch(re.escape(prefix) + r"downsample\.\d+\." + leaf, k)
                )
            else:
                new = prefix + part.replace("norm", "bn") + "." + leaf
        elif module == "norm":
            new = f"bn_final.{leaf}"
        elif module == "head.fc":
            new, value = f"fc.{leaf}", value.flatten(1) if leaf == "weight" else value
        else:
            raise AssertionError(f"no mapping for timm's {key}")
        out[new] = value
    return out
