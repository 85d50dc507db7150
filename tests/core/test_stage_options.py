"""Per-stage options, dilation, stochastic depth, block dropout, the ResNetV2 stem.

The counts are checked against torchvision and timm elsewhere (test_timm_zoo.py,
test_presets_reference.py); here: what the file format keeps, what validation
refuses (one line, the field named, through a real process), and what the built
network does in training that no count can show.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from designer.core.analysis import analyse
from designer.core.blocks.drop_path import drop_path_rates
from designer.core.design import Design, DesignError, StageSpec, StemSpec
from designer.core.io import FILE_SUFFIX, design_to_dict, dumps, loads
from designer.core.presets import PRESET_DIR, load_preset, preset_names
from designer.core.torch.build import build
from tests.core.test_cli_hostile_inputs import refused
from tests.reference import torchvision_models


def _stages(design: Design, **per_stage: dict[str, object]) -> Design:
    """``design`` with stage i changed by ``per_stage["s<i>"]``."""
    stages = list(design.stages)
    for key, changes in per_stage.items():
        i = int(key[1:])
        stages[i] = dataclasses.replace(stages[i], **changes)
    return design.replace(stages=tuple(stages))


def test_existing_files_keep_their_bytes() -> None:
    """New fields are written only when set: every preset file is still its own canonical form."""
    for name in preset_names():
        text = (PRESET_DIR / f"{name}{FILE_SUFFIX}").read_text(encoding="utf-8")
        assert dumps(loads(text)) == text, name


def test_per_stage_options_round_trip() -> None:
    design = _stages(
        load_preset("resnet50"),
        s0={"block": "basic"},
        s1={"groups": 32, "width_per_group": 4, "se_ratio": 0.25, "stride_on": "1x1"},
        s3={"dilate": True},
    ).replace(
        drop_path_rate=0.1,
        block_dropout=0.2,
    )
    again = loads(dumps(design))
    assert again == design
    data = design_to_dict(design)
    assert data["stages"][0] == {"depth": 3, "width": 64, "stride": 1, "block": "basic"}
    assert data["stages"][3]["dilate"] is True and "dilate" not in data["stages"][2]
    v2 = load_preset("resnet50").replace(
        block="preact_bottleneck", stem=StemSpec("imagenet", 64, norm_act=False)
    )
    assert loads(dumps(v2)) == v2
    assert design_to_dict(v2)["stem"] == {"kind": "imagenet", "width": 64, "norm_act": False}


@pytest.mark.parametrize(
    ("stages", "field", "says"),
    [
        ({"s2": {"block": "preact_bottleneck"}}, "stages[2].block", "post-activation"),
        ({"s1": {"block": "basic", "groups": 32}}, "stages[1].groups", "basic blocks"),
        ({"s0": {"width": 32, "width_per_group": 1}}, "stages[0].width", "width_per_group"),
        ({"s1": {"groups": 0}}, "stages[1].groups", "between 1"),
        ({"s0": {"dilate": True}}, "stages[0].dilate", "stride 1"),
        ({"s2": {"stride_on": "5x5"}}, "stages[2].stride_on", "3x3, 1x1"),
        ({"s2": {"se_ratio": 2}}, "stages[2].se_ratio", "at most 1.0"),
        ({"s2": {"dilate": "yes"}}, "stages[2].dilate", "true or false"),
    ],
)
def test_senseless_overrides_are_refused_naming_the_field(
    stages: dict[str, dict[str, object]], field: str, says: str
) -> None:
    with pytest.raises(DesignError) as caught:
        _stages(load_preset("resnet50"), **stages)
    assert caught.value.field == field and says in str(caught.value)


def test_a_stem_without_norm_needs_pre_activation_blocks() -> None:
    with pytest.raises(DesignError, match=r"stem\.norm_act: .*pre-activation"):
        load_preset("resnet50").replace(stem=StemSpec("imagenet", 64, norm_act=False))


def test_the_cli_refuses_a_bad_override_in_one_line(tmp_path: Path) -> None:
    data = design_to_dict(load_preset("resnet50"))
    data["stages"][2]["block"] = "preact_bottleneck"
    path = tmp_path / "bad.resnet.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    err = refused("validate", str(path), cwd=tmp_path, says="stages[2].block")
    assert "use one of basic, bottleneck" in err


def test_torchvision_dilated_backbones_match() -> None:
    """replace_stride_with_dilation: the keys, counts and outputs of torchvision's own."""
    models = torchvision_models()
    for dilate in ([False, False, True], [False, True, True]):
        design = _stages(
            load_preset("resnet50"),
            **{f"s{i + 1}": {"dilate": True} for i, on in enumerate(dilate) if on},
        )
        theirs = models.resnet50(replace_stride_with_dilation=dilate).eval()
        ours = build(design).eval()
        ours.load_state_dict(theirs.state_dict(), strict=True)
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            assert torch.allclose(ours(x), theirs(x), atol=1e-5)
        side = 64 // (16 if dilate == [False, False, True] else 8)
        assert analyse(design.replace(input=design.input.__class__(3, 64, 64))).stage_shapes[
            -1
        ] == (2048, side, side)


