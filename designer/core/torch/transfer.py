"""Pretrained weights into an edited design: which tensors fit by name and shape, and why not.

Checkpoints are data: ``.pt``/``.pth`` files load with ``weights_only=True`` and
``.safetensors`` through safetensors; nothing in them is executed. Tensors that
fit are copied; everything else keeps the design's usual initialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from designer.core.design import Design, DesignError
from designer.core.recover import key_map
from designer.core.torch.build import build
from designer.core.torch.weights import flatten_state, torch_load

Shape = tuple[int, ...]


@dataclass(frozen=True)
class TransferReport:
    matched: tuple[str, ...]
    shape_mismatch: tuple[tuple[str, Shape, Shape], ...]  # key, checkpoint shape, design shape
    missing: tuple[str, ...]  # in the design, not in the checkpoint
    unexpected: tuple[str, ...]  # in the checkpoint, not in the design
    matched_params: int = 0
    total_params: int = 0
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        share = self.matched_params / self.total_params if self.total_params else 0.0
        out = [
            f"{len(self.matched)} tensors fit ({self.matched_params:,} of"
            f" {self.total_params:,} parameters, {share:.1%}); {len(self.shape_mismatch)} differ"
            f" in shape; {len(self.missing)} missing from the checkpoint;"
            f" {len(self.unexpected)} not used"
        ]
        out += [
            f"  shape  {k}: checkpoint {list(a)} vs design {list(b)}"
            for k, a, b in self.shape_mismatch
        ]
        out += [f"  new    {k}: not in the checkpoint, initialised as usual" for k in self.missing]
        out += [f"  unused {k}: not in the design" for k in self.unexpected]
        return out


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat name -> tensor mapping from a state dict, a training checkpoint or safetensors."""
    file = Path(path)
    if not file.is_file():
        raise DesignError("checkpoint", f"{file}: no such file")
    if file.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise DesignError(
                "checkpoint", "reading .safetensors needs: pip install safetensors"
            ) from None
        try:
            tensors = dict(load_file(str(file)))
        except Exception as exc:  # the library raises its own error types for corrupt files
            raise DesignError(
                "checkpoint", f"{file}: not a readable safetensors file ({exc})"
            ) from None
        return in_our_names(flatten_state(tensors, file))
    return in_our_names(flatten_state(torch_load(file, mmap=False), file))


def in_our_names(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors under our names where the checkpoint names the structure otherwise.

    timm's ResNetV2 (``stages.0.blocks.0.norm1``) maps by structure to ours
    (``layer1.0.bn1``), its 1x1-conv classifier to our linear one; torchvision's and
    timm's ``resnet.py`` names are ours already, and anything else keeps its names.
    """
    try:
        km = key_map({k: tuple(v.shape) for k, v in tensors.items()})
    except DesignError:
        return tensors
    if km.scheme == "torchvision":
        return tensors
    return km.translate(tensors, lambda tensor: tensor.reshape(tensor.shape[:2]))


def match(design: Design, checkpoint: Mapping[str, torch.Tensor]) -> TransferReport:
    """Compare names and shapes; nothing is allocated for the design (meta device)."""
    target = build(design, device="meta")
    wanted = target.state_dict()
    params = dict(target.named_parameters())
    matched, mismatch, missing = [], [], []
    for key, tensor in wanted.items():
        if key not in checkpoint:
            missing.append(key)
        elif tuple(checkpoint[key].shape) != tuple(tensor.shape):
            mismatch.append((key, tuple(checkpoint[key].shape), tuple(tensor.shape)))
        else:
            matched.append(key)
    unexpected = tuple(k for k in checkpoint if k not in wanted)
    return TransferReport(
        matched=tuple(matched),
        shape_mismatch=tuple(mismatch),
        missing=tuple(missing),
        unexpected=unexpected,
        matched_params=sum(params[k].numel() for k in matched if k in params),
        total_params=sum(p.numel() for p in params.values()),
    )


def apply(model: nn.Module, checkpoint: Mapping[str, torch.Tensor], report: TransferReport) -> None:
    """Copy every matched tensor into ``model`` (dtype converted); the rest stays as built."""
    state = model.state_dict()
    with torch.no_grad():
        for key in report.matched:
            state[key].copy_(checkpoint[key].to(state[key].dtype))


def build_initialised(
    design: Design, checkpoint_path: str | Path, *, seed: int = 0
) -> tuple[nn.Module, TransferReport]:
    checkpoint = load_checkpoint(checkpoint_path)
    report = match(design, checkpoint)
    torch.manual_seed(seed)
    model = build(design)
    apply(model, checkpoint, report)
    return model, report


def save_state_dict(model: nn.Module, path: Path) -> None:
    """Write ``model``'s weights as a plain ``torch.save`` state dict, atomically."""
    import io

    from designer.core.io import atomic_write_bytes

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write_bytes(path, buffer.getvalue(), backup=False)
