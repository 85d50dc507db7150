"""How much memory the process may still take, checked before a build allocates anything.

The 16 GiB build limit alone let a 15.9 GiB design start on a 24 GiB machine and
be killed half-way. This reads what the kernel says is available (``MemAvailable``)
and the address-space limit (``ulimit -v``), and refuses with both figures.
"""

from __future__ import annotations

import resource
from pathlib import Path

from designer.core.design import DesignError

GIB = 1024**3


def available_bytes() -> int | None:
    """Bytes this process can still allocate, or None where the system does not say."""
    figures = []
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                figures.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        figures.append(max(0, soft - _address_space()))
    return min(figures) if figures else None


def _address_space() -> int:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def ensure_available(needed: int, what: str) -> None:
    """Refuse, before allocating, work that needs more memory than the process can get."""
    available = available_bytes()
    if available is not None and needed > available:
        raise DesignError(
            "stages",
            f"{what} needs about {needed / GIB:,.1f} GiB of memory but only"
            f" {available / GIB:,.1f} GiB is available: shrink widths or depths, or free memory",
        )
