"""A design's artefacts on disk: model.py, initial weights, a torch.export program, ONNX.

Every export builds the network under a fixed seed (the caller's global RNG is
left untouched), so the same design and seed always give the same weights; the
generated model.py seeded the same way gives them too. Writes are atomic and
refuse an existing file unless ``overwrite`` is set. Long exports report
``progress(fraction, message)`` and poll ``cancel()`` between steps, so the app
can show a progress bar with a working Cancel button.
"""

from __future__ import annotations

import importlib
import json
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO, TypedDict

from designer.core.analysis import analyse
from designer.core.design import Design, validate
from designer.core.io import atomic_write, atomic_write_bytes, dumps
from designer.core.torch.memory import ensure_available

if TYPE_CHECKING:
    import torch
    from torch import nn

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]
InitFrom = str | os.PathLike[str] | None  # a checkpoint whose fitting tensors are loaded


class _Hooks(TypedDict):
    """The keyword arguments that :func:`export` passes on to each format's exporter."""

    overwrite: bool
    progress: Progress | None
    cancel: Cancel | None
    init_from: InitFrom


FORMATS: dict[str, str] = {
    ".py": "py",
    ".pt": "pt",
    ".pth": "pt",
    ".safetensors": "safetensors",
    ".pt2": "pt2",
    ".onnx": "onnx",
}
# the export extra's packages by name: resnet-designer itself is not on the package index
EXTRA_HINT = "pip install safetensors onnx onnxruntime onnxscript (the 'export' extra)"
MIN_OPSET = 18  # torch.onnx's exporter writes 18+; converting down fails for Pad


class ExportCancelled(Exception):
    """The user cancelled; nothing was written."""


class MissingExtra(RuntimeError):
    """An optional package an export needs is not installed (the message says how to add it)."""


def format_for(path: str | os.PathLike[str]) -> str | None:
    """The export format a file name implies (``model.onnx`` -> ``"onnx"``), or None."""
    return FORMATS.get(Path(path).suffix.lower())


def require(module: str) -> ModuleType:
    """Import an optional package, or fail with one line naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{module} is not installed: {EXTRA_HINT}") from None


class _Steps:
    """Reports progress and honours cancel between the steps of one export."""

    def __init__(self, progress: Progress | None, cancel: Cancel | None) -> None:
        self._progress = progress
        self._cancel = cancel

    def __call__(self, fraction: float, message: str) -> None:
        if self._cancel is not None and self._cancel():
            raise ExportCancelled("export cancelled")
        if self._progress is not None:
            self._progress(fraction, message)


def _check_target(path: str | os.PathLike[str], overwrite: bool) -> Path:
    target = Path(path)
    if target.is_dir():
        raise FileExistsError(f"{target}: is a folder; give a file name")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: already exists (overwrite it with --force)")
    return target


def _build_seeded(design: Design, seed: int, init_from: InitFrom = None) -> nn.Module:
    """The network as ``torch.manual_seed(seed); build(design)`` gives it, in eval mode.

    With ``init_from`` (a checkpoint path), every tensor that fits by name and shape
    is then copied from it (see ``designer.core.torch.transfer``).
    """
    import torch

    from designer.core.torch.build import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(design)
    if init_from is not None:
        from designer.core.torch.transfer import apply, load_checkpoint, match

        checkpoint = load_checkpoint(Path(init_from))
        apply(model, checkpoint, match(design, checkpoint))
    return model.eval()


def _example_input(design: Design, batch: int = 1) -> torch.Tensor:
    import torch

    generator = torch.Generator().manual_seed(0)
    shape = (batch, design.input.channels, design.input.height, design.input.width)
    return torch.randn(shape, generator=generator)


def export_model_py(
    design: Design, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write the standalone model.py (no torch needed to write it)."""
    from designer.core.codegen import render_model_py

    target = _check_target(path, overwrite)
    atomic_write_bytes(target, render_model_py(validate(design)).encode("utf-8"), backup=False)
    return target


def export_weights(
    design: Design,
    path: str | os.PathLike[str],
    fmt: str = "pt",
    seed: int = 0,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    init_from: InitFrom = None,
) -> Path:
    """The initial ``state_dict`` under ``seed``: ``.pt`` (torch.save) or ``.safetensors``.

    The ``.pt`` file loads with ``torch.load(path, weights_only=True)``; the
    safetensors file carries the seed and the design JSON in its metadata.
    """
    if fmt not in ("pt", "safetensors"):
        raise ValueError(f"fmt: must be 'pt' or 'safetensors' (got {fmt!r})")
    import torch

    target = _check_target(path, overwrite)
    if fmt == "safetensors":
        require("safetensors.torch")  # what readers of the file will use
    step = _Steps(progress, cancel)
    step(0.0, "building the network")
    state = _build_seeded(validate(design), seed, init_from).state_dict()
    step(0.6, "writing the weights")
    # streamed to the file tensor by tensor: the peak stays near one copy of the weights
    if fmt == "safetensors":
        metadata = {"format": "pt", "seed": str(seed), "design": dumps(design)}
        atomic_write(
            target, lambda handle: write_safetensors(handle, state, metadata), backup=False
        )
    else:
        atomic_write(target, lambda handle: torch.save(state, handle), backup=False)
    step(1.0, "done")
    return target


