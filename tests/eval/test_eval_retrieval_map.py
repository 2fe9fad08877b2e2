import pytest
import torch
from sklearn.metrics import average_precision_score

from multiview.eval.metrics.retrieval import (
    average_precision,
    chance_map,
    class_map,
    precision_at_k,
    within_modal_metrics,
)
from tests.eval.test_eval_ranking import brute_force_ap_and_pk


def brute_force_ap(scores, relevant):
    """Mean AP over every order of the tied items (every permutation consistent with scores)."""
    return brute_force_ap_and_pk(scores, relevant, k=1)[0]


def test_ap_hand_computed_without_ties():
    # ranking: rel, non, rel, non -> AP = (1/1 + 2/3) / 2
    assert average_precision(torch.tensor([0.9, 0.8, 0.7, 0.1]), torch.tensor([1, 0, 1, 0])) == pytest.approx(5 / 6)


def test_ap_matches_sklearn_without_ties():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(50, generator=g)
    r = torch.rand(50, generator=g) < 0.3
    assert average_precision(s, r) == pytest.approx(average_precision_score(r.numpy(), s.numpy()))


@pytest.mark.parametrize("scores,relevant", [
    ([0.5, 0.5], [1, 0]),                        # tie of one hit and one miss: (1 + 1/2) / 2
    ([0.9, 0.5, 0.5, 0.5, 0.1], [0, 1, 1, 0, 1]),
    ([1.0, 1.0, 1.0, 1.0], [1, 0, 0, 1]),
    ([0.3, 0.3, 0.8, 0.3, 0.8, 0.0], [1, 0, 1, 1, 0, 0]),
])
def test_ap_ties_equal_mean_over_orders(scores, relevant):
    got = average_precision(torch.tensor(scores), torch.tensor(relevant))
    assert got == pytest.approx(brute_force_ap(scores, relevant))
    if scores == [0.5, 0.5]:
        assert got == pytest.approx(0.75)


def test_class_map_and_within_modal():
    labels = torch.tensor([0, 0, 1, 1])
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    m = within_modal_metrics(z, labels)
    assert m["mAP"] == pytest.approx(1.0) and m["P@1"] == pytest.approx(1.0)
    # swap the classes of the gallery: the nearest item is now always wrong
    sim = z @ z.T
    assert precision_at_k(sim, labels, torch.tensor([1, 1, 0, 0]), k=1) == 0.0
    assert class_map(sim, labels, labels) == pytest.approx(1.0)
    # gallery labels [0, 1, 0, 1]: queries 0 and 1 rank gallery 0 (rel), 1, 3, 2 (rel) -> AP (1 + 2/4) / 2;
    # queries 2 and 3 rank gallery 2, 3 (rel), 1 (rel), 0 -> AP (1/2 + 2/3) / 2
    assert class_map(sim, labels, torch.tensor([0, 1, 0, 1])) == pytest.approx((0.75 + 0.75 + 7 / 12 + 7 / 12) / 4)


def test_chance_map_is_expected_random_ap():
    labels = torch.arange(4).repeat_interleave(5)  # 4 classes x 5
    g = torch.Generator().manual_seed(0)
    runs = [class_map(torch.rand(20, 20, generator=g), labels, labels, exclude_self=True) for _ in range(200)]
    assert sum(runs) / len(runs) == pytest.approx(chance_map(labels, exclude_self=True), abs=0.01)
    # the all-tied ranking gives exactly the expectation
    assert class_map(torch.zeros(20, 20), labels, labels, exclude_self=True) == pytest.approx(chance_map(labels))
