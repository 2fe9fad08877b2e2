"""Cross-channel prediction for split-brain autoencoders (Zhang, Isola, Efros, CVPR 2017,
"Split-Brain Autoencoders: Unsupervised Learning by Cross-Channel Prediction").

The network is split by channel into two disjoint halves; each sees one subset of the image's
channels and predicts the other: ``F1: L -> ab`` and ``F2: ab -> L``. Both are trained with a
classification loss (the paper found it better than regression for both directions), and the
objective is their sum,

    L = l_cl(F1(X_L), X_ab) + l_cl(F2(X_ab), X_L).

ab is classified over the in-gamut ab bins of the colorization paper (side 10, each pixel
soft-encoded over its nearest bins: :mod:`multiview.objectives.colorization`), L over equal
bins on ``[0, 100]`` (:func:`l_bin_index`; 50 by default, bins of 2 L units).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multiview.objectives.colorization import colorization_loss

L_MAX = 100.0


def l_bin_index(lightness: torch.Tensor, n_bins: int = 50) -> torch.Tensor:
    """``[B, 1, H, W]`` L* in ``[0, 100]`` -> ``[B, H, W]`` bin indices of ``n_bins`` equal bins."""
    scaled = lightness[:, 0].float() / L_MAX * n_bins
    return scaled.floor().long().clamp(0, n_bins - 1)


def l_bin_centres(n_bins: int = 50) -> torch.Tensor:
    """``[n_bins]`` the L* at the centre of each bin."""
    return (torch.arange(n_bins) + 0.5) * (L_MAX / n_bins)


def split_brain_loss(ab_logits: torch.Tensor, ab_target: torch.Tensor, l_logits: torch.Tensor,
                     l_target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L -> ab loss, ab -> L loss)``, each a per-pixel mean: the soft-encoded ab cross-entropy
    (``ab_logits``, ``ab_target`` ``[B, Q, h, w]``) and the L-bin cross-entropy (``l_logits``
    ``[B, n_bins, h, w]``, ``l_target`` ``[B, h, w]`` indices). The objective is their sum."""
    return colorization_loss(ab_logits, ab_target), F.cross_entropy(l_logits.float(), l_target)