_SAFETENSORS_DTYPES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}


def write_safetensors(
    handle: BinaryIO, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]
) -> None:
    """The safetensors format, written one tensor at a time without copying it first.

    The format: an 8-byte little-endian header length, a JSON header (names, dtypes,
    shapes, byte offsets; padded with spaces to 8 bytes), then each tensor's raw
    little-endian bytes in header order. The library writes the same, but only from
    a complete in-memory copy.
    """
    import torch

    header: dict[str, object] = {"__metadata__": dict(metadata)}
    offset = 0
    for name, tensor in tensors.items():
        size = tensor.numel() * tensor.element_size()
        dtype = _SAFETENSORS_DTYPES[str(tensor.dtype).removeprefix("torch.")]
        header[name] = {
            "dtype": dtype,
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    handle.write(len(text).to_bytes(8, "little"))
    handle.write(text)
    for tensor in tensors.values():
        flat = tensor.detach().contiguous().reshape(-1)
        if flat.numel():
            # an ndarray has the buffer protocol on every Python; numpy's stubs declare
            # __buffer__ (typing.Buffer) only for 3.12 and later
            handle.write(memoryview(flat.view(torch.uint8).numpy()))  # type: ignore[arg-type]


def export_program(
    design: Design,
    path: str | os.PathLike[str],
    seed: int = 0,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    init_from: InitFrom = None,
) -> Path:
    """A ``torch.export`` program (``.pt2``: eval mode, dynamic batch)."""
    import torch

    target = _check_target(path, overwrite)
    _ensure_room_to_trace(design)
    step = _Steps(progress, cancel)
    step(0.0, "building the network")
    model = _build_seeded(validate(design), seed, init_from)
    step(0.2, "tracing with torch.export")
    program = torch.export.export(
        model, (_example_input(design, 2),), dynamic_shapes=_dynamic_batch(torch)
    )
    step(0.8, "writing the program")
    atomic_write(target, lambda handle: torch.export.save(program, handle), backup=False)
    step(1.0, "done")
    return target


def _ensure_room_to_trace(design: Design) -> None:
    """Tracing holds the weights, a traced copy of their graph and serialised bytes: ~3x."""
    weights = analyse(design).param_bytes
    ensure_available(3 * weights + 512 * 1024**2, "tracing the network for export")


def _dynamic_batch(torch: ModuleType) -> dict[str, dict[int, object]]:
    # ``x`` is the forward argument of both the builder's and the generated network
    return {"x": {0: torch.export.Dim("batch", min=1, max=65536)}}


def export_onnx(
    design: Design,
    path: str | os.PathLike[str],
    seed: int = 0,
    opset: int = MIN_OPSET,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    init_from: InitFrom = None,
) -> Path:
    """ONNX (input ``input``, output ``logits``, dynamic batch), checked by ``onnx.checker``.

    Uses torch's ``torch.export``-based exporter (the TorchScript one is
    deprecated and slated for removal).
    """
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise ValueError(f"opset: must be a whole number >= {MIN_OPSET} (got {opset!r})")
    import torch

    target = _check_target(path, overwrite)
    onnx = require("onnx")
    require("onnxscript")
    _ensure_room_to_trace(design)
    step = _Steps(progress, cancel)
    step(0.0, "building the network")
    model = _build_seeded(validate(design), seed, init_from)
    step(0.1, "exporting to ONNX")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation chatter from inside torch.onnx
        program = torch.onnx.export(
            model,
            (_example_input(design, 2),),
            None,
            dynamo=True,
            opset_version=opset,
            input_names=["input"],
            output_names=["logits"],
            dynamic_shapes=_dynamic_batch(torch),
            verbose=False,
        )
    step(0.8, "checking the ONNX model")
    assert program is not None  # None only without dynamo=True
    proto = program.model_proto
    proto.doc_string = f"{design.name} (seed {seed}), exported by ResNet Designer"
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    step(0.9, "writing the file")
    atomic_write_bytes(target, data, backup=False)
    step(1.0, "done")
    return target


def export(
    design: Design,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    seed: int = 0,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    init_from: InitFrom = None,
) -> Path:
    """One entry point for every format (``fmt`` None: from the file's suffix)."""
    fmt = fmt or format_for(path)
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"format: cannot tell it from '{Path(path).name}' (use one of {known})")
    if fmt == "py":
        if init_from is not None:
            raise ValueError("init_from: model.py holds no weights; export .pt, .pt2 or .onnx")
        step = _Steps(progress, cancel)
        step(0.0, "writing model.py")
        written = export_model_py(design, path, overwrite=overwrite)
        step(1.0, "done")
        return written
    hooks = _Hooks(overwrite=overwrite, progress=progress, cancel=cancel, init_from=init_from)
    if fmt in ("pt", "safetensors"):
        return export_weights(design, path, fmt, seed, **hooks)
    if fmt == "pt2":
        return export_program(design, path, seed, **hooks)
    if fmt == "onnx":
        return export_onnx(design, path, seed, **hooks)
    raise ValueError(f"format: must be one of py, pt, safetensors, pt2, onnx (got {fmt!r})")
