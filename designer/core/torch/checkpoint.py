"""Read a checkpoint's names and shapes without its data, and recover its design.

ResNet-152 is 240 MB and ResNet-RS-420 far more, yet recovering a design needs only
the names and shapes: a safetensors header (parsed here, bounded), or a ``torch.load``
with ``mmap=True`` and ``weights_only=True``, which maps the file instead of reading
it and never runs code. The recovered design is then built on the meta device and its
state dict compared with the checkpoint's, key by key and shape by shape.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path

from designer.core.design import DesignError
from designer.core.recover import Recovery, Shape, recover, unwrapped
from designer.core.torch.weights import flatten_state, torch_load

MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit on a header


def _fail(file: Path, reason: str) -> DesignError:
    return DesignError("", f"{file}: {reason}")


def read_shapes(path: str | os.PathLike[str]) -> dict[str, Shape]:
    """Every tensor's name and shape, with our prefixes and nesting undone; no data read."""
    file = Path(path)
    if not file.exists():
        raise _fail(file, "no such file")
    if not file.is_file():
        raise _fail(file, "is not a regular file: give a .pt, .pth or .safetensors checkpoint")
    if file.suffix == ".safetensors":
        return _safetensors_shapes(file)
    # torch's zip format (since 1.6) is mapped, not read; the legacy format cannot be
    data = torch_load(file, mmap=zipfile.is_zipfile(file))
    return {k: tuple(v.shape) for k, v in flatten_state(data, file).items()}


def _safetensors_shapes(file: Path) -> dict[str, Shape]:
    """The header of a safetensors file: 8 bytes of length, then that much JSON."""
    size = file.stat().st_size
    with file.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise _fail(file, "too short for a safetensors file (truncated?)")
        (length,) = struct.unpack("<Q", head)
        if length > MAX_HEADER_BYTES or length > size - 8:
            raise _fail(
                file, f"its header claims {length:,} bytes but the file has {size - 8:,}: damaged"
            )
        raw = handle.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _fail(file, "its safetensors header is not valid JSON: damaged") from None
    if not isinstance(header, dict):
        raise _fail(file, "its safetensors header is not a table of tensors")
    shapes = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise _fail(file, f"tensor {name[:80]!r} has no valid shape in the header")
        end = (info.get("data_offsets") or [0, 0])[-1]
        if not isinstance(end, int) or end > size - 8 - length:
            raise _fail(file, f"tensor {name[:80]!r} lies past the end of the file: truncated")
        shapes[name] = tuple(shape)
    shapes = unwrapped(shapes)
    if not shapes:
        raise _fail(file, "holds no tensors")
    return shapes


def recover_checkpoint(path: str | os.PathLike[str]) -> Recovery:
    """A checkpoint's design, checked: its network has the checkpoint's keys and shapes."""
    file = Path(path)
    shapes = read_shapes(file)
    name = file.name.split(".")[0] or "Recovered"
    try:
        return recover(shapes, name=name)
    except DesignError as exc:
        raise _fail(file, exc.reason) from None
