"""Every figure explains itself: the formula behind a layer's numbers, and memory by part.

MACs follow torchinfo (conv: (k*k*Cin/groups*Cout + bias) * H*W; norm and linear:
their parameter count); FLOPs are 2 x MACs. Training memory is what one step
holds at its peak, split into weights, gradients, optimiser state, activations and
(on CUDA) cuBLAS's workspace, with toggles for mixed precision and activation
checkpointing; :mod:`designer.core.torch.peak` measures the same peak, and tests
hold the estimate to within 10% of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.core.analysis import Analysis, Block, Layer, numel

OPTIMISER_STATE = {"sgd": 0, "sgd_momentum": 1, "adamw": 2}  # fp32 tensors per parameter
# and those its step makes at once: foreach AdamW's square root of the second moment
STEP_TEMPORARIES = {"sgd": 0, "sgd_momentum": 0, "adamw": 1}


def explain_layer(layer: Layer) -> str:
    """One line: how this layer's parameters and MACs come about."""
    if layer.kind.endswith("Conv2d"):  # StdConv2d's weights count as a conv's
        cin, cout = layer.input_shape[0], layer.output_shape[0]
        _, h, w = layer.output_shape
        k, groups = layer.kernel, layer.groups
        bias_text = f" + {cout} bias" if layer.bias else ""
        return (
            f"params = {k}*{k}*{cin}/{groups}*{cout}{bias_text} = {layer.params:,}; "
            f"MACs = params * H*W = {layer.params:,} * {h}*{w} = {layer.macs:,}"
        )
    if layer.kind.startswith("BatchNorm"):
        c = layer.input_shape[0]
        return f"params = weight + bias = 2*{c} = {layer.params:,}; MACs = params (torchinfo)"
    if layer.kind == "Linear":
        cin, cout = layer.input_shape[0], layer.output_shape[0]
        return f"params = {cin}*{cout} + {cout} bias = {layer.params:,}; MACs = params"
    return "no parameters; counted as 0 MACs (as torchinfo does)"


# What a layer's backward pass keeps (the tensors autograd saves), by the layer's
# kind, as the generated model.py calls it; a kind not listed keeps its input.
#   input:   its input (convs, linears, norms, GELU, windowed pools)
#   inplace: it overwrites its input and keeps the result: one tensor for both (ReLU & co.)
#   copy:    it overwrites its input and keeps a copy of the original (SiLU, Mish, Hardswish)
#   output:  its output (Sigmoid)
#   view:    no tensor of its own (Flatten, Identity)
#   nothing: a new output that nothing keeps (a 1x1 average pool is a mean; zero-pad; drop-path)
KEEPS = {
    **dict.fromkeys(("Conv2d", "Linear", "BatchNorm2d", "BatchNorm1d", "GroupNorm"), "input"),
    **dict.fromkeys(("GELU", "MaxPool2d", "AvgPool2d"), "input"),
    **dict.fromkeys(("ReLU", "ReLU6", "LeakyReLU", "ELU"), "inplace"),
    **dict.fromkeys(("SiLU", "Mish", "Hardswish"), "copy"),
    "Sigmoid": "output",
    **dict.fromkeys(("Flatten", "Identity"), "view"),
    **dict.fromkeys(
        ("AdaptiveAvgPool2d", "ZeroPadShortcut", "ZeroPad2d", "DropPath", "Dropout"), "nothing"
    ),
}
KEPT_PER_OUTPUT = {"MaxPool2d": 8, "Dropout": 1}  # bytes kept besides, per output element
WEIGHTED = ("Conv2d", "Linear")  # the layers autocast runs in 16 bits, on 16-bit weight copies
# cuBLAS's workspaces: torch allocates one per thread that runs a matmul (the forward's
# and the autograd engine's) from its caching allocator and keeps it, so
# max_memory_allocated counts them: 32 MiB each on Hopper (8 MiB + 128 KiB on older
# GPUs), and 1 MiB for cuBLASLt (the forward's linear with bias).
CUDA_WORKSPACE = 2 * 32 * 2**20 + 2**20


@dataclass(frozen=True)
class MemoryBreakdown:
    weights: int
    gradients: int
    optimiser: int
    activations: int
    workspace: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimiser + self.activations + self.workspace


_Line = tuple[int, int, int]  # bytes per sample, fixed bytes, of which weight gradients


class _Tensor:
    """A tensor of the forward pass: its bytes per sample and fixed bytes (16-bit weight
    copies), the first layer in call order whose backward keeps it, the residual block
    whose forward made it (-1: stem or head), and whether checkpointing keeps it from
    the forward (a block's input)."""

    __slots__ = ("block", "fixed", "held", "keeper", "size")

    def __init__(self, size: int, block: int, fixed: int = 0) -> None:
        self.size = size
        self.fixed = fixed
        self.keeper = -1
        self.block = block
        self.held = False

    def keep(self, row: int) -> None:
        if self.keeper < 0:
            self.keeper = row


