"""The registry of parts: every block, stem, shortcut, activation and custom module, once.

Importing this package registers them all. Each kind is one module; adding one
is that module, its import here and its name in the design's schema.
"""

from designer.core.blocks import (  # noqa: F401 (each registers its kinds on import)
    basic,
    bottleneck,
    drop_path,
    preact_basic,
    preact_bottleneck,
    shortcuts,
    squeeze_excite,
    stems,
    zero_pad,
)
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
