"""Design -> a folder a user can train from: model, weights, design, train.py, README.

Every file is written atomically (temp file, fsync, rename), so an interrupted export
never leaves a half-written file behind; a cancelled one leaves only whole files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from designer import __version__
from designer.core.analysis import analyse
from designer.core.bundle.readme import render_readme
from designer.core.design import Design
from designer.core.io import atomic_write_bytes, dumps

TRAIN_SCRIPT = Path(__file__).parents[1] / "bundle" / "train_script.py"
BUNDLE_FORMAT = "resnet-designer-bundle/1"
# What train.py needs, at the oldest versions it runs on: torch.amp.GradScaler(device)
# came in torch 2.3; transforms.v2's MixUp, CutMix and ToDtype(scale=) in torchvision 0.16,
# whose torch 2.3 release is 0.18.
REQUIREMENTS = """\
# What train.py needs: pip install -r requirements.txt
# (written by ResNet Designer {version}, next to torch {torch})
torch>=2.3
# image data (--data-path, CIFAR) and its augmentations; synthetic data need torch alone
torchvision>=0.18
# optional: weights.safetensors is read with it when installed, by train.py itself if not
safetensors>=0.4
# optional, for --tensorboard:
# tensorboard
"""

Progress = Callable[[float, str], None]
"""Called as ``progress(fraction, message)`` before each file, as the exporters do."""


class BundleError(ValueError):
    """The bundle cannot be written where asked; the message is one line."""


class BundleCancelled(Exception):
    """``cancel()`` returned True; nothing was written."""


def check_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise BundleError(f"OUT: {out_dir} is a file; give a folder for the bundle")
    if not out_dir.parent.is_dir():
        raise BundleError(f"OUT: the folder '{out_dir.parent}' does not exist; create it first")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise BundleError(f"OUT: {out_dir} is not empty; use --force to overwrite its files")


def render_model_source(design: Design) -> str:
    """The standalone model.py (designer.core.codegen)."""
    from designer.core.codegen import render_model_py

    return render_model_py(design)


def write_initial_weights(
    design: Design, out: Path, seed: int, init_from: str | os.PathLike[str] | None = None
) -> Path:
    """The initial state dict under ``seed``, as designer.core.torch.export writes it.

    safetensors when installed (the seed and design in its metadata), else a
    ``torch.save`` state dict; train.py reads either with torch alone. With
    ``init_from``, the checkpoint's tensors that fit replace the drawn ones.
    """
    from designer.core.torch.export import MissingExtra, export_weights

    try:
        return export_weights(
            design,
            out / "weights.safetensors",
            "safetensors",
            seed,
            overwrite=True,
            init_from=init_from,
        )
    except MissingExtra:
        return export_weights(
            design, out / "weights.pt", "pt", seed, overwrite=True, init_from=init_from
        )


def render_requirements() -> str:
    """The bundle's requirements.txt: lower bounds, and the torch it was written next to."""
    import torch

    return REQUIREMENTS.format(version=__version__, torch=torch.__version__.split("+")[0])


def write_bundle(
    design: Design,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    force: bool = False,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    init_from: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write the training bundle of ``design`` into ``out_dir``; return the files written.

    Refuses a non-empty folder unless ``force`` (then only the bundle's own files are
    replaced). Raises BundleError for a bad destination, BundleCancelled when cancelled.
    Everything is written into a hidden folder beside ``out_dir`` first and moved into
    place at the end, so a refused, failed, cancelled or killed bundle leaves no files.
    """
    if design.num_classes == 0:
        raise BundleError(
            "num_classes: a design without a classifier (0 classes) has nothing to train for"
            " classification: set num_classes to your data's class count"
        )
    out = Path(out_dir)
    check_out_dir(out, force)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        names = _write_files(design, staging, seed, progress, cancel, init_from)
        return _publish(staging, out, names)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, out: Path, names: list[str]) -> list[Path]:
    """Move the finished files into ``out`` (the whole folder at once when it is new)."""
    if not out.exists():
        os.chmod(staging, 0o755)  # mkdtemp's folder is private; a bundle is shared
        os.rename(staging, out)
    else:
        for name in names:
            os.replace(staging / name, out / name)
    return [out / name for name in names]


def _write_files(
    design: Design,
    out: Path,
    seed: int,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
    init_from: str | os.PathLike[str] | None = None,
) -> list[str]:
    result = analyse(design)
    shape = "x".join(
        str(v) for v in (design.input.channels, design.input.height, design.input.width)
    )
    total = 7
    written: list[Path] = []

    def step(what: str) -> None:
        if cancel is not None and cancel():
            raise BundleCancelled(f"cancelled after {len(written)} of {total} files")
        if progress is not None:
            progress(len(written) / total, f"writing {what}")

    def put(name: str, data: bytes) -> None:
        step(name)
        atomic_write_bytes(out / name, data, backup=False)
        keep(out / name)

    def keep(path: Path) -> None:
        os.chmod(path, 0o644)  # the temporary file was private (0600); a bundle is shared
        written.append(path)

    put("design.resnet.json", dumps(design, schema=True).encode())
    put("model.py", render_model_source(design).encode())
    step("the initial weights")
    weights = write_initial_weights(design, out, seed, init_from)
    keep(weights)
    put("train.py", TRAIN_SCRIPT.read_bytes())
    put("requirements.txt", render_requirements().encode())
    info: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "design": design.name,
        "seed": seed,
        "weights": weights.name,
        "params": result.params,
        "macs": result.macs,
        "input_shape": [design.input.channels, design.input.height, design.input.width],
        "num_classes": design.num_classes,
        "files": [*sorted(p.name for p in written), "README.md", "bundle.json"],
        "written_by": f"resnet-designer {__version__}",
    }
    readme = render_readme(
        title=design.name,
        version=__version__,
        shape=shape,
        classes=design.num_classes,
        weights=weights.name,
        seed=seed,
    )
    put("README.md", readme.encode())
    put("bundle.json", (json.dumps(info, indent=2) + "\n").encode())
    if progress is not None:
        progress(1.0, "done")
    return [path.name for path in written]
