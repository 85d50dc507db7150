"""A design recovered from a checkpoint's tensor names and shapes alone: no data, no torch.

A ResNet writes its structure into its state dict: ``layer3.5.conv2.weight`` of shape
(256, 8, 3, 3) says stage 3 has at least 6 blocks whose grouped 3x3 conv has 256
channels in 32 groups. This module reads the naming schemes users have (torchvision's
and timm's ``resnet.py``, timm's ``ResNetV2``, this project's own) into our names,
then infers every field the shapes show and takes the source's convention for the
rest, saying which is which. The torch side (:mod:`designer.core.torch.checkpoint`)
reads the names and shapes and checks the result by building it on the meta device.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from designer.core.blocks import ATTENTIONS, BLOCK_KINDS, NORMS, BlockKind
from designer.core.blocks.kinds import RecoveredFields, same_order_kinds
from designer.core.design import (
    Design,
    DesignError,
    HeadSpec,
    InputSpec,
    StageSpec,
    StemName,
    StemPool,
    StemSpec,
    validate,
)
from designer.core.state import expected_state, mismatch

Shape = tuple[int, ...]
T = TypeVar("T")

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")
"""The files read as checkpoints (everywhere: CLI arguments, the app's dialogs and drops)."""
CHECKPOINT_FILTER = f"Checkpoints ({' '.join('*' + s for s in CHECKPOINT_SUFFIXES)});;All files (*)"
WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DistributedDataParallel's, torch.compile's


def is_checkpoint(path: str | Path) -> bool:
    return Path(path).suffix.lower() in CHECKPOINT_SUFFIXES


def unwrapped(named: Mapping[str, T]) -> dict[str, T]:
    """``named`` without the prefix DDP or torch.compile put before every key."""
    out = dict(named)
    for prefix in WRAPPER_PREFIXES:
        if out and all(k.startswith(prefix) for k in out):
            out = {k[len(prefix) :]: v for k, v in out.items()}
    return out


_LAYER = re.compile(r"layer(\d+)\.(\d+)\.(.+)")
_V2_BLOCK = re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.(.+)")
_V2_STEM = {
    "stem.conv.weight": "conv1.weight",
    "stem.conv1.weight": "conv1.0.weight",
    "stem.conv2.weight": "conv1.3.weight",
    "stem.conv3.weight": "conv1.6.weight",
}
_V2_NORMS = {"norm1": "bn1", "norm2": "bn2", "norm3": "bn3"}


@dataclass(frozen=True)
class KeyMap:
    """How a checkpoint's names become ours: ``ours[their key] = our key``.

    ``reshape`` lists our keys whose tensor must be reshaped (timm ResNetV2's fc is a
    1x1 conv: (classes, features, 1, 1) becomes (classes, features)).
    """

    scheme: str  # "torchvision" (also timm's resnet.py and ours), "timm-resnetv2", ...
    ours: dict[str, str]
    reshape: frozenset[str] = frozenset()
    # tensors deliberately left out: the rest of a larger model around the ResNet
    # (a detector's FPN and heads), said in the recovery's notes, never refused
    ignored: tuple[str, ...] = ()
    # design fields (dotted paths) the naming scheme's own network fixes, which no weight
    # shows but the layout says: inferred, with ``why``
    layout: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""
    # design fields the scheme's networks mostly have but no weight shows: assumed, each
    # with its line saying which of them differ and the field to change otherwise
    conventions: Mapping[str, Any] = field(default_factory=dict)
    convention_notes: tuple[str, ...] = ()

    def translate(
        self, named: Mapping[str, T], flatten: Callable[[T], T] | None = None
    ) -> dict[str, T]:
        """``named`` (shapes, or tensors with their ``flatten``) under our names."""
        out = {}
        for key, value in named.items():
            if key in self.ours:
                mine = self.ours[key]
                if mine in self.reshape:
                    value = flatten(value) if flatten else value[:2]  # type: ignore[index]
                out[mine] = value
        return out


@dataclass(frozen=True)
class Recovery:
    design: Design
    key_map: KeyMap
    inferred: tuple[str, ...]  # fields read from the shapes
    assumed: tuple[str, ...] = field(default=())  # fields the shapes cannot show: "field: why"

    def lines(self) -> list[str]:
        d = self.design
        out = [
            f"recovered {d.name!r} from {self.key_map.scheme} names:"
            f" {sum(s.depth for s in d.stages)} {d.block} blocks in {len(d.stages)} stages"
        ]
        out.append("  inferred from the shapes: " + ", ".join(self.inferred))
        out += [f"  assumed  {line}" for line in self.assumed]
        return out


def _fail(message: str) -> DesignError:
    return DesignError("checkpoint", message)


def key_map(shapes: Mapping[str, Shape]) -> KeyMap:
    """Our name for each tensor of the checkpoint (identity for torchvision-style names)."""
    keys = list(shapes)
    if "layer0.conv1.weight" in shapes:
        return _legacy_map(shapes)
    if any(_LAYER.match(k) for k in keys):
        return KeyMap("torchvision", {k: k for k in keys})
    if any(_HF_BLOCK.search(k) for k in keys):
        return _hf_map(keys)
    if any(_V2_BLOCK.match(k) for k in keys):
        return _v2_map(shapes)
    if any(_BYOB_BLOCK.match(k) for k in keys):
        return _byob_map(keys)
    inner = _inner_network(keys)
    if inner is not None:
        return inner
    raise _fail(f"no residual stages found: keys look like {_looks_like(keys)}")


_HF_BLOCK = re.compile(r"^(?:resnet\.)?encoder\.stages\.(\d+)\.layers\.(\d+)\.(.+)")
_HF_STEM = {"convolution": "conv1", "normalization": "bn1"}
_HF_CONV = re.compile(r"layer\.(\d+)\.(convolution|normalization)\.(.+)")


def _hf_map(keys: list[str]) -> KeyMap:
    """HuggingFace transformers' ResNetModel and ResNetForImageClassification -> ours.

    ``embedder.embedder`` is the stem, ``encoder.stages.S.layers.B`` a block whose
    ``layer.I`` is its (I+1)-th conv and norm, ``shortcut`` its projection and
    ``classifier.1`` the fc (``classifier.0`` is a Flatten).
    """
    ours: dict[str, str] = {}
    for key in keys:
        rest = key.removeprefix("resnet.")
        if rest.startswith("embedder.embedder."):
            part, _, tail = rest.removeprefix("embedder.embedder.").partition(".")
            ours[key] = f"{_HF_STEM.get(part, part)}.{tail}"
        elif m := _HF_BLOCK.match(key):
            block = f"layer{int(m[1]) + 1}.{m[2]}."
            tail = m[3]
            if tail.startswith("shortcut.convolution."):
                ours[key] = block + "downsample.0." + tail.removeprefix("shortcut.convolution.")
            elif tail.startswith("shortcut.normalization."):
                ours[key] = block + "downsample.1." + tail.removeprefix("shortcut.normalization.")
            elif c := _HF_CONV.fullmatch(tail):
                kind = "conv" if c[2] == "convolution" else "bn"
                ours[key] = f"{block}{kind}{int(c[1]) + 1}.{c[3]}"
        elif key in ("classifier.1.weight", "classifier.1.bias"):
            ours[key] = "fc." + key.rsplit(".", 1)[1]
    return KeyMap("transformers", ours)


_LEGACY_STEM = {"layer0.conv1.": "conv1.", "layer0.bn1.": "bn1.", "last_linear.": "fc."}


def _legacy_map(shapes: Mapping[str, Shape]) -> KeyMap:
    """Cadene's SENets (timm's ``senet.py``, its ``legacy_*``) -> ours.

    ``layer0`` is the stem, ``se_module`` a block's squeeze-excite, ``last_linear`` the fc.
    Its layout fixes what the weights cannot show: the stem pools unpadded in ceil mode
    (Caffe's), and an ungrouped bottleneck (SE-ResNet) strides on its first 1x1, a grouped
    one (SE-ResNeXt) on its 3x3.
    """
    if "layer0.conv2.weight" in shapes:
        raise _fail(
            "a legacy SENet-154 (three-conv layer0): its bottleneck's first 1x1 is half its"
            " 3x3's width and its shortcut convs are 3x3, which no design expresses"
        )
    ours: dict[str, str] = {}
    for key in shapes:
        prefix = next((p for p in _LEGACY_STEM if key.startswith(p)), None)
        if prefix is not None:
            ours[key] = _LEGACY_STEM[prefix] + key.removeprefix(prefix)
        elif _LAYER.match(key):
            ours[key] = key.replace(".se_module.", ".se.")
    layout: dict[str, Any] = {"stem.pool": "max_ceil"}
    why = "stem pool max_ceil (the SENet layout's: Caffe's unpadded ceil-mode pool)"
    conv2 = shapes.get("layer1.0.conv2.weight", ())
    if "layer1.0.conv3.weight" not in shapes:
        layout["block"] = "senet_basic"
        why += ", block senet_basic (the layout's basic block activates its second norm)"
    elif len(conv2) == 4 and conv2[1]:
        grouped = conv2[0] != conv2[1]  # a square 3x3: its input per group is its width
        layout["stride_on"] = "3x3" if grouped else "1x1"
        why += (
            ", stride_on 3x3 (the layout's grouped SE-ResNeXt bottleneck)"
            if grouped
            else ", stride_on 1x1 (the layout's ungrouped SE-ResNet bottleneck, Caffe's)"
        )
    return KeyMap("timm-legacy-senet", ours, layout=layout, why=why)


_BYOB_BLOCK = re.compile(r"stages\.(\d+)\.(\d+)\.(.+)")
_BYOB_STEM = {  # the tiered stem's ConvNormActs, in our deep stem's Sequential
    "stem.conv1.conv.": "conv1.0.",
    "stem.conv1.bn.": "conv1.1.",
    "stem.conv2.conv.": "conv1.3.",
    "stem.conv2.bn.": "conv1.4.",
    "stem.conv3.conv.": "conv1.6.",
    "stem.conv3.bn.": "bn1.",
    "final_conv.conv.": "final_conv.0.",
    "final_conv.bn.": "final_conv.1.",
    "head.fc.": "fc.",
}
_BYOB_PARTS = {  # a bottleneck's ConvNormActs (their .conv and .bn), its shortcut and attention
    "conv1_1x1.conv.": "conv1.",
    "conv1_1x1.bn.": "bn1.",
    "conv2_kxk.conv.": "conv2.",
    "conv2_kxk.bn.": "bn2.",
    "conv3_1x1.conv.": "conv3.",
    "conv3_1x1.bn.": "bn3.",
    "shortcut.conv.conv.": "downsample.1.",  # DownsampleAvg: its pool (or identity) is .0
    "shortcut.conv.bn.": "downsample.2.",
    "shortcut.conv.": "downsample.0.",
    "shortcut.bn.": "downsample.1.",
    "attn.": "se.",
    "attn_last.": "se.",
}
_BYOB_UNSUPPORTED = (  # a key's part, and why no design expresses its network
    ("stem.conv4.", "a four-conv 'quad' stem (resnet51q, resnet61q)"),
    ("stem.conv1.weight", "a stem whose first convs have no norm (byobnet's quad stems)"),
    ("self_attn.", "self-attention blocks (byobnet's self_attn: lambda, halo, BoTNet)"),
    (".attn.ba.", "bottleneck attention (BAT, a non-local self-attention: bat_resnext26ts)"),
    ("conv1_kxk.", "a block without a 1x1 reduction (byobnet's edge block: resnet61q)"),
    ("conv2b_kxk.", "a second 3x3 in the bottleneck (byobnet's extra_conv: resnet61q)"),
    ("head.proj.", "an attention-pool head (byobnet's attn_abs: CLIP's resnet*_clip)"),
    (
        "head.pre_logits.",
        "a head that norms the pooled features before one Linear-ReLU (byobnet's"
        " NormMlpClassifierHead: resnet50_mlp; our hidden layers are Linear-act-BatchNorm)",
    ),
)


def _byob_map(keys: list[str]) -> KeyMap:
    """timm's byobnet ResNets (``stages.S.B``: its *33ts, *26ts, gcresnet50t) -> ours.

    A ConvNormAct's ``.conv`` and ``.bn`` (a BatchNormAct2d: norm and activation in one
    module, our norm then our activation) are our conv and norm; the tiered stem's three
    are our deep stem's Sequential; ``attn`` is the attention that byobnet calls after
    the 3x3 (``attn_last`` after the last norm); ``final_conv`` widens the last stage to
    num_features before the pool. What the weights cannot show is byobnet's convention.
    """
    for part, what in _BYOB_UNSUPPORTED:
        hit = next((k for k in keys if part in k), None)
        if hit is not None:
            raise _fail(f"a timm byobnet with {what} ({hit}): the design language lacks it")
    ours: dict[str, str] = {}
    for key in keys:
        prefix = next((p for p in _BYOB_STEM if key.startswith(p)), None)
        if prefix is not None:
            ours[key] = _BYOB_STEM[prefix] + key.removeprefix(prefix)
        elif m := _BYOB_BLOCK.fullmatch(key):
            inner = next((p for p in _BYOB_PARTS if m[3].startswith(p)), None)
            if inner is not None:
                tail = _BYOB_PARTS[inner] + m[3].removeprefix(inner)
                ours[key] = f"layer{int(m[1]) + 1}.{m[2]}.{tail}"
    layout: dict[str, Any] = {}
    why = ""
    if any(".attn." in key for key in keys):
        layout["attention_at"] = "3x3"
        why = "attention_at 3x3 (byobnet's attn, called after the 3x3)"
    conventions: dict[str, Any] = {"activation": "silu"}
    notes: tuple[str, ...] = (
        "activation silu: byobnet's *ts (the s: SiLU); its gcresnet50t is relu, set it",
        "stem pool max: byobnet's tiered stem pools in its *26ts and gcresnext50ts; its *33ts,"
        " resnet32ts and gcresnet50t stride the third conv instead: set stem.pool stride",
    )
    if any(".shortcut.conv.conv." in key for key in keys):  # DownsampleAvg: CLIP's layout
        conventions = {"activation": "relu", "anti_alias": "avg"}
        notes = (
            "anti_alias avg and activation relu: byobnet's ResNets with average-pooled"
            " shortcuts are CLIP's (resnet*_clip_gap, resnet50_mlp), ReLU networks whose stem"
            " and strided 3x3s subsample by 2x2 average pools; no weight shows either: set"
            " anti_alias none or another activation otherwise",
        )
    return KeyMap(
        "timm-byobnet",
        ours,
        layout=layout,
        why=why,
        conventions=conventions,
        convention_notes=notes,
    )


def _inner_network(keys: list[str]) -> KeyMap | None:
    """A torchvision-style ResNet inside a larger model or a wrapper: Lightning's ``model.``,
    mmpretrain's ``backbone.`` (its classifier ``head.fc``, the deep stem of its V1c and
    V1d its own names), a detector's ``backbone.body.``.

    The ResNet is what lies under the prefix its first block has; a classifier outside it
    is taken as its fc when it is the only one; the rest is left out, and said so.
    """
    first = next((k for k in keys if re.search(r"(^|\.)layer1\.0\.", k)), None)
    if first is None:
        return None
    prefix = first[: first.index("layer1.0.")]
    ours = {k: _mm_stem(k.removeprefix(prefix)) for k in keys if k.startswith(prefix)}
    if "fc.weight" not in ours.values():
        heads = sorted({k.rsplit(".", 1)[0] for k in keys if k.endswith("fc.weight")} - {prefix})
        if len(heads) == 1:
            for part in ("weight", "bias"):
                if f"{heads[0]}.{part}" in keys:
                    ours[f"{heads[0]}.{part}"] = f"fc.{part}"
    ignored = tuple(k for k in keys if k not in ours)
    return KeyMap(f"torchvision-style (under {prefix!r})", ours, ignored=ignored)


_MM_STEM = re.compile(r"stem\.([0-2])\.(conv|bn)\.(.+)")


def _mm_stem(key: str) -> str:
    """mmpretrain's deep stem (ResNetV1c/V1d: ``stem.N`` of ConvModules ``conv`` and ``bn``)
    in our names: its convs are ``conv1.0``, ``.3``, ``.6``, the norms between them ``.1``
    and ``.4``, the last ``bn1``."""
    m = _MM_STEM.fullmatch(key)
    if m is None:
        return key
    n = int(m[1])
    if m[2] == "bn" and n == 2:
        return f"bn1.{m[3]}"
    return f"conv1.{3 * n + (m[2] == 'bn')}.{m[3]}"


def _looks_like(keys: list[str]) -> str:
    """A guess at what a checkpoint without ResNet stages is, with the key that says so."""
    for pattern, what in (
        (r"\battn\b|\.qkv\.|attention", "a ViT or another transformer"),
        (r"^features\.", "a VGG, DenseNet or MobileNet (features.*)"),
        (r"^(encoder|decoder)\.", "an encoder-decoder"),
    ):
        hit = next((k for k in keys if re.search(pattern, k)), None)
        if hit is not None:
            return f"{what} ({hit})"
    first = keys[0] if keys else "nothing"
    return f"no ResNet ({len(keys)} tensors, the first {first})"


def _v2_map(shapes: Mapping[str, Shape]) -> KeyMap:
    """timm's ResNetV2 names -> ours (``stages.0.blocks.0.norm1`` -> ``layer1.0.bn1``).

    Its downsample conv is ``downsample.conv`` whether or not an average pool precedes
    it (the pool has no tensors); a deep stem means timm's ``d`` variant, which pools.
    """
    deep = "stem.conv1.weight" in shapes
    ours: dict[str, str] = {}
    reshape = set()
    for key, shape in shapes.items():
        if key in _V2_STEM:
            ours[key] = _V2_STEM[key]
        elif key.startswith(("stem.norm1.", "stem.norm2.", "stem.norm.")):
            part, _, rest = key[5:].partition(".")
            place = {"norm1": "conv1.1", "norm2": "conv1.4", "norm": "bn1"}[part]
            ours[key] = f"{place}.{rest}"
        elif m := _V2_BLOCK.match(key):
            stage, block, rest = int(m[1]), m[2], m[3]
            part, _, tail = rest.partition(".")
            if part == "downsample":
                sub, _, tail = tail.partition(".")
                index = (1 if deep else 0) if sub == "conv" else (2 if deep else 1)
                ours[key] = f"layer{stage + 1}.{block}.downsample.{index}.{tail}"
            else:
                ours[key] = f"layer{stage + 1}.{block}.{_V2_NORMS.get(part, part)}.{tail}"
        elif key.startswith("norm."):
            ours[key] = "bn_final." + key[5:]
        elif key in ("head.fc.weight", "head.fc.bias"):
            ours[key] = "fc." + key.rsplit(".", 1)[1]
            if len(shape) == 4:
                reshape.add(ours[key])
    conventions, notes = _v2_group_norm(shapes, deep)
    return KeyMap(
        "timm-resnetv2",
        ours,
        frozenset(reshape),
        conventions=conventions,
        convention_notes=notes,
    )


def _v2_group_norm(
    shapes: Mapping[str, Shape], deep: bool
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """What timm's convention says of a ResNetV2 with GroupNorm, which no weight shows.

    With a 7x7 stem it is BiT (``_create_resnetv2_bit``): weight-standardised convs and the
    'fixed' stem, a zero pad before an unpadded max-pool; with a deep stem it is timm's
    ``resnetv2_*d_gn``, plain convs. Other norms than GroupNorm are not BiT's.
    """
    norms = [key.rpartition(".")[2] for key in shapes if re.search(r"\.norm\d?\.", key)]
    if not norms or any(name not in ("weight", "bias") for name in norms):
        return {}, ()  # no norms, or BatchNorm's statistics, EvoNorm's v, FRN's tau
    if deep:
        return {}, (
            "std_conv false: a ResNetV2 with GroupNorm and a deep stem has plain convs by"
            " timm's convention (resnetv2_50d_gn); weights cannot show it: set std_conv true"
            " if its convs are weight-standardised",
        )
    return {"std_conv": True, "stem.pool": "max_zero_pad"}, (
        "std_conv true and stem pool max_zero_pad: a ResNetV2 with GroupNorm and a 7x7 stem is"
        " BiT by timm's convention (weight-standardised convs, a zero pad before an unpadded"
        " max-pool); weights cannot show either: set std_conv false or stem.pool max"
        " otherwise",
    )


@dataclass
class _Stage:
    blocks: dict[int, dict[str, Shape]]

    @property
    def first(self) -> dict[str, Shape]:
        return self.blocks[0]


def _stages(shapes: Mapping[str, Shape]) -> list[_Stage]:
    found: dict[int, dict[int, dict[str, Shape]]] = {}
    for key, shape in shapes.items():
        if m := _LAYER.match(key):
            found.setdefault(int(m[1]), {}).setdefault(int(m[2]), {})[m[3]] = shape
    numbers = sorted(found)
    if numbers != list(range(1, len(numbers) + 1)):
        raise _fail(f"stages {numbers} are not numbered layer1, layer2, ... without gaps")
    stages = []
    for n in numbers:
        blocks = found[n]
        if sorted(blocks) != list(range(len(blocks))):
            raise _fail(
                f"layer{n}'s blocks {sorted(blocks)} are not numbered 0, 1, ... without gaps"
            )
        stages.append(_Stage(blocks))
    return stages


def _need(block: Mapping[str, Shape], key: str, where: str) -> Shape:
    shape = block.get(key)
    if shape is None or len(shape) != 4:
        raise _fail(f"{where}.{key} is missing or not a conv weight: not a ResNet block")
    return shape


def recover(shapes: Mapping[str, Shape], name: str = "Recovered") -> Recovery:
    """The design whose state dict has exactly these names and shapes (after :func:`key_map`)."""
    km = key_map(shapes)
    ours = km.translate(shapes)
    inferred: list[str] = []
    assumed: list[str] = []
    stages = _stages(ours)
    preact = "bn_final.weight" in ours
    stem, in_channels, stem_notes = _stem(ours, stages, preact)
    inferred += stem_notes
    block = _block_kind(stages[0].first, preact)
    kind = BLOCK_KINDS[block]
    bottleneck = kind.grouped
    inferred += ["block", "depths", "widths"]
    stages, read_fields, read_assumed = _read_blocks(kind, stages, stem, in_channels)
    if read_fields:
        inferred.append(", ".join(read_fields))
    assumed += read_assumed
    norm = _norm(ours)
    inferred.append("norm")
    conv_bias = any(k.endswith("conv1.bias") for k in ours)
    shortcut, shortcut_note = _shortcut(ours, stages, km)
    (inferred if shortcut_note is None else assumed).append(shortcut_note or "shortcut")
    specs, groups, wpg, kind_fields = _stage_specs(stages, kind)
    if bottleneck:
        inferred.append(", ".join(["groups and width_per_group", *kind_fields]))
    try:
        own, own_assumed = kind.recover([stage.first for stage in stages])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    inferred += [name for name in own if not any(a.startswith(name) for a in own_assumed)]
    assumed += own_assumed
    specs, strides_note = _strides(specs, stages, stem, shortcut)
    assumed.append(strides_note)
    attention, specs = _attention(stages, specs)
    if attention:
        ratios = ", ".join(f"{k} {v!r}" for k, v in attention.items() if k != "attention")
        inferred.append(f"attention {attention['attention']}" + (f" ({ratios})" if ratios else ""))
    head, classes = _head(ours)
    inferred.append("head and num_classes" if classes else "no classifier: a feature extractor")
    side = 32 if stem.kind in ("cifar", "none") else 224
    assumed += [
        f"input {side}x{side}: the weights fit any size ({'CIFAR' if side == 32 else 'ImageNet'}"
        " convention)",
        "no dilation, no dropout or stochastic depth: weights cannot show them",
    ]
    if "anti_alias" not in {**km.conventions, **km.layout}:
        assumed.append(
            "no anti-aliased downsampling: its pools have no weights (timm's resnetaa and"
            " resnetblur checkpoints are their plain networks'); set anti_alias to avg or blur"
            " for those"
        )
    if "activation" not in km.conventions:
        assumed.append("activation relu (every ResNet paper's): weights cannot show it")
    assumed += km.convention_notes
    if kind.places_stride and "stride_on" not in km.layout:
        assumed.append("stride_on 3x3 (torchvision's and timm's v1.5): weights cannot show it")
    if km.why:
        inferred.append(km.why)
    design = Design(
        stages=tuple(specs),
        name=name,
        input=InputSpec(in_channels, side, side),
        num_classes=classes,
        block=block,  # type: ignore[arg-type]
        stem=stem,
        groups=groups,
        width_per_group=wpg,
        shortcut=shortcut,  # type: ignore[arg-type]
        norm=norm,  # type: ignore[arg-type]
        conv_bias=conv_bias,
        head=head,
        **attention,
        **own,
        **kind_fields,
        **read_fields,
    )
    for path, value in {**km.conventions, **km.layout}.items():
        design = _with_field(design, path, value)
    try:
        validate(design)
    except DesignError as exc:
        raise _fail(f"the shapes describe no valid design ({exc})") from None
    if km.ignored:
        parts = sorted({key.split(".")[0] for key in km.ignored})
        assumed.append(
            f"only the ResNet is read: {len(km.ignored):,} other tensors"
            f" ({', '.join(parts[:4])}{', ...' if len(parts) > 4 else ''}) are not part of it"
        )
    # the proposal holds: its network has exactly the checkpoint's tensors, no more, no less
    unplaced = [key for key in shapes if key not in km.ours and key not in km.ignored]
    problem = mismatch(expected_state(design), ours, unplaced)
    if problem:
        raise _fail(problem)
    return Recovery(design, km, tuple(inferred), tuple(assumed))


def _with_field(obj: T, path: str, value: Any) -> T:
    """``obj`` with the field at the dotted ``path`` ("stem.pool") set to ``value``."""
    name, _, rest = path.partition(".")
    if rest:
        value = _with_field(getattr(obj, name), rest, value)
    return dataclasses.replace(obj, **{name: value})  # type: ignore[type-var]


def _block_kind(first: Mapping[str, Shape], preact: bool) -> str:
    """The block kind of that activation order whose own conv modules are the first block's.

    A kind's modules are those its block's convs sit in (a multi-branch block's
    ``conv2.paths.0.conv.weight`` is ``conv2.paths.N.conv``), asked of the kind's own
    expected state, so a new kind is recognised without a rule here.
    """
    found = _own_modules(first)
    matches = []
    for name in same_order_kinds(preact):
        design = Design(stages=(StageSpec(1, 64),), block=name)  # type: ignore[arg-type]
        state = _first_block_state(design)
        if found == _own_modules(state):
            matches.append((name, _conv_keys(state)))
    # kinds of the same modules (a bottleneck's conv2, ResNeSt's conv2.conv, .fc1, .fc2)
    # are told apart by their convs' own names, where one kind has exactly the block's
    exact = [name for name, keys in matches if keys == _conv_keys(first)]
    if exact or matches:
        return (exact or [name for name, _ in matches])[0]
    names = ", ".join(sorted(found)) or "none"
    raise _fail(f"layer1.0's modules ({names}) are those of no block kind we know")


def _read_blocks(
    kind: BlockKind, stages: list[_Stage], stem: StemSpec, in_channels: int
) -> tuple[list[_Stage], dict[str, Any], tuple[str, ...]]:
    """A kind that reads its own blocks (its convs in modules of its own): its options, and
    each stage's first block with the plain convs the widths are read from added."""
    if kind.read_blocks is None:
        return stages, {}, ()
    width = stem.width if stem.kind != "none" else in_channels
    found = kind.read_blocks([stage.first for stage in stages], width)
    if found.problem:
        raise _fail(found.problem)
    stages = [
        _Stage({**stage.blocks, 0: {**stage.first, **plain}})
        for stage, plain in zip(stages, found.plain, strict=True)
    ]
    return stages, dict(found.fields), found.assumed


_NOT_THE_KINDS = ("downsample", "se")  # the shortcut and the attention slot are the design's


def _own_modules(block: Mapping[str, Shape]) -> frozenset[str]:
    """The block's top-level modules that hold convs, less its shortcut and attention.

    Norms are left out: a pre-activation network's first block may leave its norm to the stem.
    """
    return frozenset(key.split(".")[0] for key in _conv_keys(block))


def _conv_keys(block: Mapping[str, Shape]) -> frozenset[str]:
    """The block's conv weights, less its shortcut's and its attention's."""
    return frozenset(
        key
        for key, shape in block.items()
        if key.endswith(".weight") and len(shape) >= 3 and key.split(".")[0] not in _NOT_THE_KINDS
    )


def _first_block_state(design: Design) -> dict[str, Shape]:
    """The first block's tensors, named relative to it."""
    prefix = "layer1.0."
    return {
        key.removeprefix(prefix): shape
        for key, shape in expected_state(design).items()
        if key.startswith(prefix)
    }


def _stem(
    ours: Mapping[str, Shape], stages: list[_Stage], preact: bool
) -> tuple[StemSpec, int, list[str]]:
    norm_act = "bn1.weight" in ours or not preact
    pool: StemPool = "conv" if "maxpool.0.weight" in ours else "max"
    if "conv1.0.weight" in ours:
        first = ours["conv1.0.weight"]
        second = ours.get("conv1.3.weight", ())
        width = ours.get("conv1.6.weight", (0,))[0]
        kind: StemName = "deep" if first[0] == width // 2 else "deep_tiered"
        if len(second) != 4 or second[0] != width // 2:
            raise _fail(
                f"a three-conv stem of widths {first[0]}, {second[:1]}, {width} is not one we know"
            )
        return StemSpec(kind, width, pool, norm_act), first[1], ["stem kind and width"]
    if "conv1.weight" in ours:
        shape = ours["conv1.weight"]
        if len(shape) != 4 or shape[2] not in (3, 7):
            raise _fail(f"conv1.weight of shape {list(shape)} is no ResNet stem (7x7 or 3x3 conv)")
        kind = "imagenet" if shape[2] == 7 else "cifar"
        return StemSpec(kind, shape[0], pool, norm_act), shape[1], ["stem kind and width"]
    conv1 = _need(stages[0].first, "conv1.weight", "layer1.0")
    return StemSpec("none", 64), conv1[1], ["stem (none)"]


def _norm(ours: Mapping[str, Shape]) -> str:
    """A norm with a tensor of its own (EvoNorm's ``v``, FRN's ``tau``) is named by it;
    BatchNorm keeps running statistics; GroupNorm has only its affine weights."""
    for name, kind in NORMS.items():
        own = {f"bn1.{vector}" for vector in kind.vectors if vector not in ("weight", "bias")}
        if own and any(key.endswith(tuple(own)) for key in ours):
            return name
    has_norm = any(k.endswith(("bn1.weight", "bn2.weight")) for k in ours)
    has_stats = any(k.endswith("running_mean") for k in ours)
    return "group" if has_norm and not has_stats else "batch"


def _shortcut(
    ours: Mapping[str, Shape], stages: list[_Stage], km: KeyMap
) -> tuple[str, str | None]:
    """projection (1x1 conv at downsample.0), avg_down (at .1), zero_pad (no weights at all)."""
    for stage in stages:
        for block in stage.blocks.values():
            if "downsample.0.weight" in block and len(block["downsample.0.weight"]) == 4:
                return "projection", None
            if "downsample.1.weight" in block and len(block["downsample.1.weight"]) == 4:
                note = None
                if km.scheme == "timm-resnetv2":
                    note = (
                        "shortcut avg_down: timm's ResNetV2 with a deep stem pools (its d variant)"
                    )
                return "avg_down", note
    return "zero_pad", "shortcut zero_pad: no shortcut has weights, yet the widths change"


def _stage_specs(
    stages: list[_Stage], kind: BlockKind
) -> tuple[list[StageSpec], int, int, RecoveredFields]:
    """Depth, width and the grouping of every stage; the network's groups from the first;
    the design fields the kind reads from its first block (Res2Net's scale)."""
    if not kind.grouped:
        specs = []
        for n, stage in enumerate(stages):
            out = _need(stage.first, "conv2.weight", f"layer{n + 1}.0")[0]
            specs.append(StageSpec(len(stage.blocks), out))
        return specs, 1, 64, {}
    shapes = []
    fields: RecoveredFields = {}
    for n, stage in enumerate(stages):
        where = f"layer{n + 1}.0"
        out = _need(stage.first, "conv3.weight", where)[0]
        if kind.stage_widths is not None:  # the kind's 3x3 is not conv2 fed by conv1
            inner, groups, found = kind.stage_widths(stage.first, where)
            fields = fields or found
            shapes.append((len(stage.blocks), inner, groups, out))
            continue
        conv2 = kind.grouped_conv(stage.first)
        if conv2 is None or len(conv2) != 4:
            raise _fail(f"{where}'s grouped 3x3 conv is missing or not a conv: not a {kind.label}")
        inner = conv2[0]
        reduced = _need(stage.first, "conv1.weight", where)[0]
        if reduced != inner or not conv2[1] or inner % conv2[1]:
            # a pruned network (timm's *_pruned): every conv has a width of its own
            raise _fail(
                f"{where}'s convs narrow from {reduced} to {inner} channels inside the block:"
                " a pruned network, whose widths no design can express"
            )
        shapes.append((len(stage.blocks), inner, inner // conv2[1], out))
    _, inner0, groups, out0 = shapes[0]
    planes0 = max(out0 // 4, 1)
    wpg = inner0 * 64 // (groups * planes0)
    if int(planes0 * wpg / 64) * groups != inner0:
        wpg = 64
    specs = []
    for depth, inner, g, out in shapes:
        specs.append(_bottleneck_stage(depth, inner, g, out, groups, wpg))
    return specs, groups, wpg, fields


def _bottleneck_stage(depth: int, inner: int, g: int, out: int, groups: int, wpg: int) -> StageSpec:
    """A stage whose 3x3 has ``inner`` channels in ``g`` groups and whose output is ``out``."""
    # the network's grouping, expansion 4 (torchvision's planes), if it gives these widths
    for planes in (out // 4, inner * 64 // (g * wpg)):
        if planes > 0 and g == groups and int(planes * wpg / 64) * g == inner:
            if planes * 4 == out:
                return StageSpec(depth, planes)
            if out % planes == 0:
                return StageSpec(depth, planes, expansion=out // planes)
            return StageSpec(depth, planes, out_width=out)
    # else the stage's own grouping: planes = inner / g at 64 per group
    planes = inner // g
    return StageSpec(
        depth,
        planes,
        out_width=out,
        groups=g if g != groups else None,
        width_per_group=64 if wpg != 64 else None,
    )


def _strides(
    specs: list[StageSpec], stages: list[_Stage], stem: StemSpec, shortcut: str
) -> tuple[list[StageSpec], str]:
    """Stride 2 from the second stage on (every zoo's convention), 1 where no shortcut is due.

    With projection shortcuts a first block without one keeps its shape, so its stride is
    1 for certain; the rest is the convention.
    """
    out = []
    for n, (spec, stage) in enumerate(zip(specs, stages, strict=True)):
        stride = 1 if n == 0 else 2
        has_shortcut = any(k.startswith("downsample.") for k in stage.first)
        if shortcut != "zero_pad" and not has_shortcut:
            stride = 1
        out.append(dataclasses.replace(spec, stride=stride))
    return out, "strides 1, 2, 2, ... (the zoos' convention): a stride has no weights"


def _attention(
    stages: list[_Stage], specs: list[StageSpec]
) -> tuple[dict[str, Any], list[StageSpec]]:
    """The attention whose tensors the blocks hold, as each kind recognises its own."""
    firsts = [stage.first for stage in stages]
    for name, kind in ATTENTIONS.items():
        fields = kind.recover(firsts)
        if fields is None:
            continue
        per_stage = fields.pop("stages", None)
        if per_stage is not None:
            specs = [dataclasses.replace(s, **c) for s, c in zip(specs, per_stage, strict=True)]
        return {"attention": name, **fields}, specs
    return {}, specs


def _head(ours: Mapping[str, Shape]) -> tuple[HeadSpec, int]:
    """The hidden layers and classes; none at all: a feature extractor (0 classes)."""
    fc = ours.get("fc.weight")
    if fc is not None and len(fc) != 2:
        raise _fail(f"fc.weight of shape {list(fc)} is no classifier (a linear layer's weight)")
    hidden = []
    i = 0
    while f"hidden.{i}.0.weight" in ours:
        hidden.append(ours[f"hidden.{i}.0.weight"][0])
        i += 1
    conv = ours.get("final_conv.0.weight", (0,))[0]  # timm byobnet's num_features
    return HeadSpec(hidden=tuple(hidden), conv=conv), fc[0] if fc is not None else 0
