"""The `lint` subcommand: what a careful reviewer would flag, and the per-stage geometry."""

from __future__ import annotations

import argparse
import json
import sys

from designer.commands.common import resolve_design
from designer.core.analysis import analyse
from designer.core.lint import lint
from designer.core.report import human_bytes, human_count, shape_text
from designer.core.stages import stage_dict, stage_figures


def _run(args: argparse.Namespace) -> int:
    design = resolve_design(args.design)
    result = analyse(design)
    stages = stage_figures(result)
    findings = lint(design, result)
    warnings = sum(f.severity == "warning" for f in findings)
    if args.json:
        data = {
            "name": design.name,
            "stages": [stage_dict(s) for s in stages],
            "findings": [
                {
                    "code": f.code,
                    "severity": f.severity,
                    "field": f.field,
                    "message": f.message,
                    "fix": f.fix,
                }
                for f in findings
            ],
            "warnings": warnings,
            "notes": len(findings) - warnings,
        }
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return 1 if args.strict and warnings else 0
    print(
        f"{'stage':8} {'blocks':>6} {'params':>9} {'MACs':>9} {'activations':>11}  "
        f"{'output':>14} {'stride':>6} {'RF':>6}"
    )
    for s in stages:
        print(
            f"{s.name:8} {s.blocks or '':>6} {human_count(s.params):>9} {human_count(s.macs):>9}"
            f" {human_bytes(s.activation_bytes):>11}  {shape_text(s.output_shape):>14}"
            f" {s.output_stride:>6} {s.receptive_field:>6}"
        )
    print()
    for finding in findings:
        print(finding)
    print(f"{warnings} warning(s), {len(findings) - warnings} note(s)")
    return 1 if args.strict and warnings else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lint", help="flag likely design mistakes; show RF and stride per stage")
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    p.add_argument("--json", action="store_true", help="print one JSON object: stages and findings")
    p.set_defaults(func=_run)
