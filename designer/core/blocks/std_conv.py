"""Weight standardisation (Qiao et al. 2019), as timm's ``StdConv2d``: the design's
``std_conv``.

Each conv standardises its weight at every call, per output channel, to zero mean and
unit variance before convolving, as BiT (Kolesnikov et al. 2020) does with GroupNorm
so that no batch statistics are needed anywhere. The weights keep their shapes, so a
checkpoint cannot show it. Every conv of the network's stem, blocks and shortcuts is
one (timm's ``conv_layer``); an attention module's convs and the classifier are not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import CustomModule, Shape, Walker, register

if TYPE_CHECKING:
    from designer.core.design import Design

CLASS_NAME = "StdConv2d"
# its eps is BiT's 1e-8 (timm's _create_resnetv2_bit); timm's StdConv2d's own default is 1e-6
_SOURCE = '''class StdConv2d(nn.Conv2d):
    """A conv with weight standardisation (Qiao et al. 2019), as timm's: each output
    channel's weight is standardised to zero mean and unit variance at every call."""

    eps = 1e-8  # BiT's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = self.weight.reshape(1, self.out_channels, -1)
        weight = F.batch_norm(flat, None, None, training=True, momentum=0.0, eps=self.eps)
        weight = weight.reshape_as(self.weight)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
'''.rstrip()  # its last line fills model.py's 100 columns


def conv_kind(design: Design) -> str:
    """The class of the design's convs, as torchinfo names their rows."""
    return CLASS_NAME if design.std_conv else "Conv2d"


def _walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    out, kernel, stride = args
    return w.conv(name, x, out, kernel, stride, kind=CLASS_NAME)


register(
    CustomModule(
        key="std_conv",
        class_name=CLASS_NAME,
        source=lambda design: _SOURCE,
        walk=_walk,
        imports=("import torch.nn.functional as F",),
        graph_kind="conv",
    )
)
