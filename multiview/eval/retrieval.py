"""Cross-modal retrieval metrics: Recall@K and median rank over paired embeddings.

Query ``i`` and gallery item ``i`` are the true pair. The rank of the true match is 1 plus the
number of gallery items scoring strictly higher, plus half the items tied with it (other than
itself), so ties neither help nor hurt on average.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def similarity(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """Cosine similarity matrix ``[n_query, n_gallery]``."""
    return F.normalize(query.float(), dim=-1) @ F.normalize(gallery.float(), dim=-1).T


def true_match_ranks(sim: torch.Tensor) -> torch.Tensor:
    """1-based rank of the diagonal entry in each row of a square similarity matrix."""
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"similarity must be square [n, n], got {tuple(sim.shape)}")
    true = sim.diagonal().unsqueeze(1)
    higher = (sim > true).sum(1)
    ties = (sim == true).sum(1) - 1
    return 1.0 + higher.float() + 0.5 * ties.float()


def retrieval_metrics(sim: torch.Tensor, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """``R@K`` (fraction of queries whose true match ranks within K) and median rank."""
    ranks = true_match_ranks(sim)
    out = {f"R@{k}": (ranks <= k).float().mean().item() for k in ks}
    out["median_rank"] = ranks.median().item()
    return out


def chance_metrics(n: int, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Expected metrics for a random ranking of ``n`` gallery items."""
    out = {f"R@{k}": min(k, n) / n for k in ks}
    out["median_rank"] = (n + 1) / 2
    return out
