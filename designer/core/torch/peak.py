"""The peak memory of one training step, measured: what ``training_memory`` estimates.

One steady-state step of SGD with momentum (lr 0.1, momentum 0.9, no weight
decay): forward, cross-entropy, backward, ``optimizer.step()``,
``zero_grad(set_to_none=True)``. Two steps run and the second is measured, so
the momentum buffers already exist and the gradients start as None, as in every
step of a real run after the first.

On CUDA the figure is what the caching allocator reports
(``torch.cuda.max_memory_allocated``, rounded blocks and cuDNN workspaces
included). Elsewhere :class:`LiveTensors` counts the bytes of every storage
alive, op by op, which is what that allocator would count before its rounding,
its workspaces and the scratch memory a kernel allocates inside itself. Either
way the weights, buffers, optimiser state, the input batch and its targets count.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextlib import nullcontext

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_iter

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class LiveTensors(TorchDispatchMode):
    """Bytes of the storages alive now and at most, on any device.

    Every op's outputs are recorded (a storage once, however many views share it)
    and forgotten when torch frees the storage (a weakref callback: torch keeps a
    storage's Python object for as long as the storage lives). Storages made before
    the mode was entered count only if passed to :meth:`add`. Ops run under it
    exactly as they would; the mode reaches the backward pass too. Not seen: memory
    a kernel allocates and frees inside itself, and storages resized in place.
    """

    def __init__(self) -> None:
        # TorchDispatchMode.__init__ has no annotations (untyped_calls_exclude in
        # pyproject.toml names the class, but mypy does not apply it to super() calls)
        super().__init__()  # type: ignore[no-untyped-call]
        self.live: dict[int, tuple[weakref.ref[torch.UntypedStorage], int]] = {}
        self.now = 0
        self.peak = 0

    def add(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = id(storage)
        if key in self.live and self.live[key][0]() is storage:
            return
        size = storage.nbytes()
        self.live[key] = (weakref.ref(storage, lambda _: self._freed(key)), size)
        self.now += size
        self.peak = max(self.peak, self.now)

    def _freed(self, key: int) -> None:
        entry = self.live.pop(key, None)
        if entry is not None:
            self.now -= entry[1]

    def __torch_dispatch__(
        self,
        func: Callable[..., object],
        types: tuple[type, ...],
        args: tuple[object, ...] = (),
        kwargs: dict[str, object] | None = None,
    ) -> object:
        out = func(*args, **(kwargs or {}))
        for value in tree_iter(out):
            if isinstance(value, torch.Tensor):
                self.add(value)
        return out


def train_step_peak(
    model: nn.Module,
    batch_size: int,
    image_shape: tuple[int, int, int],
    *,
    amp: str = "none",
    channels_last: bool = False,
    device: str | torch.device = "cpu",
) -> int:
    """Peak bytes alive during one steady-state training step of ``model`` (moved to ``device``).

    ``image_shape`` is (channels, height, width); ``amp`` runs forward and loss under
    ``torch.autocast`` in bf16 or fp16 (fp16 without a grad scaler: one step's peak
    does not depend on it); the weights and the optimiser stay fp32.
    """
    dtype = AMP_DTYPES[amp]
    device = torch.device(device)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    # Module.to takes device and memory_format together (torch._C._nn._parse_to does);
    # its overloads in torch's stubs have memory_format alone
    model = model.to(device=device, memory_format=memory)  # type: ignore[call-overload]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, *image_shape, generator=generator)
    x = x.to(device=device, memory_format=memory)
    with torch.no_grad():
        classes = model.eval()(x[:1]).shape[1]
    model.train()
    y = torch.randint(0, classes, (batch_size,), generator=generator).to(device)

    def step() -> None:
        autocast = torch.autocast(device.type, dtype) if dtype else nullcontext()
        with autocast:
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device)
    tracker = LiveTensors()
    for tensor in (*model.parameters(), *model.buffers(), x, y):
        tracker.add(tensor)
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                tracker.add(value)
    with tracker:
        step()
    return tracker.peak
