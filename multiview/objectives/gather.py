"""Gathering embeddings across ranks with gradients that flow back to every rank.

``all_gather`` has no gradient. :class:`GatherWithGrad` returns the concatenation of every
rank's tensor; in backward each rank receives the *sum over ranks* of the gradients with respect
to its own slice (an all-reduce). Combined with DDP's averaging of parameter gradients, the
result equals the gradient of the loss averaged over the global batch, with no stray
``1 / world_size`` factor (the bug SimCLR/lightly users reported).
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (same shape on every rank) from all ranks, rank order; identity if alone."""
    return GatherWithGrad.apply(x) if is_distributed() else x


@torch.no_grad()
def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    if not is_distributed():
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def rank_offset(n_local: int) -> int:
    """Index of this rank's first sample in the gathered batch."""
    return dist.get_rank() * n_local if is_distributed() else 0
