"""2-D maps of features: t-SNE (van der Maaten & Hinton 2008) and how well a map keeps labels together."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.manifold import TSNE


def tsne_2d(features: torch.Tensor, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """``[n, 2]`` t-SNE embedding of standardised features (PCA initialisation)."""
    x = features.double().numpy()
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    perplexity = min(perplexity, max(2.0, (len(x) - 1) / 3))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def neighbour_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Fraction of each point's ``k`` nearest 2-D neighbours sharing its label."""
    d = ((points[:, None] - points[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn_idx = np.argsort(d, axis=1)[:, :k]
    return float((labels[nn_idx] == labels[:, None]).mean())
