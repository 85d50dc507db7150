"""The outside figures the tests compare against, each typed once with where it comes from.

Parameter counts, mult-adds and the papers' tables: numbers nobody here wrote. Plain data
with no imports beyond the standard library, so a Qt test that checks the UI process never
loads torch can use them (``tests.reference`` imports torch).
"""

from __future__ import annotations

from typing import NamedTuple


class Counts(NamedTuple):
    """A network's parameters and torchinfo's mult-adds for one input."""

    params: int
    macs: int


# torchvision 0.29.1 ``models.<name>(weights=None)``; macs: torchinfo.summary(...)
# .total_mult_adds at 1x3x224x224 (the table in shared/ANCHORS.md)
TORCHVISION_COUNTS = {
    "resnet18": Counts(11_689_512, 1_814_083_944),
    "resnet34": Counts(21_797_672, 3_663_779_432),
    "resnet50": Counts(25_557_032, 4_089_238_376),
    "resnet101": Counts(44_549_160, 7_801_511_784),
    "resnet152": Counts(60_192_808, 11_513_779_048),
    "wide_resnet50_2": Counts(68_883_240, 11_398_090_344),
    "resnext50_32x4d": Counts(25_028_904, 4_230_549_096),
}

# torchvision's resnet50().state_dict(): conv1.weight first, fc.weight and fc.bias last
RESNET50_STATE_DICT_KEYS = 320

# torchinfo's row for torchvision resnet50's conv1 (7x7, 3 -> 64, stride 2) at 224x224
RESNET50_CONV1 = Counts(9_408, 118_013_952)

# timm 1.0.31 ``create_model(<name>, pretrained=False)``; macs: torchinfo at 1x3x224x224
TIMM_COUNTS = {
    "resnet50d": Counts(25_576_264, 4_328_879_080),
    "resnet50t": Counts(25_573_728, 4_297_268_184),
}

# The papers' parameter counts in millions, rounded as printed
PAPER_MILLIONS = {
    "resnet20_cifar": 0.27,  # He et al. 2015, Table 6
    "resnet32_cifar": 0.46,  # He et al. 2015, Table 6
    "resnet44_cifar": 0.66,  # He et al. 2015, Table 6
    "resnet56_cifar": 0.85,  # He et al. 2015, Table 6
    "resnet110_cifar": 1.7,  # He et al. 2015, Table 6
    "resnet1202_cifar": 19.4,  # He et al. 2015, Table 6
    "preact_resnet164_cifar": 1.7,  # He et al. 2016, pre-activation bottleneck units
    "wrn28_10_cifar": 36.5,  # Zagoruyko and Komodakis 2016, wide residual networks
}

# He et al. 2016's 10.2M for ResNet-1001: its conv weights only, not BN or the classifier
PREACT_RESNET1001_CONV_MILLIONS = 10.2

# He et al. 2016's ResNet-1001 (111 pre-activation bottlenecks a stage, 16/64, 32/128,
# 64/256 wide) counted exactly: those conv weights, every BN, the projections, the classifier
PREACT_RESNET1001_PARAMS = 10_327_706

# He et al. 2015's ResNet-20 (Table 6's 0.27M) counted exactly: 19 3x3 convs, their BNs and
# the 64 -> 10 classifier; option-A shortcuts (zero padding) add no weights
RESNET20_CIFAR_PARAMS = 269_722
