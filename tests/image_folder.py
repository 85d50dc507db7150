"""A tiny ImageFolder data set (train/ and val/, one folder of PNGs per class) for runs."""

from __future__ import annotations

from pathlib import Path

COLOURS = ((200, 30, 30), (30, 30, 200), (30, 200, 30))


def colour(c: int) -> tuple[int, int, int]:
    """Class ``c``'s colour: red, blue, green, then well-spread others."""
    if c < len(COLOURS):
        return COLOURS[c]
    return (30 + (c * 67) % 190, 30 + (c * 131) % 190, 30 + (c * 29) % 190)


def make_image_folder(root: Path, classes: int = 2, train: int = 12, val: int = 4) -> Path:
    """``classes`` classes of flat-coloured 36x36 PNGs, ``train`` and ``val`` per class."""
    from PIL import Image

    for part, count in (("train", train), ("val", val)):
        for c in range(classes):
            folder = root / part / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                shade = tuple(v + 3 * i for v in colour(c))
                Image.new("RGB", (36, 36), shade).save(folder / f"{i}.png")
    return root