class _Forward:
    """Follows each tensor from the layer that makes it to the layers that read it, in
    call order, noting who keeps what and the gradients each layer's backward holds."""

    def __init__(self, result: Analysis, half: bool) -> None:
        self.layers = result.layers
        self.half = half
        self.itemsize = 2 if half else 4
        self.tensors: list[_Tensor] = []
        self.transient = [0] * len(result.layers)  # per sample
        self.block = -1
        self.image = _Tensor(0, -1)  # the batch itself, counted apart with the targets

    def new(self, elements: int, itemsize: int = 0, fixed: int = 0) -> _Tensor:
        tensor = _Tensor(elements * (itemsize or self.itemsize), self.block, fixed)
        self.tensors.append(tensor)
        return tensor

    def like(self, tensor: _Tensor) -> _Tensor:
        twin = _Tensor(tensor.size, self.block)
        self.tensors.append(twin)
        return twin

    def layer(self, i: int, x: _Tensor, held: int = 0) -> _Tensor:
        """Run layer ``i`` on ``x``; its output. ``held``: elements of gradient that wait
        for the block's other branch while this layer's backward runs."""
        layer = self.layers[i]
        kind = layer.kind
        rule = KEEPS.get(kind, "input")
        size_in, size_out = numel(layer.input_shape), numel(layer.output_shape)
        if rule != "view":  # its backward holds the gradients of its output and its input
            grads = size_out + held + (0 if x is self.image else size_in)
            self.transient[i] = grads * self.itemsize
        if kind in KEPT_PER_OUTPUT:
            self.new(size_out, KEPT_PER_OUTPUT[kind]).keep(i)
        if self.half and kind in WEIGHTED:
            self.new(0, fixed=2 * layer.params).keep(i)  # its weights, cast to 16 bits
        if rule == "input":
            if x is not self.image:
                x.keep(i)
            elif self.half:  # the batch is counted apart, not the 16-bit copy autocast keeps
                self.new(size_in).keep(i)
            return self.new(size_out)
        if rule == "inplace":
            x.keep(i)
            return x
        if rule == "copy":
            self.new(size_in).keep(i)
            return x
        if rule == "output":
            y = self.new(size_out)
            y.keep(i)
            return y
        return x if rule == "view" else self.new(size_out)

    def residual(self, block: Block, x: _Tensor) -> _Tensor:
        """A residual block: its pre-activation, the branch (a squeeze-excite gate then
        multiplies the branch), the shortcut (from the pre-activation when it comes first,
        else from the input), the add, and what follows the add."""
        x.held = True
        into, out = numel(block.input_shape), numel(block.output_shape)
        pre = x
        main: _Tensor | None = None
        short: _Tensor | None = None
        summed: _Tensor | None = None
        squeezed: _Tensor | None = None  # the branch, while squeeze-excite reads it
        se = x
        for i in range(block.first_layer, block.end_layer):
            role = self.layers[i].role
            if squeezed is not None and role != "se":
                squeezed.keep(i - 1)  # the gate's product keeps both factors
                main, squeezed = self.like(squeezed), None
            if role == "pre":
                pre = self.layer(i, pre)
            elif role == "shortcut":
                if short is None:
                    short = pre if main is None else x
                short = self.layer(i, short, out)  # the branch's gradient waits
            elif role == "se":
                if squeezed is None:
                    squeezed = se = main or pre
                se = self.layer(i, se, into)
            elif role == "post":
                summed = self.layer(i, summed or self.new(out))
            else:
                main = self.layer(i, main or pre, into)  # the shortcut's gradient waits
        if squeezed is not None:
            squeezed.keep(block.end_layer - 1)
        return summed or self.new(out)


def _alike(a: Block, b: Block) -> bool:
    """Whether two blocks are the same block under other names (the analysis replays a
    stage's blocks after its first: the same shapes, parameters and layers)."""
    return (
        a.stage == b.stage
        and a.input_shape == b.input_shape
        and a.output_shape == b.output_shape
        and a.params == b.params
        and a.macs == b.macs
        and a.shortcut == b.shortcut
        and a.end_layer - a.first_layer == b.end_layer - b.first_layer
    )


