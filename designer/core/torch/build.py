"""Design -> ``torch.nn.Module``, by running the design's generated ``model.py``.

As torch.fx's ``GraphModule`` runs the source it generates, the network the app
builds, counts and verifies *is* the code it exports: there is no second
implementation to drift from it. The source is compiled under a readable file
name registered with :mod:`linecache`, so a traceback through the network shows
its real lines. Nothing from a design file becomes code: the generator only
writes validated numbers, registry names and ``repr``-quoted or escaped text
(tests parse the output of hostile names to prove it).

Attribute names are torchvision's (``conv1``, ``layer1.0.downsample.0``, ``fc``...)
because they *are* the state-dict keys: torchvision's weights load into a
torchvision-shaped design with ``strict=True``.
"""

from __future__ import annotations

import hashlib
import linecache
import types
from functools import lru_cache

import torch
from torch import nn

from designer.core.analysis import analyse
from designer.core.codegen import render_model_py
from designer.core.design import MAX_BUILD_BYTES, Design, DesignError
from designer.core.stages import heaviest_field, shrink_weights
from designer.core.torch.memory import ensure_available

BUILD_OVERHEAD = 128 * 1024**2  # torch's own working memory while it initialises


def build(design: Design, *, device: str | torch.device = "cpu") -> nn.Module:
    """Instantiate the design's network (on ``meta`` to count without allocating)."""
    if torch.device(device).type != "meta":
        result = analyse(design)
        size = result.param_bytes
        if size > MAX_BUILD_BYTES:
            field = heaviest_field(result)  # what makes it big: a stage, or the classifier
            raise DesignError(
                field,
                f"the weights would take {size / 1024**3:,.1f} GiB (over"
                f" {MAX_BUILD_BYTES // 1024**3} GiB): {shrink_weights(field)} to build it",
            )
        ensure_available(size + size // 8 + BUILD_OVERHEAD, "building the network")
    module = model_module(render_model_py(design))
    with torch.device(device):
        if torch.device(device).type == "meta":
            return _uninitialised(module.ResNet)()
        model: nn.Module = module.build_model()
        return model


@lru_cache(maxsize=16)
def _uninitialised(network: type[nn.Module]) -> type[nn.Module]:
    """The class without its weight init: on meta there are no values to draw, and torch's
    meta ``normal_`` imports torch._dynamo on first use (4 s); the modules are the same."""
    return type(network.__name__, (network,), {"_init_weights": lambda self: None})


@lru_cache(maxsize=16)
def model_module(source: str) -> types.ModuleType:
    """Run generated source as a fresh module (cached: the same text, the same classes)."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    filename = f"<resnet-designer model.py {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(f"resnet_designer_model_{digest}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module
