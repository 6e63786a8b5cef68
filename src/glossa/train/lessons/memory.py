"""Count the bytes tensors hold while a step runs: a `TorchDispatchMode` that sees every allocation.

CPUs have no `torch.cuda.max_memory_allocated`, so `TensorMemory` watches every aten operation: each output
tensor's storage is counted once when it first appears and uncounted when Python frees it (a weakref
finalizer), giving the bytes held now and the peak. Only tensors created inside the `with` block count, so
the weights (made before) do not: what is measured is activations, gradients and temporaries. Views share
their base's storage and are not double-counted.
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map_only


class TensorMemory(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: dict[int, int] = {}
        self.current = 0
        self.peak = 0

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        if size == 0 or key in self.sizes:
            return
        self.sizes[key] = size
        self.current += size
        self.peak = max(self.peak, self.current)
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.sizes.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tree_map_only(torch.Tensor, self._track, out)
        return out
