"""Data parallelism under torchrun (seed §13 Distributed Training, §18–19 Data Parallelism, Model Sharding,
ZeRO/FSDP).

`torchrun --nproc_per_node=N -m glossa train recipe.toml` runs the same command in N processes. Each holds a
replica of the model, reads its slice of every global batch (`BatchLoader`), and DDP averages the gradients
with an all-reduce during backward, so the update equals one process's on the whole batch. With
`parallel="fsdp"` the parameters, gradients and optimizer state are sharded over the processes instead (ZeRO
stage 3: each process keeps 1/N and gathers a layer's weights just before it runs), for models that do not fit
one device. The backend is gloo on CPU, nccl on GPUs. Outside torchrun nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from glossa.errors import GlossaError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
    return DistInfo(rank, world, local_rank)


def wrap(model: nn.Module, info: DistInfo, parallel: str, device: str) -> nn.Module:
    if not info.enabled:
        return model
    if parallel == "fsdp":
        from torch.distributed.fsdp import fully_shard  # FSDP2: parameters become sharded DTensors

        for block in model.layers:
            fully_shard(block)
        return fully_shard(model)
    from torch.nn.parallel import DistributedDataParallel

    ids = [info.local_rank] if device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids)


def mean(value: float, info: DistInfo) -> float:
    """The average of a number over all processes (the logged loss of the global batch)."""
    if not info.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.item() / info.world


def check(parallel: str, optimizer: str, info: DistInfo) -> None:
    if info.enabled and parallel == "fsdp" and optimizer == "muon":
        raise GlossaError("Muon needs whole matrices, FSDP shards them: use parallel=ddp or optim.name=adamw")


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
