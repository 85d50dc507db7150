"""CLI subcommands that live beside the core features they expose.

Each module has ``register(subparsers)``; ``designer.cli`` calls them in order.
Heavy work (importing torch, running Graphviz's dot) happens inside the handlers, never
at import time, so ``presets``/``summary``/``validate`` stay fast.
"""

COMMAND_MODULES = (
    "designer.commands.render",
    "designer.commands.export",
    "designer.commands.bundle",
    "designer.commands.lint",
    "designer.commands.fit",
    "designer.commands.transfer",
    "designer.commands.compare",
    "designer.commands.measure",
)