def test_stochastic_depth_rates_grow_linearly_as_timm_sets_them() -> None:
    torchvision_models()
    timm = pytest.importorskip("timm")
    design = load_preset("resnet50").replace(drop_path_rate=0.2)
    ours = build(design)
    theirs = timm.create_model("resnet50", drop_path_rate=0.2)
    our_rates = [m.rate for m in ours.modules() if type(m).__name__ == "DropPath"]
    their_rates = [float(m.drop_prob) for m in theirs.modules() if type(m).__name__ == "DropPath"]
    assert our_rates[1:] == pytest.approx(their_rates)  # timm omits the first block's (rate 0)
    assert our_rates == pytest.approx(drop_path_rates(0.2, 16))
    assert our_rates[0] == 0.0 and our_rates[-1] == pytest.approx(0.2)
    # eval: the identity, so timm's weights give timm's outputs
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours.eval()
    theirs.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)


def test_stochastic_depth_drops_whole_branches_in_training() -> None:
    design = Design(
        stages=(StageSpec(4, 8, 1),),
        block="basic",
        stem=StemSpec("cifar", 8),
        input=dataclasses.replace(load_preset("resnet20_cifar").input),
        drop_path_rate=0.9,
    )
    model = build(design).train()
    last = model.layer1[-1]
    seen: list[torch.Tensor] = []
    last.drop_path.register_forward_hook(lambda _m, _i, out: seen.append(out))
    torch.manual_seed(0)
    model(torch.randn(64, 3, 32, 32))
    kept = (seen[0].flatten(1).abs().sum(1) > 0).float().mean().item()
    assert 0.02 < kept < 0.3  # rate 0.9: about one sample in ten keeps its branch


def test_block_dropout_sits_before_the_last_conv_and_only_trains() -> None:
    design = load_preset("wrn28_10_cifar").replace(block_dropout=0.3)
    model = build(design)
    block = model.layer1[0]
    names = [name for name, _ in block.named_children()]
    assert names.index("dropout") < names.index("conv2")
    seen: list[torch.Tensor] = []
    block.conv2.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    x = torch.randn(2, 3, 32, 32)
    model.train()(x)
    zeros = (seen[-1] == 0).float().mean().item()
    model.eval()
    with torch.no_grad():
        first = model(x)
        assert torch.equal(first, model(x))  # eval: deterministic
    assert zeros > 0.25  # dropped units (plus the ReLU's zeros)
    assert analyse(design).params == analyse(load_preset("wrn28_10_cifar")).params


def test_mixed_blocks_build_with_the_counted_parameters() -> None:
    design = _stages(
        load_preset("resnet50"),
        s0={"block": "basic"},
        s1={"groups": 32, "width_per_group": 4, "se_ratio": 0.25},
        s2={"stride_on": "1x1", "dilate": True},
        s3={"dilate": True},
    ).replace(drop_path_rate=0.1, block_dropout=0.1)
    model = build(design)
    assert sum(p.numel() for p in model.parameters()) == analyse(design).params
    classes = {type(m).__name__ for m in model.modules()}
    assert {"BasicBlock", "Bottleneck", "BottleneckStride1x1", "SqueezeExcite"} <= classes
    convs = [
        m for m in model.layer3.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
    ]
    assert [c.dilation for c in convs] == [(1, 1)] + [(2, 2)] * 5


def test_the_training_bundle_trains_with_them(tmp_path: Path) -> None:
    """The bundle's model.py is the generated one: its train.py runs drop path and dropout."""
    from designer.core.torch.bundle_writer import write_bundle
    from tests.core.test_train_script import RECIPE, TINY, run_train

    design = _stages(TINY, s1={"dilate": True}).replace(drop_path_rate=0.2, block_dropout=0.2)
    write_bundle(design, tmp_path / "b", seed=0)
    source = (tmp_path / "b" / "model.py").read_text(encoding="utf-8")
    assert "DROP_PATH_RATE = 0.2" in source and "nn.Dropout(BLOCK_DROPOUT)" in source
    run_train(tmp_path / "b", *RECIPE, "--epochs", "1", "--out", str(tmp_path / "run"))
    assert any((tmp_path / "run").iterdir())
