"""Representational similarity: RDMs, their Spearman correlation, and linear CKA.

- A representational dissimilarity matrix (Kriegeskorte, Mur & Bandettini 2008, "Representational
  similarity analysis") holds ``1 - Pearson r`` between the activity patterns of every pair of
  stimuli; two representations are compared by the Spearman correlation of their RDMs' upper
  triangles (rank-based, so any monotone change of the dissimilarity scale leaves it unchanged).
- Linear centred kernel alignment (Kornblith, Norouzi, Lee & Hinton 2019, Eq. 5):
  ``CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` for column-centred ``X [n, p]`` and
  ``Y [n, q]``; invariant to orthogonal transforms and isotropic scaling, not to arbitrary
  invertible linear maps.

``multiview eval rsa --checkpoint RUN --data DATA`` compares every layer of the trained encoder
with every layer of the same architecture at random init (or of ``--other RUN2``), writing
``rsa.json``, ``cka.png`` and ``rdm.png``.
"""

from __future__ import annotations

import torch
from scipy.stats import spearmanr


def rdm(features: torch.Tensor) -> torch.Tensor:
    """``[n, n]`` matrix of ``1 - Pearson r`` between the rows (stimuli) of ``features [n, d]``."""
    x = features.reshape(len(features), -1).double()
    x = x - x.mean(1, keepdim=True)
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (1.0 - x @ x.T).clamp_min(0.0).fill_diagonal_(0.0)


def upper(m: torch.Tensor) -> torch.Tensor:
    i, j = torch.triu_indices(len(m), len(m), offset=1)
    return m[i, j]


def rdm_similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman correlation between the upper triangles of two RDMs over the same stimuli."""
    if a.shape != b.shape:
        raise ValueError(f"RDMs must cover the same stimuli, got {tuple(a.shape)} and {tuple(b.shape)}")
    return float(spearmanr(upper(a).cpu().numpy(), upper(b).cpu().numpy()).statistic)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA between ``x [n, p]`` and ``y [n, q]`` (Kornblith et al. 2019, Eq. 5)."""
    x = x.reshape(len(x), -1).double()
    y = y.reshape(len(y), -1).double()
    if len(x) != len(y):
        raise ValueError(f"CKA needs the same examples in both, got {len(x)} and {len(y)}")
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = (y.T @ x).norm() ** 2
    return float(cross / ((x.T @ x).norm() * (y.T @ y).norm()).clamp_min(1e-12))


def cka_matrix(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.tensor([[linear_cka(a[i], b[j]) for j in b] for i in a])
