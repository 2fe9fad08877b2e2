"""Barlow Twins: redundancy reduction of a cross-correlation matrix (Zbontar, Jing, Misra, LeCun,
Deny, ICML 2021, Sec. 2).

For two batches of embeddings ``Z^A, Z^B`` (``n`` samples, ``d`` dimensions) of two views of the
same images, each normalised along the batch (mean 0, standard deviation 1 per dimension), the
cross-correlation matrix is

    C_ij = sum_b z^A_{b,i} z^B_{b,j} / ( sqrt(sum_b (z^A_{b,i})^2) sqrt(sum_b (z^B_{b,j})^2) )   (Eq. 2)

and the loss drives it to the identity:

    L_BT = sum_i (1 - C_ii)^2 + lambda sum_i sum_{j != i} C_ij^2                            (Eq. 1)

with ``lambda = 5e-3`` (Sec. 4, "lambda = 5 . 10^-3"). As in the authors' code
(facebookresearch/barlowtwins, ``main.py``) the normalisation is a BatchNorm without affine
parameters (biased variance, ``eps = 1e-5``) and ``C = bn(Z^A)^T bn(Z^B) / n``.

Across GPUs the authors' code normalises with SyncBatchNorm and sums ``C`` over devices with an
``all_reduce`` that carries no gradient (so each device's gradient is that of its own share of
``C``, and DDP's averaging then scales the whole by ``1 / world_size``). Here both batches are
gathered with their gradients (:func:`~multiview.objectives.gather.gather_with_grad`) and ``C`` is
computed on the global batch: the same loss, and, with DDP's averaging, exactly its gradient.
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.objectives.gather import gather_with_grad


def batch_normalise(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``(z - mean) / sqrt(var + eps)`` per dimension over the batch (BatchNorm1d, affine=False)."""
    return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + eps)


def cross_correlation(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``C`` of Eq. 2, ``[d, d]``: of the batch-normalised embeddings, averaged over the batch."""
    return batch_normalise(z1, eps).T @ batch_normalise(z2, eps) / len(z1)


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 5e-3,
                      eps: float = 1e-5) -> dict[str, torch.Tensor]:
    """Barlow Twins' loss (Eq. 1) of two ``[n, d]`` batches of embeddings (``n >= 2`` over all devices).

    Returns ``{"loss": on_diag + lambd * off_diag, "on_diag": sum_i (1 - C_ii)^2, "off_diag":
    sum_{i != j} C_ij^2}``.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"expected two [N, D] tensors of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    dtype = torch.promote_types(z1.dtype, torch.float32)  # half precision (autocast) computed in float32
    g1, g2 = gather_with_grad(z1.to(dtype)), gather_with_grad(z2.to(dtype))
    if len(g1) < 2:
        raise UserError(f"data.batch_size: Barlow Twins needs two or more samples per batch, got {len(g1)}")
    c = cross_correlation(g1, g2, eps)
    diagonal = c.diagonal()
    on_diag = (1 - diagonal).pow(2).sum()
    off_diag = c.pow(2).sum() - diagonal.pow(2).sum()
    return {"loss": on_diag + lambd * off_diag, "on_diag": on_diag, "off_diag": off_diag}
