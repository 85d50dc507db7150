"""Code generation: a design as a standalone, readable ``model.py``."""

from designer.core.codegen.model_py import render_model_py

__all__ = ["render_model_py"]
