import pytest
import torch

from multiview.eval.metrics.knn import knn_eval, knn_scores, knn_top1
from multiview.eval.metrics.linear import linear_probe


def blobs(n_per_class: int, n_classes: int = 5, dim: int = 16, spread: float = 0.3, seed: int = 0):
    """Gaussian clusters around well-separated random centres."""
    g = torch.Generator().manual_seed(seed)
    centres = 3.0 * torch.randn(n_classes, dim, generator=g)
    y = torch.arange(n_classes).repeat_interleave(n_per_class)
    x = centres[y] + spread * torch.randn(len(y), dim, generator=g)
    perm = torch.randperm(len(y), generator=g)
    return x[perm], y[perm]


def splits(shuffle_labels: bool = False):
    x, y = blobs(120)
    if shuffle_labels:
        y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(1))]
    return x[:300], y[:300], x[300:400], y[300:400], x[400:], y[400:]


def test_probe_separable_near_perfect():
    r = linear_probe(*splits())
    assert r["top1"] > 0.98 and r["val_top1"] > 0.98


def test_probe_shuffled_labels_near_chance():
    r = linear_probe(*splits(shuffle_labels=True))
    assert abs(r["top1"] - 0.2) < 0.12  # 5 classes, 200 test points


def test_probe_chooses_regularisation_on_validation():
    # one informative dimension among many noisy ones: weak regularisation overfits the
    # 40 training points, so the chosen C must be below the largest in the grid
    g = torch.Generator().manual_seed(3)
    y = torch.arange(2).repeat(200)
    x = torch.randn(400, 200, generator=g)
    x[:, 0] += 1.5 * (2 * y - 1)
    r = linear_probe(x[:40], y[:40], x[40:200], y[40:200], x[200:], y[200:], c_grid=(1e-3, 1e-2, 1e-1, 10.0))
    assert r["C"] < 10.0
    assert r["top1"] > 0.75


def test_probe_takes_validation_and_test_classes_unseen_in_training():
    """A small labelled folder: some held-out clips have a class no training clip has."""
    from sklearn.metrics import log_loss

    from multiview.eval.metrics.linear import _fit, _log_loss

    g = torch.Generator().manual_seed(3)
    x = torch.randn(60, 4, generator=g)
    y = torch.arange(60) % 3
    y[40:45] = 7  # in validation and test only
    r = linear_probe(x[:30], y[:30], x[30:45], y[30:45], x[45:], y[45:])
    assert 0 <= r["top1"] <= 1
    clf = _fit(x[:30].numpy(), y[:30].numpy(), 1.0, 300)
    seen = y[30:40].numpy()
    assert _log_loss(clf, x[30:40].numpy(), seen) == pytest.approx(log_loss(seen, clf.predict_proba(x[30:40].numpy()),
                                                                           labels=clf.classes_), rel=1e-9)


def test_knn_separable_and_shuffled():
    assert knn_eval(*splits())["top1"] > 0.98
    assert abs(knn_eval(*splits(shuffle_labels=True))["top1"] - 0.2) < 0.12


def test_knn_votes_match_hand_computed():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    y = torch.tensor([0, 1, 1])
    q = torch.tensor([[1.0, 0.0]])
    s = torch.nn.functional.normalize(train, dim=1) @ torch.tensor([1.0, 0.0])
    votes = knn_scores(train, y, q, k=2, temperature=0.5, n_classes=2)
    # the two nearest are items 0 (class 0, s=1) and 2 (class 1, s~0.995)
    assert votes[0, 0].item() == pytest.approx(torch.exp(s[0] / 0.5).item(), rel=1e-5)
    assert votes[0, 1].item() == pytest.approx(torch.exp(s[2] / 0.5).item(), rel=1e-5)
    # k=3 brings item 1 (class 1, s=0) in: class 1 now outvotes class 0
    assert knn_top1(train, y, q, torch.tensor([1]), k=3, temperature=10.0) == 1.0
