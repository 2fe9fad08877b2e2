"""A loss on two gloo processes against the same loss on the global batch in one process."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _rank(rank: int, init: str, loss_fn, z1: torch.Tensor, z2: torch.Tensor, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    half = len(z1) // 2
    a = z1[rank * half:(rank + 1) * half].clone().requires_grad_()
    b = z2[rank * half:(rank + 1) * half].clone().requires_grad_()
    loss = loss_fn(a, b)["loss"]
    loss.backward()
    torch.save({"loss": loss.detach(), "a": a.grad, "b": b.grad}, f"{out}.{rank}")
    dist.destroy_process_group()


def two_ranks_and_one(loss_fn, tmp_path, n: int = 12, dim: int = 5):
    """``(ranks, loss, a, b)``: each rank's ``{"loss", "a", "b"}`` (its loss and the gradients of its
    half of the batch) from two processes, and the one-process ``loss`` of the whole batch with the
    gradients ``a.grad``, ``b.grad``. ``loss_fn(z1, z2)`` returns a dict holding ``"loss"``."""
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(n, dim, generator=g), torch.randn(n, dim, generator=g)
    out = str(tmp_path / "rank")
    mp.spawn(_rank, args=(f"file://{tmp_path / 'init'}", loss_fn, z1, z2, out), nprocs=2)
    ranks = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]
    a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    loss = loss_fn(a, b)["loss"]
    loss.backward()
    return ranks, loss, a, b
