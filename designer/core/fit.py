"""Fit a design to a budget: the largest scalings of its depths and widths that meet the limits.

Candidates keep the design's proportions: every stage's depth is scaled by one
factor and every width by another (widths rounded to multiples of 8, as
hardware likes). Each is analysed in closed form, so trying a thousand costs
well under a second; the search is a fixed grid, hence deterministic.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from designer.core.analysis import Analysis, analyse
from designer.core.design import Design, DesignError
from designer.core.explain import training_bytes

FACTORS = tuple(0.25 + 0.125 * i for i in range(23))  # 0.25 .. 3.0
# How much budget use one octave of imbalance between depth and width scaling costs
# in the ranking: prefer growing or shrinking both together, as EfficientNet found.
IMBALANCE_PENALTY = 0.2


@dataclass(frozen=True)
class Budget:
    max_macs: int | None = None
    max_params: int | None = None
    max_memory_bytes: int | None = None  # training memory at ``batch_size``
    batch_size: int = 32

    def usage(self, result: Analysis) -> dict[str, float]:
        """Fraction of each stated limit used (1.0 = exactly at the limit)."""
        out: dict[str, float] = {}
        if self.max_macs:
            out["macs"] = result.macs / self.max_macs
        if self.max_params:
            out["params"] = result.params / self.max_params
        if self.max_memory_bytes:
            out["memory"] = training_bytes(result, self.batch_size) / self.max_memory_bytes
        return out


@dataclass(frozen=True)
class Candidate:
    design: Design
    result: Analysis
    depth_factor: float
    width_factor: float
    usage: dict[str, float]
    latency_ms: float | None = None  # measured, by ``fit_measured``

    @property
    def binding(self) -> str:
        """The limit this candidate is closest to: the one that stops it growing."""
        return max(self.usage, key=lambda k: self.usage[k])

    def explain(self) -> str:
        parts = ", ".join(f"{k} {v:.0%}" for k, v in sorted(self.usage.items()))
        return (
            f"depth x{self.depth_factor:g}, width x{self.width_factor:g}: uses {parts} of the"
            f" budget; {self.binding} binds"
        )


_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BYTES = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "kb": 10**3}
_BYTES |= {"mb": 10**6, "gb": 10**9, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_count(text: str, field: str) -> int:
    """'2G', '10M', '3.5e9', '500k' -> an integer."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?)\s*", text.lower())
    if not match:
        raise DesignError(field, f"'{text[:30]}' is not a count: write e.g. 2G, 10M or 500k")
    return _positive(float(match.group(1)) * _SUFFIXES[match.group(2)], field, text)


