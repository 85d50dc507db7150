"""Outside references: torchvision's models and torchinfo's own counts.

torchvision's PyPI wheel is a CUDA build; on a CPU-only torch its C++ ops do not
load, and torchvision 0.28 then fails on import while registering fake kernels
for two of those ops (nms, qnms). Defining their schemas first lets the pure
nn.Module model code import; no op from that library is ever called here.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

import pytest
import torch
from torch import nn


@cache
def torchvision_models() -> ModuleType:
    try:
        import torchvision  # noqa: F401
    except RuntimeError:
        library = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _keep_alive.append(library)
    except ImportError:
        pytest.skip("torchvision is not installed")
    import torchvision.models as models

    return models


_keep_alive: list[object] = []


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
