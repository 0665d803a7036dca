"""Data-parallel training: the same ``instructed-rl train`` command, N processes.

    torchrun --nproc_per_node=2 -m instructed_rl.cli train --config configs/tiny.yaml --out runs/tiny2
    python -m torch.distributed.run --nproc_per_node=2 -m instructed_rl.cli train --config configs/ppo_tiny.yaml

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK (and the rendezvous address); without them every
helper here is a no-op and a trainer runs exactly as a single process. Each rank runs its own
envs with its own seeds, computes gradients on its own data, and the gradients are averaged
before every optimizer step, so all ranks hold the same weights throughout; rank 0 alone logs,
checkpoints and saves. Backend: gloo on CPU, NCCL when the trainer runs on CUDA.

Why not wrap the agent in ``torch.nn.parallel.DistributedDataParallel``: DDP's gradient hooks
are armed by ``module.forward``, but trainers call ``agent.encode_goal`` and
``agent.forward_sequence`` (plain methods, several per loss), which DDP does not see; going
through them would silently skip or double the synchronisation. Averaging gradients by hand
after ``backward()`` is the same arithmetic (DDP also all-reduces and divides by the world
size), needs no wrapper, and costs one flat all-reduce per step, which is nothing next to a
minigrid rollout for networks of this size. Parameters are broadcast from rank 0 once at the
start so that every rank starts from identical weights (and, for a new agent, the same frozen
vocabulary: the tokenizer is built on rank 0 and shipped to the others).

Resuming is exact for the same number of processes: each rank's seeds depend on its rank, and
an imitation checkpoint keeps every rank's replay buffer (rank r's arrays as ``rank{r}.*``).
A run resumed with another world size continues correctly but does not retrace the original.
Ctrl-C / SIGTERM under torchrun: torchrun forwards the signal to every rank (and kills them
30 s later); the ranks agree (``any_rank``) to checkpoint at the end of the iteration and stop.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """Where this process stands: ``rank`` of ``world_size`` (rank 0 logs and saves)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def seed_key(self) -> tuple[int, ...]:
        """Extra entropy for this rank's seeds: empty on rank 0, so one process seeds as it always did."""
        return () if self.rank == 0 else (self.rank,)

    @property
    def collective_device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")


def init_distributed(*, cuda: bool = False) -> Distributed:
    """Join the process group torchrun describes in the environment; a no-op without one."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_initialized():  # the caller set it up: use it, leave it to them
        return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                           backend=dist.get_backend(), owns_group=False)
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, init_method="env://")
    return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                       backend=backend, owns_group=True)


def shutdown(ctx: Distributed) -> None:
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: Distributed) -> None:
    if ctx.enabled:
        dist.barrier()


def broadcast_parameters(module: torch.nn.Module, ctx: Distributed) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not ctx.enabled:
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(parameters: Iterable[torch.nn.Parameter], ctx: Distributed) -> None:
    """Average ``.grad`` over ranks in place (call after ``backward()``, before clipping and ``step()``).

    A parameter that got no gradient on any rank keeps ``grad = None`` (as in one process, so
    Adam leaves it alone); one that got a gradient on some ranks only counts zeros elsewhere.
    """
    if not ctx.enabled:
        return
    parameters = list(parameters)
    device = ctx.collective_device
    present = torch.tensor([p.grad is not None for p in parameters], dtype=torch.int32, device=device)
    dist.all_reduce(present, op=dist.ReduceOp.MAX)
    used = [p for p, flag in zip(parameters, present.tolist()) if flag]
    if not used:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(device)
                      for p in used])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= ctx.world_size
    offset = 0
    for p in used:
        size = p.numel()
        p.grad = flat[offset:offset + size].view_as(p).to(p.device).clone()
        offset += size


def all_reduce_sum(values: list[int | float], ctx: Distributed) -> list[int | float]:
    """Sum counters over ranks, each keeping its type (the same list back in one process)."""
    if not ctx.enabled:
        return list(values)
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=ctx.collective_device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [type(v)(total) if isinstance(v, int) else total for v, total in zip(values, tensor.tolist())]


def any_rank(flag: bool, ctx: Distributed) -> bool:
    """True on every rank if it is True on one (e.g. a Ctrl-C that reached only some ranks)."""
    if not ctx.enabled:
        return bool(flag)
    tensor = torch.tensor([int(bool(flag))], dtype=torch.int32, device=ctx.collective_device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def gather_objects(value, ctx: Distributed) -> list | None:
    """Every rank's ``value`` on rank 0 (a list in rank order); None on the others."""
    if not ctx.enabled:
        return [value]
    gathered = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def gather_arrays(arrays: dict[str, np.ndarray], ctx: Distributed) -> dict[str, np.ndarray] | None:
    """Merge every rank's checkpoint arrays on rank 0: rank 0's keys as they are, rank r's as ``rank{r}.KEY``."""
    if not ctx.enabled:
        return arrays
    gathered = gather_objects(arrays, ctx)
    if gathered is None:
        return None
    merged = dict(gathered[0])
    for rank, theirs in enumerate(gathered[1:], start=1):
        merged.update({f"rank{rank}.{key}": value for key, value in theirs.items()})
    return merged


def rank_arrays(arrays: dict[str, np.ndarray], ctx: Distributed) -> dict[str, np.ndarray]:
    """This rank's part of arrays merged by :func:`gather_arrays`."""
    if ctx.rank == 0:
        return {k: v for k, v in arrays.items() if not k.startswith("rank")}
    prefix = f"rank{ctx.rank}."
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def share_agent(make: Callable[[], torch.nn.Module], ctx: Distributed):
    """Build a new agent on rank 0 (``make()``) and the same network, same frozen vocabulary, on the others.

    Building the vocabulary on each rank would cost every rank the env resets it samples from,
    and nothing guarantees SentencePiece training is bit-identical across processes. Weights:
    call :func:`broadcast_parameters` once the agent is on its device (NCCL needs CUDA tensors).
    """
    if not ctx.enabled:
        return make()
    from instructed_rl.model.agent import Agent, AgentConfig
    from instructed_rl.model.text.tokenizer import Tokenizer

    agent = make() if ctx.is_main else None
    payload = [(agent.config.to_dict(), agent.tokenizer.to_bytes()) if agent is not None else None]
    dist.broadcast_object_list(payload, src=0)
    if agent is None:
        config_dict, model_bytes = payload[0]
        config = AgentConfig.from_dict(config_dict)
        agent = Agent(config, Tokenizer.from_bytes(model_bytes, max_length=config.text.max_length))
    return agent


def parameter_digest(module: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in name order: equal digests mean identical weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_in_sync(module: torch.nn.Module, ctx: Distributed) -> list[str]:
    """Each rank's parameter digest (on rank 0; [] elsewhere); raises on rank 0 if ranks diverged."""
    if not ctx.enabled:
        return []
    digests = gather_objects(parameter_digest(module), ctx)
    if digests is None:
        return []
    if len(set(digests)) != 1:
        raise RuntimeError(f"data-parallel ranks diverged: parameter digests {digests}")
    return digests
