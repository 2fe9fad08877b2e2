"""Retrieval metrics: Recall@K and median rank over paired embeddings; class-level mAP.

Query ``i`` and gallery item ``i`` are the true pair. The rank of the true match is 1 plus the
number of gallery items scoring strictly higher, plus half the items tied with it (other than
itself), so ties neither help nor hurt on average. When labels exist, every gallery item of the
query's class counts as relevant and average precision is taken over the ranking (tie-aware);
within-modal retrieval ranks a set against itself with each query left out.
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


def average_precision(scores: torch.Tensor, relevant: torch.Tensor) -> float:
    """Tie-aware average precision of one ranked list (McSherry & Najork 2008).

    Items with equal scores form a group whose order is unknown; the result is the expected AP
    over all orders of each group. A relevant item placed uniformly at position ``j`` of a group
    that starts after ``p`` items, with ``c`` relevant items above the group and ``r`` in it, has
    expected precision ``(c + 1 + (j - 1)(r - 1)/(n - 1)) / (p + j)``. Without ties this is the
    usual AP. Returns NaN when nothing is relevant.
    """
    scores = scores.double().cpu()
    relevant = relevant.bool().cpu()
    total = int(relevant.sum())
    if total == 0:
        return float("nan")
    values, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    rel_per_group = torch.zeros(len(values), dtype=torch.float64).index_add_(0, inverse, relevant.double())
    ap, above, rel_above = 0.0, 0, 0.0
    for g in range(len(values) - 1, -1, -1):  # highest score first
        n, r = int(counts[g]), float(rel_per_group[g])
        if r > 0:
            j = torch.arange(1, n + 1, dtype=torch.float64)
            extra = (j - 1) * (r - 1) / (n - 1) if n > 1 else torch.zeros(1, dtype=torch.float64)
            ap += r * float(((rel_above + 1 + extra) / (above + j)).mean())
        above += n
        rel_above += r
    return ap / total


def class_map(sim: torch.Tensor, query_labels: torch.Tensor, gallery_labels: torch.Tensor,
              exclude_self: bool = False) -> float:
    """Class-level mean average precision: a gallery item is relevant when it shares the query's label.

    ``exclude_self`` drops gallery item ``i`` from query ``i``'s list (within-modal retrieval,
    where the query itself is in the gallery). Queries with no relevant item are skipped.
    """
    if sim.ndim != 2 or sim.shape != (len(query_labels), len(gallery_labels)):
        raise ValueError(f"similarity {tuple(sim.shape)} does not match {len(query_labels)} query "
                         f"and {len(gallery_labels)} gallery labels")
    aps = []
    for i in range(sim.shape[0]):
        keep = torch.ones(sim.shape[1], dtype=torch.bool)
        if exclude_self:
            keep[i] = False
        ap = average_precision(sim[i][keep], (gallery_labels == query_labels[i])[keep])
        if ap == ap:
            aps.append(ap)
    return float(sum(aps) / len(aps)) if aps else float("nan")


def precision_at_k(sim: torch.Tensor, query_labels: torch.Tensor, gallery_labels: torch.Tensor,
                   k: int = 1, exclude_self: bool = False) -> float:
    """Mean fraction of the top ``k`` gallery items that share the query's label."""
    sim = sim.clone().float()
    if exclude_self:
        sim.fill_diagonal_(float("-inf"))
    top = sim.topk(min(k, sim.shape[1] - int(exclude_self)), dim=1).indices
    return (gallery_labels[top] == query_labels.unsqueeze(1)).float().mean().item()


def within_modal_metrics(z: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Retrieval of a set against itself (query excluded): class mAP and precision@K."""
    sim = similarity(z, z)
    out = {"mAP": class_map(sim, labels, labels, exclude_self=True)}
    out.update({f"P@{k}": precision_at_k(sim, labels, labels, k, exclude_self=True) for k in ks})
    return out


def chance_map(labels: torch.Tensor, exclude_self: bool = True) -> float:
    """Expected class mAP of a random ranking.

    For ``R`` relevant items among ``N``, ``E[AP] = (H_N + (R - 1)/(N - 1) (N - H_N)) / N`` with
    ``H_N`` the N-th harmonic number: the tie-aware AP of a list in which every score is tied.
    """
    labels = labels.cpu()
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    n = len(labels) - int(exclude_self)
    harmonic = float((1.0 / torch.arange(1, n + 1, dtype=torch.float64)).sum())
    rel = counts.double() - int(exclude_self)
    expected = (harmonic + (rel - 1) / max(n - 1, 1) * (n - harmonic)) / n
    expected[rel <= 0] = float("nan")
    per_query = expected[inverse]
    return float(per_query[~per_query.isnan()].mean())


def labelled_metrics(z: dict[str, torch.Tensor], views: list[str], prefix: str) -> dict[str, float]:
    """Class mAP between every ordered pair of views and within each view."""
    labels = z["label"]
    out = {}
    if labels.numel() == 0 or labels.min() < 0:
        return out
    for a in views:
        for b in views:
            if a != b:
                out[f"{prefix}{a}_to_{b}/class_mAP"] = class_map(similarity(z[a], z[b]), labels, labels)
        for k, v in within_modal_metrics(z[a], labels).items():
            out[f"{prefix}{a}_to_{a}/{k}"] = v
    return out
