"""A tiny ImageFolder data set (train/ and val/, one folder of PNGs per class) for runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

COLOURS = ((200, 30, 30), (30, 30, 200), (30, 200, 30))


def make_image_folder(root: Path, classes: int = 2, train: int = 12, val: int = 4) -> Path:
    """``classes`` classes of flat-coloured 36x36 PNGs, ``train`` and ``val`` per class."""
    from PIL import Image

    for part, count in (("train", train), ("val", val)):
        for c, colour in enumerate(COLOURS[:classes]):
            folder = root / part / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                shade = tuple(v + 3 * i for v in colour)
                Image.new("RGB", (36, 36), shade).save(folder / f"{i}.png")
    return root


def torchvision_loads() -> bool:
    """train.py reads image folders with torchvision; some environments cannot import it."""
    probe = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True)
    return probe.returncode == 0