def _forward(result: Analysis, half: bool) -> tuple[_Forward, list[tuple[int, int]]]:
    """The forward walk, and the blocks in call order as (block, copies): copies 0 is the
    block itself; copies n > 0 stands for n more of it (the middle of a run of alike
    blocks, whose walk would repeat the one before it tensor for tensor)."""
    walk = _Forward(result, half)
    blocks = result.blocks
    stages = len(result.design.stages)
    order: list[tuple[int, int]] = []
    x = walk.image
    k = 0
    while k < len(blocks):
        block = blocks[k]
        if not 0 <= block.stage < stages:  # the stem and the head
            walk.block = -1
            for i in range(block.first_layer, block.end_layer):
                x = walk.layer(i, x)
            order.append((k, 0))
            k += 1
            continue
        run = 1
        while k + run < len(blocks) and _alike(block, blocks[k + run]):
            run += 1
        if run < 4:
            walked = [(j, 0) for j in range(k, k + run)]
        else:  # the first, the second, copies of the second, the last
            walked = [(k, 0), (k + 1, 0), (k + 1, run - 3), (k + run - 1, 0)]
        for j, copies in walked:
            if not copies:
                walk.block = j
                x = walk.residual(blocks[j], x)
            order.append((j, copies))
        k += run
    walk.new(numel(result.output_shape), 4).keep(len(result.layers) - 1)  # the log-softmax
    return walk, order


def _peak_lines(result: Analysis, half: bool, checkpointing: bool) -> tuple[_Line, ...]:
    """Each moment of the backward pass that can hold the most, as (bytes per sample,
    fixed bytes, of which gradients): the upper envelope over batch sizes >= 1.

    The forward keeps what each layer's backward needs (:data:`KEEPS`); the backward
    visits the layers in reverse, each adding its weights' gradients, holding gradients
    the size of its output and input (and of the block's other branch), then freeing
    what only it still kept. With checkpointing a residual block keeps only its input
    until its backward recomputes the rest. Along a run of alike blocks each moment
    grows or shrinks linearly from block to block, so only the run's two ends count.
    """
    walk, order = _forward(result, half)
    layers, blocks, transient = result.layers, result.blocks, walk.transient
    frees = [0] * len(layers)
    frees_fixed = [0] * len(layers)
    recomputed = [0] * len(blocks)
    alive = alive_fixed = 0
    for tensor in walk.tensors:
        if tensor.keeper < 0:
            continue
        frees[tensor.keeper] += tensor.size
        frees_fixed[tensor.keeper] += tensor.fixed
        if checkpointing and tensor.block >= 0 and not tensor.held:
            recomputed[tensor.block] += tensor.size
        else:
            alive += tensor.size
        alive_fixed += tensor.fixed
    for k, copies in order:  # what the copies keep from the forward
        rows = range(blocks[k].first_layer, blocks[k].end_layer)
        alive += copies * (sum(frees[i] for i in rows) - recomputed[k])
        alive_fixed += copies * sum(frees_fixed[i] for i in rows)
    grads = 0
    lines: list[_Line] = []
    for k, copies in reversed(order):
        block = blocks[k]
        before = (alive, alive_fixed, grads)
        alive += recomputed[k]
        for i in range(block.end_layer - 1, block.first_layer - 1, -1):
            layer = layers[i]
            grads += 4 * layer.params
            fixed = alive_fixed + grads  # under autocast, and its weights' 16-bit gradient:
            if half and layer.kind in WEIGHTED:
                fixed += 2 * layer.params
            lines.append((alive + transient[i], fixed, grads))
            alive -= frees[i]
            alive_fixed -= frees_fixed[i]
        if copies > 1:  # the copies between the first and the block itself
            alive += (copies - 1) * (alive - before[0])
            alive_fixed += (copies - 1) * (alive_fixed - before[1])
            grads += (copies - 1) * (grads - before[2])
    return _upper_envelope(lines)


def _upper_envelope(lines: list[_Line]) -> tuple[_Line, ...]:
    """The lines ``slope * batch + intercept`` that are the highest for some batch >= 1."""
    best: dict[int, _Line] = {}
    for line in lines:  # of equal slopes, the highest
        if line[0] not in best or line[1] > best[line[0]][1]:
            best[line[0]] = line
    hull: list[_Line] = []
    for line in sorted(best.values()):
        while hull:
            top = hull[-1]
            # ``top`` is below ``line`` from batch 1 on, or below one of its neighbours
            below = top[0] + top[1] <= line[0] + line[1]
            if below or (len(hull) > 1 and _beaten(hull[-2], top, line)):
                hull.pop()
            else:
                break
        hull.append(line)
    return tuple(hull)


def _beaten(low: _Line, mid: _Line, high: _Line) -> bool:
    """Whether ``mid`` is nowhere above both ``low`` and ``high`` (slopes increasing)."""
    # mid is useless when high overtakes low no later than mid overtakes low
    return (high[1] - low[1]) * (mid[0] - low[0]) >= (mid[1] - low[1]) * (high[0] - low[0])


