"""In-batch InfoNCE between two views (Oord et al. 2018; Tian, Krishnan, Isola 2020, Eq. 2-3).

For L2-normalised embeddings ``z1``, ``z2`` of ``N`` paired samples, the critic is
``h(i, j) = exp(z1_i . z2_j / tau)`` and the loss for anchor view 1 is

    L_{1->2} = -1/N sum_i log( h(i, i) / sum_j h(i, j) ),

i.e. cross-entropy over the batch with the true pair as the target. The symmetric loss of CMC
averages both directions: ``L = (L_{1->2} + L_{2->1}) / 2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.07,
             symmetric: bool = True) -> torch.Tensor:
    """Symmetric (or ``1 -> 2`` only) InfoNCE over ``[N, D]`` paired embeddings."""
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"expected two [N, D] tensors of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    z1 = F.normalize(z1.float(), dim=1)
    z2 = F.normalize(z2.float(), dim=1)
    logits = z1 @ z2.T / temperature
    target = torch.arange(len(z1), device=z1.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, target))
    return loss
