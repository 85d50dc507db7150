"""torch's own imports without the lines they would print that mean nothing here.

``torch.utils.benchmark`` imports the C++ extension builder, which on a CUDA build of torch
in a machine with a CUDA toolkit but no GPU logs "No CUDA runtime is found, using
CUDA_HOME=..." to stderr: a stray line in the middle of a one-line answer. Nothing here
builds extensions, so that logger is held at ERROR while the module is first imported.
"""

from __future__ import annotations

import logging
from typing import Any


def timer_class() -> Any:
    """``torch.utils.benchmark.Timer``, imported without the CUDA_HOME warning."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils.benchmark import Timer
    finally:
        logger.setLevel(level)
    return Timer
