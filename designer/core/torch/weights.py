"""A weights file's tensors, read as data: what checkpoint.py and transfer.py both read.

``torch.load`` runs with ``weights_only=True``, so a file's pickle never runs code, and
its refusals become one line naming the file; training checkpoints nest the state dict
(``{"model": {...}}``), which ``flatten_state`` finds and unwraps.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from designer.core.design import DesignError
from designer.core.recover import unwrapped

NOT_TORCH = "not a torch checkpoint (neither torch.save's format nor a pickle of tensors)"


def torch_load(file: Path, *, mmap: bool) -> object:
    """``torch.load`` as data only, quietly; its refusals become one line naming the file."""
    with file.open("rb") as handle:
        magic = handle.read(2)
    if magic != b"PK" and not magic.startswith(b"\x80"):  # neither a zip nor a pickle
        raise DesignError("", f"{file}: {NOT_TORCH}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4"
            return torch.load(file, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:
        raise DesignError("", f"{file}: {load_failure(exc)}") from None


def load_failure(exc: BaseException) -> str:
    """Why torch.load refused a file, in a few words."""
    text = str(exc)
    if "Weights only load failed" in text:
        return (
            "it holds Python objects that would run code when loaded; checkpoints are read"
            " as data only (save a state_dict: torch.save(model.state_dict(), path))"
        )
    if "zip archive" in text or "central directory" in text or "EOF" in text:
        return "not a complete torch checkpoint (truncated or damaged?)"
    if isinstance(exc, (KeyError, pickle.UnpicklingError)) or "load key" in text:
        return NOT_TORCH
    first = text.strip().splitlines()[0][:160] if text.strip() else type(exc).__name__
    return f"not a loadable weights file ({first})"


def flatten_state(data: object, file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a state dict, or of the one a training checkpoint nests, unwrapped."""
    # training checkpoints nest the weights: {"model": {...}} or {"state_dict": {...}}
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping):
        raise DesignError("checkpoint", f"{file}: holds no state dict")
    tensors = unwrapped({str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)})
    if not tensors:
        raise DesignError("checkpoint", f"{file}: holds no tensors")
    return tensors
