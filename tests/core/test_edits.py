"""Structural edits (the graph's menus): each is a valid design, or one line naming the fix."""

from __future__ import annotations

import pytest

from designer.core import edits
from designer.core.analysis import analyse
from designer.core.design import DesignError
from designer.core.graph.network import build_graph
from designer.core.presets import load_preset
from tests.reference_figures import TORCHVISION_COUNTS


def _depths(design) -> list[int]:
    return [s.depth for s in design.stages]


def test_split_at_stride_1_groups_the_same_network_in_two_stages():
    design = edits.split_stage(load_preset("resnet50"), 2, 2)
    assert _depths(design) == [3, 4, 2, 4, 3]
    result = analyse(design)
    assert (result.params, result.macs) == TORCHVISION_COUNTS["resnet50"]


def test_merge_undoes_a_split():
    resnet50 = load_preset("resnet50")
    assert edits.merge_with_next(edits.split_stage(resnet50, 2, 2), 2) == resnet50


def test_downsample_here_splits_with_a_stride():
    design = edits.set_block_stride(load_preset("resnet50"), 2, 3, 2)
    assert _depths(design) == [3, 4, 3, 3, 3]
    shapes = {b.name: b.output_shape for b in analyse(design).blocks}
    assert shapes["layer3.2"] == (1024, 14, 14)
    assert shapes["layer4.0"] == (1024, 7, 7)  # the new stage, which halves the map


def test_first_block_stride_is_the_stage_stride():
    design = edits.set_block_stride(load_preset("resnet18"), 1, 0, 1)
    assert design.stages[1].stride == 1
    assert analyse(design).stage_shapes[1][1:] == (56, 56)


def test_add_and_remove_blocks():
    resnet50 = load_preset("resnet50")
    assert _depths(edits.add_blocks(resnet50, 0)) == [4, 4, 6, 3]
    assert _depths(edits.remove_block(resnet50, 3)) == [3, 4, 6, 2]
    single = edits.set_stage(resnet50, 3, depth=1)
    assert _depths(edits.remove_block(single, 3)) == [3, 4, 6]  # the stage goes with it


def test_insert_keeps_the_shapes_after_it():
    resnet50 = load_preset("resnet50")
    design = edits.insert_stage(resnet50, 2)
    assert _depths(design) == [3, 4, 1, 6, 3]
    assert design.stages[2].stride == 1
    assert analyse(design).output_shape == analyse(resnet50).output_shape


def test_move_stage_swaps_neighbours():
    design = edits.move_stage(load_preset("resnet50"), 1, 1)
    assert _depths(design) == [3, 6, 4, 3]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: edits.remove_stage(edits.set_stage(d, 0, depth=1), 0) and None, None),
        (lambda d: edits.move_stage(d, 0, -1), "already the first stage"),
        (lambda d: edits.merge_with_next(d, 3), "no next stage"),
        (lambda d: edits.split_stage(d, 0, 0), "splits before blocks 1 to 2"),
        (lambda d: edits.add_blocks(d, 0, -3), "at least one block"),
        (lambda d: edits.set_stage(d, 9, depth=2), "no such stage"),
    ],
)
def test_impossible_edits_name_the_fix(edit, words):
    resnet50 = load_preset("resnet50")
    if words is None:
        edit(resnet50)  # valid: a three-stage network
        return
    with pytest.raises(DesignError, match=words):
        edit(resnet50)


def test_the_last_stage_cannot_be_removed():
    one = load_preset("resnet50").replace(stages=(load_preset("resnet50").stages[0],))
    with pytest.raises(DesignError, match="at least one stage"):
        edits.remove_stage(one, 0)


def test_labels_show_the_designs_stride_not_a_size_ratio():
    # stride 9 on a 56x56 map gives 7x7: a ratio of 8, so a label read off the sizes says 8
    design = load_preset("resnet50").with_stage(1, stride=9)
    result = analyse(design)
    blocks = build_graph(result, "block")
    assert blocks.nodes["layer2.0"]["label"].endswith("stride 9 + projection")
    assert blocks.nodes["layer2.0"]["stride"] == 9
    layers = build_graph(result, "layer")
    assert layers.nodes["layer2.0.conv2"]["label"] == "conv 3x3/9, 128"
    assert layers.nodes["layer2.0.downsample.0"]["label"] == "conv 1x1/9, 512"
    five = analyse(load_preset("resnet50").with_stage(1, stride=5))
    assert "stride 5" in build_graph(five, "block").nodes["layer2.0"]["label"]
