"""A bundle's train.py imported in-process, as the tests of its functions need it."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType


@contextlib.contextmanager
def imported_train(bundle: Path, name: str) -> Iterator[ModuleType]:
    """``bundle``'s train.py as module ``name``; sys.path and sys.modules restored after.

    Registered in sys.modules first (its dataclasses look their module up there); it
    imports model.py from its own folder, which is dropped again on the way out.
    """
    spec = importlib.util.spec_from_file_location(name, Path(bundle) / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    path = list(sys.path)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path[:] = path
        sys.modules.pop(name, None)
        sys.modules.pop("model", None)
