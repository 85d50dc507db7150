"""The registry of parts: every block, stem, shortcut, attention and module of our own, once.

Importing this package imports every module in it, in name order, and each registers
its kinds on import: adding a part is adding its module, with no list to edit here.
"""

import importlib
import pkgutil

# every part registers itself on import, in name order (the order model.py writes them in)
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# ruff: noqa: E402 (the registries are complete before anything is re-exported)
from designer.core.blocks.activations import ACTIVATIONS, Activation
from designer.core.blocks.kinds import (
    ATTENTIONS,
    BLOCK_KINDS,
    CUSTOM_MODULES,
    SHORTCUT_KINDS,
    STEM_KINDS,
    BlockKind,
    BlockLayout,
    CustomModule,
    ShortcutKind,
    StemKind,
)
from designer.core.blocks.norms import NORMS, Normalisation
from designer.core.blocks.squeeze_excite import se_channels

__all__ = [
    "ACTIVATIONS",
    "ATTENTIONS",
    "BLOCK_KINDS",
    "CUSTOM_MODULES",
    "NORMS",
    "SHORTCUT_KINDS",
    "STEM_KINDS",
    "Activation",
    "BlockKind",
    "BlockLayout",
    "CustomModule",
    "Normalisation",
    "ShortcutKind",
    "StemKind",
    "se_channels",
]
