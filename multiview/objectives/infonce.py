"""In-batch InfoNCE between views (Oord et al. 2018; Tian, Krishnan, Isola 2020, Eq. 2-3).

For L2-normalised embeddings ``z1``, ``z2`` of ``N`` paired samples, the critic is
``h(i, j) = exp(z1_i . z2_j / tau)`` and the loss for anchor view 1 is

    L_{1->2} = -1/N sum_i log( h(i, i) / sum_j h(i, j) ),

i.e. cross-entropy over the batch with the true pair as the target. The symmetric loss of CMC
averages both directions: ``L = (L_{1->2} + L_{2->1}) / 2``. With several views, CMC sums the
pairwise losses over a graph (Sec. 3.3): *core view* (every view with one anchor view) or
*full graph* (every pair), each pair optionally weighted.

Across ranks, each rank's anchors are contrasted with the candidates of *all* ranks (gathered
with gradients); the true pair of local anchor ``i`` sits at ``rank * N + i`` in the gathered
batch.
"""

from __future__ import annotations

from itertools import combinations

import torch
import torch.nn.functional as F

from multiview.objectives.gather import gather_with_grad, rank_offset


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.07,
             symmetric: bool = True) -> torch.Tensor:
    """Symmetric (or ``1 -> 2`` only) InfoNCE over ``[N, D]`` paired embeddings.

    Under DDP the candidates are gathered from every rank; the loss is the mean over this rank's
    anchors (DDP's gradient averaging then gives the global-batch gradient).
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"expected two [N, D] tensors of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    z1 = F.normalize(z1.float(), dim=1)
    z2 = F.normalize(z2.float(), dim=1)
    all1, all2 = gather_with_grad(z1), gather_with_grad(z2)
    target = torch.arange(len(z1), device=z1.device) + rank_offset(len(z1))
    loss = F.cross_entropy(z1 @ all2.T / temperature, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(z2 @ all1.T / temperature, target))
    return loss


def view_pairs(views: list[str], graph: str = "full", anchor: str | None = None) -> list[tuple[str, str]]:
    """The pairs CMC contrasts: ``full`` = every pair; ``core`` = each view with ``anchor``."""
    if graph == "full":
        return list(combinations(views, 2))
    if graph == "core":
        anchor = anchor or views[0]
        if anchor not in views:
            raise ValueError(f"anchor view {anchor!r} is not among the views {views}")
        return [(anchor, v) for v in views if v != anchor]
    raise ValueError(f"graph: expected 'full' or 'core', got {graph!r}")


def multiview_info_nce(z: dict[str, torch.Tensor], pairs: list[tuple[str, str]], temperature: float,
                       weights: dict[tuple[str, str], float] | None = None
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum of symmetric pairwise InfoNCE losses; also returns each pair's loss."""
    per_pair = {f"{a}-{b}": info_nce(z[a], z[b], temperature) for a, b in pairs}
    weights = weights or {}
    total = sum(weights.get((a, b), 1.0) * per_pair[f"{a}-{b}"] for a, b in pairs)
    return total, per_pair
