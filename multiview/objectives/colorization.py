"""Colorization as classification over quantised ab colours (Zhang, Isola, Efros, ECCV 2016).

Sec. 2.1 of "Colorful Image Colorization": the ab plane is quantised into bins of side 10, of
which the Q in the sRGB gamut are kept (:func:`ab_bins`; the paper counts 313 with its
conversion, ours keeps the bins that some sRGB colour falls in). A pixel's ab is soft-encoded
over its 5 nearest bins, weighted by a Gaussian of sigma 5 (:func:`soft_encode`). The loss is
Eq. 2, the multinomial cross-entropy with class rebalancing,

    L(Z^, Z) = - sum_{h,w} v(Z_{h,w}) sum_q Z_{h,w,q} log Z^_{h,w,q},   v(Z_{h,w}) = w_{q*},

with the weights of Eq. 3-4, ``w ∝ ((1 - lambda) p~ + lambda / Q)^-1`` normalised so that
``E_p~[w] = 1``, where ``p~`` is the empirical ab distribution of the training pixels smoothed
by a Gaussian of sigma 5 (:func:`ab_prior`, :func:`rebalance_weights`). Decoding is the annealed
mean of Eq. 5, ``H(Z) = E[f_T(Z)]`` with ``f_T(z) = exp(log z / T) / sum exp(log z / T)``,
T = 0.38 (:func:`annealed_mean`).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from multiview.views.channels import _RGB_TO_XYZ, _WHITE, rgb_to_lab


@lru_cache(maxsize=4)
def _bins(grid: float, levels: int) -> torch.Tensor:
    v = torch.linspace(0, 1, levels)
    rgb = torch.stack(torch.meshgrid(v, v, v, indexing="ij")).reshape(1, 3, -1, 1)
    ab = rgb_to_lab(rgb)[0, 1:, :, 0].T
    cells = torch.unique(torch.round(ab / grid).long(), dim=0)
    return cells.float() * grid


def ab_bins(grid: float = 10.0, levels: int = 64) -> torch.Tensor:
    """``[Q, 2]`` centres (multiples of ``grid``) of the ab bins that some sRGB colour falls in,
    found by converting a ``levels``^3 grid of sRGB colours to L*a*b*."""
    return _bins(float(grid), int(levels)).clone()


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* ``[B, 3, H, W]`` -> sRGB in [0, 1] (clipped): the inverse of ``views.rgb_to_lab``."""
    L, a, b = lab[:, 0].float(), lab[:, 1].float(), lab[:, 2].float()
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], 1)
    delta = 6 / 29
    xyz = torch.where(f > delta, f ** 3, 3 * delta ** 2 * (f - 4 / 29))
    xyz = xyz * _WHITE.to(lab.device).view(1, 3, 1, 1)
    linear = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB_TO_XYZ).to(lab.device), xyz)
    linear = linear.clamp(0, 1)
    rgb = torch.where(linear > 0.0031308, 1.055 * linear.clamp_min(1e-12) ** (1 / 2.4) - 0.055, 12.92 * linear)
    return rgb.clamp(0, 1)


def _pixels(ab: torch.Tensor) -> torch.Tensor:
    return ab.permute(0, 2, 3, 1).reshape(-1, 2).float()


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, k: int = 5, sigma: float = 5.0) -> torch.Tensor:
    """``[B, 2, H, W]`` ab -> ``[B, Q, H, W]``: Gaussian weights on the ``k`` nearest bins, summing to 1."""
    n, _, h, w = ab.shape
    d2 = torch.cdist(_pixels(ab), bins.float()).pow(2)
    near, idx = d2.topk(k, dim=1, largest=False)
    weight = torch.softmax(-near / (2 * sigma ** 2), dim=1)
    z = torch.zeros_like(d2).scatter_(1, idx, weight)
    return z.view(n, h, w, -1).permute(0, 3, 1, 2)


def bin_counts(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """``[Q]``: how many pixels of ``ab`` have each bin as their nearest."""
    nearest = torch.cdist(_pixels(ab), bins.float()).argmin(1)
    return torch.bincount(nearest, minlength=len(bins)).float()


def ab_prior(counts: torch.Tensor, bins: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """``p~``: bin frequencies smoothed by a Gaussian of ``sigma`` over the ab plane, summing to 1."""
    kernel = torch.exp(-torch.cdist(bins.float(), bins.float()).pow(2) / (2 * sigma ** 2))
    p = kernel @ (counts.float() / counts.sum().clamp_min(1))
    return p / p.sum()


def rebalance_weights(prior: torch.Tensor, lam: float = 0.5) -> torch.Tensor:
    """Eq. 4: ``w ∝ ((1 - lambda) p~ + lambda / Q)^-1``, scaled so that ``sum_q p~_q w_q = 1``."""
    w = 1.0 / ((1 - lam) * prior + lam / len(prior))
    return w / (prior * w).sum()


def colorization_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 2 averaged over pixels: ``logits`` and soft ``target`` ``[B, Q, H, W]``; ``weights`` ``[Q]``
    (None: no rebalancing) picked at each pixel's most likely target bin."""
    ce = -(target * F.log_softmax(logits.float(), dim=1)).sum(1)
    if weights is not None:
        ce = ce * weights[target.argmax(1)]
    return ce.mean()


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float = 0.38) -> torch.Tensor:
    """Eq. 5: ``[B, Q, H, W]`` logits -> ``[B, 2, H, W]`` ab, the mean of the distribution
    re-normalised at ``temperature`` (``softmax(log z / T)`` = ``softmax(logits / T)``)."""
    p = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", p, bins.float().to(p.device))
