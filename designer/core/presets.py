"""The bundled presets: design files under ``resources/presets/``, grouped by where they come from.

Users look for a network under the zoo they know it from (torchvision's
``resnet50``, timm's ``resnet50d``, a paper's CIFAR ResNet-110), so the lists in
the CLI and the app are grouped by source rather than alphabetical.
"""

from __future__ import annotations

from functools import cache

from designer.core.design import Design
from designer.core.io import FILE_SUFFIX, load
from designer.core.resources import resource_dir

PRESET_DIR = resource_dir() / "presets"

SOURCES: dict[str, str] = {
    "torchvision": "torchvision's models",
    "timm": "timm's ResNets",
    "papers": "the papers' CIFAR networks",
    "seed": "the articles ResNet Designer grew from",
}
"""Each source's key and how the lists title it, in the order they are listed."""

PRESET_SOURCE: dict[str, str] = {
    "resnet18": "torchvision",
    "resnet34": "torchvision",
    "resnet50": "torchvision",
    "resnet101": "torchvision",
    "resnet152": "torchvision",
    "resnext50_32x4d": "torchvision",
    "wide_resnet50_2": "torchvision",
    "resnet50_os8": "torchvision",  # resnet50(replace_stride_with_dilation=[False, True, True])
    "resnet50d": "timm",
    "resnet50t": "timm",
    "resnet50_gn": "timm",
    "seresnet50": "timm",
    "resnetrs50": "timm",
    "resnetv2_50": "timm",
    "resnet20_cifar": "papers",
    "resnet32_cifar": "papers",
    "resnet44_cifar": "papers",
    "resnet56_cifar": "papers",
    "resnet110_cifar": "papers",
    "resnet1202_cifar": "papers",
    "preact_resnet164_cifar": "papers",
    "preact_resnet1001_cifar": "papers",
    "wrn28_10_cifar": "papers",
    "resnetv2_builder": "seed",
}
"""Where each preset comes from; a preset file without an entry here is a test failure."""


def preset_names() -> list[str]:
    return sorted(p.name[: -len(FILE_SUFFIX)] for p in PRESET_DIR.glob(f"*{FILE_SUFFIX}"))


def preset_groups() -> list[tuple[str, list[str]]]:
    """(source key, its presets in listing order) per source, in :data:`SOURCES` order.

    Within a source, presets keep the order of :data:`PRESET_SOURCE` (a zoo's own
    order: resnet18 before resnet152), and any unlisted file comes last under "other".
    """
    names = set(preset_names())
    groups = [
        (source, [n for n, s in PRESET_SOURCE.items() if s == source and n in names])
        for source in SOURCES
    ]
    other = sorted(names - PRESET_SOURCE.keys())
    if other:
        groups.append(("other", other))
    return [(source, members) for source, members in groups if members]


@cache
def load_preset(name: str) -> Design:
    """The preset called ``name``; KeyError if there is none."""
    path = PRESET_DIR / f"{name}{FILE_SUFFIX}"
    if name not in preset_names():
        raise KeyError(name)
    return load(path)