def parse_bytes(text: str, field: str) -> int:
    """'4GiB', '512MiB', '2G' -> bytes (a bare K/M/G means binary units)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", text.lower())
    if not match or match.group(2) not in _BYTES:
        raise DesignError(field, f"'{text[:30]}' is not a size: write e.g. 512MiB or 4GiB")
    return _positive(float(match.group(1)) * _BYTES[match.group(2)], field, text)


_MAX_LIMIT = 10.0**18  # far beyond any network, and still an exact float-to-int


def _positive(value: float, field: str, text: str) -> int:
    if not value <= _MAX_LIMIT:  # also catches inf from '1e999'
        raise DesignError(field, f"'{text[:30]}' is too large: at most 1e18")
    if int(value) <= 0:
        raise DesignError(field, "must be positive")
    return int(value)


def _scaled(design: Design, depth: float, width: float) -> Design | None:
    stages = []
    for stage in design.stages:
        new_width = max(8, round(stage.width * width / 8) * 8)
        out_width = None
        if stage.out_width is not None:
            out_width = max(8, round(stage.out_width * width / 8) * 8)
        stages.append(
            dataclasses.replace(
                stage,
                depth=max(1, round(stage.depth * depth)),
                width=new_width,
                out_width=out_width,
            )
        )
    stem = dataclasses.replace(design.stem, width=max(8, round(design.stem.width * width / 8) * 8))
    try:
        return design.replace(stages=tuple(stages), stem=stem)
    except DesignError:
        return None


def _rank(candidate: Candidate) -> tuple[float, float, float]:
    imbalance = abs(math.log2(candidate.depth_factor / candidate.width_factor))
    score = max(candidate.usage.values()) - IMBALANCE_PENALTY * imbalance
    return (-score, candidate.depth_factor, candidate.width_factor)


def fit(design: Design, budget: Budget, *, top: int = 5) -> list[Candidate]:
    """The ``top`` candidates that meet every limit, those using most of the budget first."""
    if not (budget.max_macs or budget.max_params or budget.max_memory_bytes):
        raise DesignError(
            "budget",
            "state at least one limit: --max-macs, --max-params, --max-memory or --max-latency-ms",
        )
    found: dict[tuple[tuple[int, int], ...], Candidate] = {}  # by (depth, width) per stage
    for d in FACTORS:
        for w in FACTORS:
            candidate_design = _scaled(design, d, w)
            if candidate_design is None:
                continue
            key = tuple((s.depth, s.width) for s in candidate_design.stages)
            if key in found:
                continue
            result = analyse(candidate_design)
            usage = budget.usage(result)
            if max(usage.values()) <= 1.0:
                found[key] = Candidate(candidate_design, result, d, w, usage)
    ranked = sorted(found.values(), key=_rank)
    return ranked[:top]


LatencyOf = Callable[[Design], float]  # a design -> its measured latency in ms
MEASURE_ROUNDS = 4


def fit_measured(
    design: Design,
    budget: Budget,
    max_latency_ms: float,
    latency_of: LatencyOf,
    *,
    top: int = 5,
    measure_top: int = 3,
) -> list[Candidate]:
    """Candidates that meet the closed-form limits and a measured latency, measured ones only.

    Latency follows MACs only roughly (small networks pay a fixed cost per layer),
    so a MAC limit stands in for latency to pick what to measure: the design itself
    is measured first and its MACs scaled by the latency budget give the first
    limit; the closed-form fit proposes ``measure_top`` candidates under it and
    those are measured. While too few are fast enough, a line ``ms = a + b * MACs``
    fitted to every measurement so far sets the next limit (at most MEASURE_ROUNDS).
    """
    if not max_latency_ms > 0:
        raise DesignError("--max-latency-ms", "must be a positive number of milliseconds")
    base_ms = latency_of(design)
    base_macs = analyse(design).macs
    points = [(float(base_macs), base_ms)]
    proxy = base_macs * max_latency_ms / base_ms
    measured: dict[tuple[tuple[int, int], ...], Candidate] = {}
    for _ in range(MEASURE_ROUNDS):
        limit = max(1, int(min(proxy, budget.max_macs or proxy)))
        proposals = fit(design, dataclasses.replace(budget, max_macs=limit), top=measure_top)
        for c in proposals:
            key = tuple((s.depth, s.width) for s in c.design.stages)
            if key not in measured:
                ms = latency_of(c.design)
                points.append((float(c.result.macs), ms))
                usage = budget.usage(c.result) | {"latency": ms / max_latency_ms}
                measured[key] = dataclasses.replace(c, usage=usage, latency_ms=ms)
        fitting = [c for c in measured.values() if max(c.usage.values()) <= 1.0]
        if len(fitting) >= min(top, measure_top) or not proposals:
            break
        line = _macs_for(points, TARGET_SHARE * max_latency_ms)
        proxy = min(line, limit / 1.05) if line else limit / 1.25
    fitting = [c for c in measured.values() if max(c.usage.values()) <= 1.0]
    return sorted(fitting, key=_rank)[:top]


TARGET_SHARE = 0.95  # aim a little under the latency limit: measurements scatter


def _macs_for(points: list[tuple[float, float]], ms: float) -> float | None:
    """MACs at which the least-squares line through (MACs, ms) reaches ``ms``; None if it
    cannot say (one distinct point, a flat or falling line, or a fixed cost above ``ms``)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var
    intercept = mean_y - slope * mean_x
    if slope <= 0 or intercept >= ms:
        return None
    return (ms - intercept) / slope
