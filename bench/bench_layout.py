"""Graph build + our layout beside plain ``dot`` on the same graph, in one run, as ratios.

Targets (issue 3): build + layout under 30 ms for any design at block level,
under 120 ms for resnet152 at layer level, under 1 s for preact_resnet1001_cifar
at layer level. "plain dot" is ``dot -Tplain`` on the same nodes, sizes and
clusters (process start included, as the app would pay it).

Then left to right (issue 14) beside top to bottom: layout time only (the graph is
built once), for the built-in layout and for dot, as LR/TB ratios.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._timing import median_ms
from designer.core.analysis import analyse
from designer.core.graph import build_graph
from designer.core.graph.layout import (
    compute_layout,
    dot_available,
    layout_dot_source,
    run_dot,
)
from designer.core.presets import load_preset

DESIGNS = ("resnet18", "resnet50", "resnet152", "preact_resnet1001_cifar")
DIRECTION_DESIGNS = ("resnet50", "resnet152")
TARGET_MS = {
    "block": 30.0,
    ("resnet152", "layer"): 120.0,
    ("preact_resnet1001_cifar", "layer"): 1000.0,
}


def main() -> None:
    print(
        f"{'design':24} {'level':5} {'nodes':>5} {'engine':>7} {'build+layout':>13} "
        f"{'builtin only':>12} {'plain dot':>10} {'dot/ours':>8} {'target':>8}"
    )
    for name in DESIGNS:
        result = analyse(load_preset(name))
        for level in ("block", "layer"):
            graph = build_graph(result, level)
            engine = compute_layout(graph).engine
            big = graph.number_of_nodes() > 1000
            ours = median_ms(
                lambda r=result, lv=level: compute_layout(build_graph(r, lv)),
                repeat=5 if big else 30,
            )
            builtin = median_ms(
                lambda r=result, lv=level: compute_layout(build_graph(r, lv), "builtin"),
                repeat=5 if big else 30,
            )
            if dot_available():
                source = layout_dot_source(graph)
                plain = median_ms(lambda s=source: run_dot(s, "plain"), repeat=1 if big else 7)
                dot_text, ratio = f"{plain:7.1f} ms", f"{plain / ours:7.1f}x"
            else:
                dot_text, ratio = "    (none)", "       -"
            target = TARGET_MS.get((name, level), TARGET_MS.get(level))
            verdict = f"<{target:.0f} ms" if target else ""
            ok = "" if not target else (" ok" if ours < target else " MISS")
            print(
                f"{name:24} {level:5} {graph.number_of_nodes():5d} {engine:>7} "
                f"{ours:10.2f} ms {builtin:9.2f} ms {dot_text:>10} {ratio:>8} {verdict:>8}{ok}"
            )
    directions()


def directions() -> None:
    """Layout alone, TB and LR, per engine, on the same graph: LR should cost what TB does."""
    engines = ("builtin", "dot") if dot_available() else ("builtin",)
    print()
    print(
        f"{'design':24} {'level':5} {'nodes':>5} {'engine':>7} {'TB':>10} {'LR':>10} {'LR/TB':>6}"
    )
    for name in DIRECTION_DESIGNS:
        result = analyse(load_preset(name))
        for level in ("block", "layer"):
            graph = build_graph(result, level)
            for engine in engines:
                repeat = 9 if engine == "dot" else 30
                times: dict[str, float] = {}
                for direction in ("TB", "LR"):
                    times[direction] = median_ms(
                        lambda g=graph, e=engine, d=direction: compute_layout(g, e, d),  # type: ignore[arg-type]
                        repeat=repeat,
                    )
                print(
                    f"{name:24} {level:5} {graph.number_of_nodes():5d} {engine:>7} "
                    f"{times['TB']:7.2f} ms {times['LR']:7.2f} ms "
                    f"{times['LR'] / times['TB']:5.2f}x"
                )


if __name__ == "__main__":
    main()