def _lines(result: Analysis, half: bool, checkpointing: bool) -> tuple[_Line, ...]:
    """:func:`_peak_lines`, worked out once per analysis."""
    key = ("training_memory", half, checkpointing)
    memo = result.memo
    if key not in memo:
        memo[key] = _peak_lines(result, half, checkpointing)
    lines: tuple[_Line, ...] = memo[key]
    return lines


def _buffers(result: Analysis) -> int:
    """Bytes of BatchNorm's running mean and variance (fp32) and batch count (int64)."""
    memo = result.memo
    if "norm_buffers" not in memo:
        norms = (layer for layer in result.layers if layer.kind.startswith("BatchNorm"))
        memo["norm_buffers"] = sum(8 * layer.output_shape[0] + 8 for layer in norms)
    total: int = memo["norm_buffers"]
    return total


def training_memory(
    result: Analysis,
    batch_size: int,
    *,
    optimiser: str = "sgd_momentum",
    mixed_precision: bool = False,
    checkpointing: bool = False,
    device: str = "cuda",
) -> MemoryBreakdown:
    """What one training step holds at its peak, part by part, as torch allocates it.

    The peak comes in the backward pass, where what the forward kept for it, the
    gradients made so far and those of the layer being differentiated meet; or, for
    AdamW with small batches, in the optimiser's step.

    - weights: fp32 parameters, and BatchNorm's running statistics;
    - optimiser: fp32 state tensors per parameter (momentum: one; AdamW: two), and at
      AdamW's step the temporary its foreach update makes (torch's default on CUDA);
    - gradients: fp32, only those made by the peak: ``zero_grad(set_to_none=True)``
      frees them after each step and the backward makes them layer by layer, last first;
    - activations: the input batch and its targets, what the backward still keeps at
      the peak (:data:`KEEPS`: a ReLU shares the tensor of the norm before it, a norm's
      output feeding the residual add is kept by nobody, a max-pool keeps int64
      indices), and the gradients of the layer being differentiated (its output's and
      its input's, and the shortcut's waiting for the branch);
    - mixed precision (autocast, bf16 or fp16): kept tensors are 16-bit, the first conv
      keeps a 16-bit copy of the batch and every conv and linear a 16-bit copy of its
      weights (and makes their 16-bit gradient); weights, gradients and optimiser state
      stay fp32;
    - checkpointing (each residual block): keeps each block's input, and one block's
      tensors at a time while the backward recomputes them;
    - workspace, on ``device="cuda"``: cuBLAS's workspaces, which torch keeps
      (:data:`CUDA_WORKSPACE`). cuDNN's convolution workspace is transient (allocated
      inside one call): assumed small beside the activations and not counted; nor is
      the caching allocator's rounding (to 512 bytes; a cached block reused whole).
    """
    params = result.params
    lines = _lines(result, bool(mixed_precision), checkpointing)
    slope, fixed, gradients = max(lines, key=lambda line: line[0] * batch_size + line[1])
    size = result.design.input
    inputs = batch_size * (4 * size.channels * size.height * size.width + 8)  # and targets
    state = 4 * params * OPTIMISER_STATE[optimiser]
    step_temporaries = 4 * params * STEP_TEMPORARIES[optimiser]
    if 4 * params + step_temporaries > slope * batch_size + fixed:  # the step holds more
        gradients, kept, state = 4 * params, 0, state + step_temporaries
    else:
        kept = slope * batch_size + fixed - gradients
    return MemoryBreakdown(
        weights=4 * params + _buffers(result),
        gradients=gradients,
        optimiser=state,
        activations=kept + inputs,
        workspace=CUDA_WORKSPACE if device == "cuda" else 0,
    )


def training_bytes(result: Analysis, batch_size: int) -> int:
    """What training at ``batch_size`` holds at its peak (fp32, SGD with momentum, on CUDA).

    The one number the inspector, ``fit`` and the budget checks show; ``training_memory``
    itemises it.
    """
    return training_memory(result, batch_size).total


def inference_bytes(result: Analysis, batch: int, *, mixed_precision: bool = False) -> int:
    """Weights plus what inference holds at once: a block's input (the shortcut keeps it)
    beside the largest input-and-output pair of its layers."""
    act = 2 if mixed_precision else 4
    live = 0
    for block in result.blocks:
        layers = result.layers[block.first_layer : block.end_layer]
        pair = max((numel(x.input_shape) + numel(x.output_shape) for x in layers), default=0)
        live = max(live, numel(block.input_shape) + pair)
    return result.param_bytes + batch * live * act
