"""ResNet Designer: design, inspect and export ResNet-family networks.

The Python API (each name is imported on first use, so ``import designer`` loads neither
torch nor Qt; :func:`build` and :func:`export` load torch when called)::

    import designer

    net = designer.load_preset("resnet50")            # or designer.load("my.resnet.json")
    wide = net.with_stage(2, width=512)               # designs are immutable values
    result = designer.analyse(wide)                   # exact params, MACs, per-layer shapes
    print(result.params, result.macs, result.output_shape)
    designer.save(wide, "wide.resnet.json")
    model = designer.build(wide)                      # a torch.nn.Module
    designer.export(wide, "wide.onnx")                # .py .pt .safetensors .pt2 .onnx
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from designer.core.analysis import Analysis, analyse
    from designer.core.codegen import render_model_py
    from designer.core.design import Design, DesignError
    from designer.core.io import dumps, load, loads, save
    from designer.core.lint import Finding, lint
    from designer.core.presets import load_preset, preset_names
    from designer.core.torch.build import build
    from designer.core.torch.export import export

DISTRIBUTION = "resnet-designer"

# name -> the module that defines it, imported on first use (PEP 562)
_API = {
    "Design": "designer.core.design",
    "DesignError": "designer.core.design",
    "preset_names": "designer.core.presets",
    "load_preset": "designer.core.presets",
    "load": "designer.core.io",
    "loads": "designer.core.io",
    "save": "designer.core.io",
    "dumps": "designer.core.io",
    "analyse": "designer.core.analysis",
    "Analysis": "designer.core.analysis",
    "lint": "designer.core.lint",
    "Finding": "designer.core.lint",
    "render_model_py": "designer.core.codegen",
    "build": "designer.core.torch.build",  # imports torch
    "export": "designer.core.torch.export",  # imports torch
}

__all__ = [
    "Analysis",
    "Design",
    "DesignError",
    "Finding",
    "__version__",
    "analyse",
    "build",
    "dumps",
    "export",
    "lint",
    "load",
    "load_preset",
    "loads",
    "preset_names",
    "render_model_py",
    "save",
]


def _version() -> str:
    """The version pyproject.toml states: a source checkout reads the file itself (an
    editable install's metadata goes stale when the file changes), an install its metadata."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        text = ""
    project = re.search(r"^\[project\]\n(.*?)(?=^\[)", text + "\n[", re.M | re.S)
    if project and re.search(rf'^name\s*=\s*"{DISTRIBUTION}"', project.group(1), re.M):
        found = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M)
        if found:
            return found.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # copied without its metadata
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
    else:
        raise AttributeError(f"module 'designer' has no attribute {name!r}")
    globals()[name] = value  # once: later lookups find it without this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
