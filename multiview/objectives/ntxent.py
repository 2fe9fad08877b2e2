"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020, Eq. 1).

For a batch of ``N`` samples seen as two views, the ``2N`` L2-normalised projections ``z`` are
compared with ``sim(u, v) = u . v / tau``. The loss of the positive pair ``(i, j)`` is

    l(i, j) = -log( exp(sim(z_i, z_j)) / sum_{k != i} exp(sim(z_i, z_k)) ),

so each anchor has its other view as the positive and the ``2N - 2`` other projections as
negatives; the loss is the mean of ``l`` over all ``2N`` anchors (both orders of every pair).

Across ranks, each rank's ``2n`` anchors are compared with the ``2nW`` projections of every rank
(gathered with gradients, :func:`~multiview.objectives.gather.gather_with_grad`), giving
``2nW - 2`` negatives. The candidates are ordered ``[view 1 of ranks 0..W-1, view 2 of ranks
0..W-1]``: local anchor ``i`` of view 1 has its positive at ``nW + rank*n + i`` and itself (masked)
at ``rank*n + i``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multiview.objectives.gather import gather_with_grad, rank_offset


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent of ``[n, D]`` projections of two views, mean over this rank's ``2n`` anchors."""
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"expected two [N, D] tensors of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature: expected a positive number, got {temperature}")
    n = len(z1)
    z1, z2 = F.normalize(z1.float(), dim=1), F.normalize(z2.float(), dim=1)
    g1, g2 = gather_with_grad(z1), gather_with_grad(z2)
    total = len(g1)  # n * world size
    anchors, candidates = torch.cat([z1, z2]), torch.cat([g1, g2])
    logits = anchors @ candidates.T / temperature  # [2n, 2nW]
    local = torch.arange(n, device=z1.device) + rank_offset(n)
    self_idx = torch.cat([local, local + total])
    positive = torch.cat([local + total, local])
    logits[torch.arange(2 * n, device=z1.device), self_idx] = float("-inf")
    return F.cross_entropy(logits, positive)
