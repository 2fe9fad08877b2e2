"""Ranking metrics under ties and non-finite scores, against brute force over every tie-break.

The reference enumerates every order of a list consistent with its scores (ties in any order,
each order equally likely, which is what uniform random tie-breaking gives), with the rules of
:mod:`multiview.eval.metrics.ranking` written as plain sort keys: a non-finite score ranks
below every finite one, and the item being ranked, when non-finite, below everything else.
"""

import itertools
import math
import statistics

import pytest
import torch

from multiview.eval.metrics.knn import knn_scores, knn_top1
from multiview.eval.metrics.ranking import median, top_indices
from multiview.eval.metrics.retrieval import (
    average_precision,
    chance_metrics,
    precision_at_k,
    retrieval_metrics,
    similarity,
    true_match_ranks,
)


def sort_key(score: float, is_target: bool) -> tuple:
    if math.isfinite(score):
        return (1, score)
    return (-1, 0.0) if is_target else (0, 0.0)


def consistent_orders(keys: list[tuple]):
    """Every permutation of the items whose keys do not increase along it."""
    for perm in itertools.permutations(range(len(keys))):
        if all(keys[perm[i]] >= keys[perm[i + 1]] for i in range(len(perm) - 1)):
            yield perm


def brute_force_row(scores: list[float], target: int, ks) -> tuple[float, dict[int, float]]:
    """Expected 1-based rank of ``target`` and P(rank <= k) over all tie-breaks."""
    keys = [sort_key(s, j == target) for j, s in enumerate(scores)]
    positions = [perm.index(target) + 1 for perm in consistent_orders(keys)]
    return (sum(positions) / len(positions), {k: sum(p <= k for p in positions) / len(positions) for k in ks})


def brute_force_ap_and_pk(scores: list[float], relevant: list[bool], k: int) -> tuple[float, float]:
    keys = [sort_key(s, bool(r)) for s, r in zip(scores, relevant)]
    aps, pks = [], []
    for perm in consistent_orders(keys):
        hits, total = 0, 0.0
        for rank, i in enumerate(perm, 1):
            if relevant[i]:
                hits += 1
                total += hits / rank
        aps.append(total / sum(relevant))
        pks.append(sum(relevant[i] for i in perm[:k]) / k)
    return sum(aps) / len(aps), sum(pks) / len(pks)


def tied_matrix(n: int, seed: int, nan_fraction: float = 0.15) -> torch.Tensor:
    """Scores from {0, 1, 2} (many ties) with some NaN and inf entries."""
    g = torch.Generator().manual_seed(seed)
    sim = torch.randint(0, 3, (n, n), generator=g).float()
    odd = torch.rand(n, n, generator=g)
    sim[odd < nan_fraction] = float("nan")
    sim[(odd >= nan_fraction) & (odd < nan_fraction + 0.05)] = float("inf")
    return sim


def test_collapsed_embedding_scores_chance():
    z = torch.ones(9, 4)  # every similarity equal: was R@5 = 1.0 with 9 items
    m = retrieval_metrics(similarity(z, z), ks=(1, 5, 10))
    for k in (1, 5, 10):
        assert m[f"R@{k}"] == pytest.approx(min(k, 9) / 9)
    assert m == pytest.approx(chance_metrics(9, ks=(1, 5, 10)))


@pytest.mark.parametrize("seed", range(4))
def test_recall_and_rank_match_brute_force(seed):
    sim = tied_matrix(6, seed)
    ks = (1, 2, 5)
    ref = [brute_force_row(sim[i].tolist(), i, ks) for i in range(6)]
    torch.testing.assert_close(true_match_ranks(sim), torch.tensor([r for r, _ in ref]), check_dtype=False)
    m = retrieval_metrics(sim, ks)
    for k in ks:
        assert m[f"R@{k}"] == pytest.approx(sum(p[k] for _, p in ref) / 6)
    assert m["median_rank"] == pytest.approx(statistics.median(r for r, _ in ref))


