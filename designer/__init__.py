"""ResNet Designer: design, inspect and export ResNet-family networks."""

__version__ = "0.1.0"
