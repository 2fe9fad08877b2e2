"""Rotation prediction (Gidaris, Singh, Komodakis, ICLR 2018, "Unsupervised representation
learning by predicting image rotations").

Every image is shown in all four rotations ``g(X | y) = Rot(X, 90 y)``, ``y`` in {0, 1, 2, 3}
(Sec. 2.2: "we feed all four rotated copies of an image simultaneously"), and the network
classifies the rotation. Eq. 1-2: ``loss(X) = -1/K sum_y log F^y(g(X | y))`` with ``K = 4``,
averaged over the images: the mean cross-entropy over the ``4 B`` rotated copies.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

N_ROTATIONS = 4


def rotate_all(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rotated [4B, C, H, W], rotations [4B])``: copy ``k`` of the batch turned by ``90 k``
    degrees counter-clockwise (``torch.rot90`` over H, W); copies stacked rotation-major."""
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"rotation needs square images, got {tuple(images.shape[-2:])}")
    rotated = torch.cat([torch.rot90(images, k, dims=(-2, -1)) for k in range(N_ROTATIONS)])
    target = torch.arange(N_ROTATIONS, device=images.device).repeat_interleave(len(images))
    return rotated, target


def rotation_loss(logits: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Eq. 2: mean over rotated copies of ``-log softmax(logits)[rotation]``."""
    return F.cross_entropy(logits, rotations)