def test_median_is_conventional_for_even_counts():
    sim = torch.tensor([[4.0, 3, 2, 1], [4, 3, 2, 1], [4, 3, 2, 1], [4, 3, 2, 1]])  # ranks 1, 2, 3, 4
    assert retrieval_metrics(sim)["median_rank"] == 2.5
    assert median(torch.tensor([5.0, 1.0, 3.0])) == 3.0
    assert median(torch.tensor([4.0, 1.0, 3.0, 2.0, 10.0, 0.0])) == statistics.median([4, 1, 3, 2, 10, 0])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_embeddings_rank_last(bad):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 4, generator=g)
    worst = retrieval_metrics(similarity(torch.full((8, 4), bad), z), ks=(1, 5))
    assert worst == {"R@1": 0.0, "R@5": 0.0, "median_rank": 8.0, "mean_rank": 8.0}
    # one broken gallery item: its own query gets the worst rank, no other query is pushed down
    gallery = z.clone()
    gallery[3] = bad
    ranks = true_match_ranks(similarity(z, gallery))
    assert ranks[3] == 8.0
    assert torch.equal(ranks[torch.arange(8) != 3], torch.ones(7, dtype=torch.float64))


@pytest.mark.parametrize("scores,relevant,k", [
    ([0.5, float("nan"), 0.5, 0.2, float("nan")], [1, 1, 0, 0, 0], 2),
    ([float("nan"), float("inf"), 0.1, 0.1, 0.1], [0, 1, 1, 0, 1], 3),
    ([0.3, 0.3, 0.3, 0.3, 0.3, 0.3], [1, 0, 0, 1, 0, 0], 4),
    ([float("nan")] * 4, [0, 1, 0, 0], 1),
])
def test_ap_and_precision_match_brute_force(scores, relevant, k):
    ap, pk = brute_force_ap_and_pk(scores, relevant, k)
    assert average_precision(torch.tensor(scores), torch.tensor(relevant)) == pytest.approx(ap)
    sim = torch.tensor([scores])
    assert precision_at_k(sim, torch.tensor([1]), torch.tensor(relevant), k=k) == pytest.approx(pk)


def test_precision_at_k_with_ties_and_self_excluded():
    sim = tied_matrix(5, seed=7)
    labels = torch.tensor([0, 1, 0, 1, 0])
    expected = []
    for i in range(5):
        keep = [j for j in range(5) if j != i]
        expected.append(brute_force_ap_and_pk([sim[i, j].item() for j in keep],
                                              [int(labels[j] == labels[i]) for j in keep], 2)[1])
    assert precision_at_k(sim, labels, labels, k=2, exclude_self=True) == pytest.approx(sum(expected) / 5)


def test_knn_votes_share_tied_places():
    # similarities to the query 0.9, 0.5, 0.5, 0.5, 0.1: with k = 2 the three tied items share one place
    s = torch.tensor([0.9, 0.5, 0.5, 0.5, 0.1])
    train = torch.stack([s, (1 - s**2).sqrt()], 1)
    y = torch.tensor([0, 1, 1, 0, 1])
    keys = [sort_key(v, False) for v in s.tolist()]
    ref = torch.zeros(2, dtype=torch.float64)
    orders = list(consistent_orders(keys))
    for perm in orders:
        for i in perm[:2]:
            ref[y[i]] += math.exp(s[i].item() / 0.5) / len(orders)
    votes = knn_scores(train, y, torch.tensor([[1.0, 0.0]]), k=2, temperature=0.5, n_classes=2)
    torch.testing.assert_close(votes[0].double(), ref, rtol=1e-5, atol=1e-6)


def test_knn_non_finite_features_never_win():
    train = torch.tensor([[1.0, 0.0], [float("nan"), 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    votes = knn_scores(train, y, torch.tensor([[1.0, 0.1]]), k=1, temperature=0.1, n_classes=2)
    assert votes[0, 1] == 0 and votes[0, 0] > 0
    # a NaN query has no neighbour: counted wrong whatever its label
    assert knn_top1(train, y, torch.full((1, 2), float("nan")), torch.tensor([0]), k=1) == 0.0


def test_top_indices_put_non_finite_last():
    scores = torch.tensor([0.2, float("nan"), 0.9, float("inf"), 0.5])
    assert top_indices(scores, 3).tolist() == [2, 4, 0]
