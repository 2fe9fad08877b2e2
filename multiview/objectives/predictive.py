"""Predicting one view's code from another with no negatives: BYOL (Grill et al. 2020) and
SimSiam (Chen & He 2021), the modern form of de Sa's (1994) multiview self-supervision.

BYOL, Eq. 2: the online prediction ``q`` of view 1 regresses the target projection ``z'`` of
view 2 (momentum network, no gradient), both L2-normalised,

    L = || q / ||q|| - z' / ||z'|| ||^2 = 2 - 2 cos(q, z'),

symmetrised over the two views (Eq. 3). SimSiam, Eq. 1-2: ``D(p, z) = -cos(p, stopgrad(z))``,
``L = D(p1, z2) / 2 + D(p2, z1) / 2`` with the target from the same network. Both are the
negative cosine below, up to the affine map BYOL's ``2 - 2 cos`` applies.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``-mean_i cos(p_i, z_i)`` with no gradient through ``z`` (SimSiam's ``D``)."""
    if p.shape != z.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and target {tuple(z.shape)} differ in shape")
    return -F.cosine_similarity(p.float(), z.detach().float(), dim=-1).mean()


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL's ``mean_i || p_i/|p_i| - z_i/|z_i| ||^2 = 2 - 2 cos`` (Eq. 2), no gradient through ``z``."""
    return 2 + 2 * negative_cosine(p, z)
