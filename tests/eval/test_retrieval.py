import pytest
import torch

from multiview.eval.metrics.retrieval import chance_metrics, retrieval_metrics, true_match_ranks


def test_ranks_hand_computed():
    sim = torch.tensor([[0.9, 0.1, 0.2],   # true match best -> rank 1
                        [0.8, 0.5, 0.7],   # two higher -> rank 3
                        [0.1, 0.6, 0.4]])  # one higher -> rank 2
    assert true_match_ranks(sim).tolist() == [1.0, 3.0, 2.0]
    m = retrieval_metrics(sim, ks=(1, 2))
    assert m["R@1"] == pytest.approx(1 / 3)
    assert m["R@2"] == pytest.approx(2 / 3)
    assert m["median_rank"] == 2.0


def test_ties_count_half():
    sim = torch.ones(4, 4)  # every item tied: expected rank (n + 1) / 2
    assert true_match_ranks(sim).tolist() == [2.5] * 4
    sim = torch.tensor([[0.5, 0.5, 0.1], [0.0, 1.0, 0.0], [0.3, 0.9, 0.3]])
    assert true_match_ranks(sim).tolist() == [1.5, 1.0, 2.5]


def test_random_embeddings_near_chance():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(400, 32, generator=g), torch.randn(400, 32, generator=g)
    sim = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(k, dim=1).T
    m, c = retrieval_metrics(sim), chance_metrics(400)
    assert abs(m["R@10"] - c["R@10"]) < 0.03
    assert abs(m["median_rank"] - c["median_rank"]) < 40


def test_non_square_rejected():
    with pytest.raises(ValueError, match="square"):
        true_match_ranks(torch.zeros(2, 3))
