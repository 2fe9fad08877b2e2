"""Ranking under ties and non-finite scores: the one place where eval metrics order scores.

Every ranking metric in ``multiview.eval`` (R@K, median rank, class mAP, P@K, kNN votes, the
top items a report shows) follows three rules:

1. **Non-finite scores rank last.** NaN and +-inf scores come below every finite score
   (:func:`ranking_scores`). A NaN or inf embedding gives NaN cosine similarities, so it can
   never win a retrieval.
2. **A non-finite item being ranked takes the worst place.** When the item whose rank is
   measured (a true match, a relevant item) has a non-finite score, it is placed below every
   other item, the other non-finite ones included: a query whose embedding is NaN gets rank N,
   so an all-NaN embedding scores R@1 = 0, not chance.
3. **Finite ties are broken uniformly at random, and metrics report the expectation** over
   the tie-breaks (McSherry & Najork 2008, "Computing Information Retrieval Performance
   Measures Efficiently in the Presence of Tied Scores"). An item tied with ``t`` others below
   ``h`` strictly better ones is equally likely at each place ``h + 1 .. h + t + 1``: its
   expected rank is ``h + 1 + t / 2`` and ``P(rank <= K) = clip((K - h) / (t + 1), 0, 1)``. A
   collapsed embedding, every score equal, thus scores chance: R@K = K/N, rank (N + 1)/2.
"""

from __future__ import annotations

import torch


def ranking_scores(scores: torch.Tensor) -> torch.Tensor:
    """Copy of ``scores`` (floating point) with every non-finite value set to -inf, below every finite one."""
    s = scores.detach() if scores.is_floating_point() else scores.detach().double()
    return torch.where(torch.isfinite(s), s, torch.full_like(s, float("-inf")))


def target_ranks(scores: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(higher, tied)`` for the item ``target[i]`` of each row ``i`` of ``scores`` ``[q, n]``.

    ``higher`` counts the items scoring strictly above the target, ``tied`` the other items
    scoring the same; a non-finite target score gives ``(n - 1, 0)``, the worst place.
    """
    s = ranking_scores(scores)
    true = s.gather(1, target.long().view(-1, 1).to(s.device))
    higher = (s > true).sum(1)
    tied = (s == true).sum(1) - 1
    worst = ~torch.isfinite(true.squeeze(1))
    higher = torch.where(worst, torch.full_like(higher, s.shape[1] - 1), higher)
    tied = torch.where(worst, torch.zeros_like(tied), tied)
    return higher.cpu().double(), tied.cpu().double()


def expected_rank(higher: torch.Tensor, tied: torch.Tensor) -> torch.Tensor:
    """1-based rank expected under random tie-breaking: ``1 + higher + tied / 2``."""
    return 1.0 + higher + 0.5 * tied


def recall_at_k(higher: torch.Tensor, tied: torch.Tensor, k: int) -> torch.Tensor:
    """Probability, under random tie-breaking, that the target ranks within the top ``k``."""
    return ((k - higher) / (tied + 1.0)).clamp(0.0, 1.0)


def tie_groups(scores: torch.Tensor, relevant: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Groups of tied items of one ranked list, best first: ``(sizes, relevant counts)``.

    Finite scores form one group per distinct value; then come the irrelevant non-finite items
    (one group), then the relevant non-finite ones (one group, the worst places).
    """
    scores, relevant = scores.detach().cpu().double(), relevant.detach().cpu().bool()
    finite = torch.isfinite(scores)
    values, inverse, counts = torch.unique(scores[finite], sorted=True, return_inverse=True, return_counts=True)
    hits = torch.zeros(len(values), dtype=torch.float64).index_add_(0, inverse, relevant[finite].double())
    bad_hits = float((relevant & ~finite).sum())
    tail_sizes = torch.tensor([float((~finite).sum()) - bad_hits, bad_hits], dtype=torch.float64)
    tail_hits = torch.tensor([0.0, bad_hits], dtype=torch.float64)
    sizes = torch.cat([counts.double().flip(0), tail_sizes])
    hits = torch.cat([hits.flip(0), tail_hits])
    keep = sizes > 0
    return sizes[keep], hits[keep]


def expected_hits_at_k(sizes: torch.Tensor, hits: torch.Tensor, k: int) -> float:
    """Expected number of relevant items in the top ``k`` of a list given by :func:`tie_groups`."""
    above = torch.cumsum(sizes, 0) - sizes
    return float((hits * ((k - above) / sizes).clamp(0.0, 1.0)).sum())


def topk_inclusion(scores: torch.Tensor, k: int) -> torch.Tensor:
    """``[q, n]`` probability that each item is among its row's top ``k`` under random tie-breaking.

    Items strictly above the ``k``-th best score are in (1); the items tied with it share the
    remaining places; non-finite scores rank last.
    """
    s = ranking_scores(scores)
    k = min(k, s.shape[1])
    kth = s.topk(k, dim=1).values[:, -1:]
    above, tied = s > kth, s == kth
    share = (k - above.sum(1, keepdim=True)) / tied.sum(1, keepdim=True)
    return above.to(s.dtype) + tied.to(s.dtype) * share.to(s.dtype)


def top_indices(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` best entries along the last dimension, non-finite ones last (for display)."""
    return ranking_scores(scores).topk(min(k, scores.shape[-1])).indices


def median(values: torch.Tensor) -> float:
    """Conventional median: the middle value, or the mean of the two middle values for an even count."""
    v = values.detach().double().flatten().sort().values
    n = len(v)
    if n == 0:
        return float("nan")
    return float((v[(n - 1) // 2] + v[n // 2]) / 2)
