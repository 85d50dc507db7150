"""Anti-aliased downsampling against timm's resnetaa and resnetblur networks and torchinfo.

timm's ``aa_layer`` pools have no weights, so these networks' checkpoints are their plain
networks': recovery says it assumed none, and the design's ``anti_alias`` gives the exact
network (params, FLOPs and outputs are checked in test_timm_zoo.py). Here: torchinfo's
rows for every placement (blocks, the stem's max-pool, ResNet-RS's conv pool), the
generated code a timm reader recognises, and the refusals.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from torch.utils.flop_counter import FlopCounterMode

from designer.core.analysis import analyse
from designer.core.codegen import render_model_py
from designer.core.design import DesignError, InputSpec, StemSpec
from designer.core.presets import load_preset
from designer.core.torch.build import build
from tests.reference import torchinfo_leaf_rows


@pytest.mark.parametrize("kind", ["avg", "blur"])
@pytest.mark.parametrize(
    ("preset", "stem"),
    [
        ("resnet18", StemSpec("imagenet", 64)),
        ("resnet50", StemSpec("deep", 64)),
        ("resnet50", StemSpec("deep", 64, pool="conv")),  # ResNet-RS's strided-conv pool
        ("resnet20_cifar", StemSpec("cifar", 16)),
    ],
)
def test_every_row_is_torchinfos(kind: str, preset: str, stem: StemSpec) -> None:
    design = load_preset(preset).replace(anti_alias=kind, stem=stem)
    design = design.replace(input=InputSpec(3, 64, 64))
    stats, rows = torchinfo_leaf_rows(build(design), (3, 64, 64))
    ours = [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in analyse(design).layers]
    assert ours == rows
    assert analyse(design).macs == stats.total_mult_adds


def test_the_resnet_rs_stem_is_timms(tmp_path: Path) -> None:
    """timm's replace_stem_pool with aa_layer: conv at stride 1, the pool, norm, act."""
    theirs = timm.create_model(
        "resnet50d", aa_layer=timm.layers.BlurPool2d, replace_stem_pool=True
    ).eval()
    design = load_preset("resnet50").replace(
        anti_alias="blur",
        stem=StemSpec("deep", 64, pool="conv"),
        shortcut="avg_down",
        input=InputSpec(3, 64, 64),
    )
    ours = build(design).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)

    def flops(model: torch.nn.Module) -> int:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
        return counter.get_total_flops()

    assert flops(ours) == flops(theirs)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)


def test_model_py_reads_as_timm() -> None:
    text = render_model_py(load_preset("resnet50").replace(anti_alias="blur"))
    assert "class BlurPool2d(nn.Module):" in text
    assert "self.aa = BlurPool2d(width, stride) if stride > 1 else nn.Identity()" in text
    text = render_model_py(load_preset("resnet50").replace(anti_alias="avg"))
    assert "self.aa = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()" in text
    assert "self.maxpool = nn.AvgPool2d(2)" in text
    assert "class BlurPool2d" not in text


def test_a_dilated_stage_has_nothing_to_anti_alias() -> None:
    design = load_preset("resnet50").with_stage(3, dilate=True)
    with pytest.raises(DesignError, match=r"stages\[3\]\.dilate: .*anti_alias"):
        design.replace(anti_alias="blur")


def test_recovery_says_it_assumed_no_anti_aliasing(tmp_path: Path) -> None:
    path = tmp_path / "resnetaa50d.pth"
    torch.save(timm.create_model("resnetaa50d").state_dict(), path)
    done = subprocess.run(
        [sys.executable, "-m", "designer.cli", "open", str(path), "-o", str(tmp_path / "d.json")],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "assumed  no anti-aliased downsampling" in done.stderr
    assert "set anti_alias to avg or blur" in done.stderr


def test_an_input_smaller_than_the_subsampling_is_refused() -> None:
    design = load_preset("resnet18")  # subsamples by 32: 4 in the stem, 2 x 2 x 2 after
    with pytest.raises(DesignError, match="subsamples by 32, so its pools need an input of"):
        design.replace(anti_alias="avg", input=InputSpec(3, 31, 224))
    assert design.replace(anti_alias="avg", input=InputSpec(3, 32, 32)).anti_alias == "avg"


def test_an_odd_size_for_average_pools_is_refused() -> None:
    """timm's resnetaa50 itself fails at 45 px: its pools floor 11 to 5, its shortcut gives 6."""
    theirs = timm.create_model("resnetaa50").eval()
    with pytest.raises(RuntimeError), torch.no_grad():
        theirs(torch.randn(1, 3, 45, 45))
    with pytest.raises(DesignError, match="multiples of 32"):
        load_preset("resnet50").replace(anti_alias="avg", input=InputSpec(3, 45, 45))
    design = load_preset("resnet50").replace(anti_alias="blur", input=InputSpec(3, 45, 45))
    assert design.anti_alias == "blur"


@pytest.mark.parametrize(
    ("kind", "side"),
    [("avg", 32), ("avg", 64), ("blur", 32), ("blur", 33), ("blur", 45), ("blur", 63)],
)
def test_sizes_are_timms(kind: str, side: int) -> None:
    """BlurPool rounds up as a strided conv does; the plan and the analysis know it."""
    from designer.core.plan import plan

    name = "resnetaa50" if kind == "avg" else "resnetblur50"
    theirs = timm.create_model(name).eval()
    design = load_preset("resnet50").replace(anti_alias=kind, input=InputSpec(3, side, side))
    ours = build(design).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, side, side)
    sizes = []
    with torch.no_grad():
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            getattr(theirs, stage).register_forward_hook(
                lambda module, args, out: sizes.append(tuple(out.shape[2:]))
            )
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    network = plan(design)
    assert [network.stage_blocks(s)[-1].out_size for s in range(4)] == sizes
    assert [shape[1:] for shape in analyse(design).stage_shapes] == sizes
