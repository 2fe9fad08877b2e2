"""VICReg (Bardes, Ponce, LeCun 2022): the loss against a slow reference written with loops, the
gathered loss in two processes against one, and a short real run on CIFAR-10 that beats the same
encoder at random init on a weighted kNN."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from multiview.core.errors import UserError
from multiview.methods.vicreg import VICReg
from multiview.objectives.vicreg import vicreg_loss
from tests.pretext_training import cifar, knn_before_and_after
from tests.two_ranks import two_ranks_and_one


def slow_vicreg(z1, z2, lam, mu, nu, gamma=1.0, eps=1e-4) -> float:
    """Eq. 1-6 one number at a time (invariance per element and the variance averaged over the two
    branches, as the authors' code)."""
    a, b = z1.tolist(), z2.tolist()
    n, d = len(a), len(a[0])

    def mean(z, j):
        return sum(z[i][j] for i in range(n)) / n

    def variance(z):
        hinge = 0.0
        for j in range(d):
            m = mean(z, j)
            std = math.sqrt(sum((z[i][j] - m) ** 2 for i in range(n)) / (n - 1) + eps)
            hinge += max(0.0, gamma - std)
        return hinge / d

    def covariance(z):
        total = 0.0
        for p in range(d):
            for q in range(d):
                if p != q:
                    mp_, mq = mean(z, p), mean(z, q)
                    c = sum((z[i][p] - mp_) * (z[i][q] - mq) for i in range(n)) / (n - 1)
                    total += c * c
        return total / d

    invariance = sum((a[i][j] - b[i][j]) ** 2 for i in range(n) for j in range(d)) / (n * d)
    return lam * invariance + mu * (variance(a) + variance(b)) / 2 + nu * (covariance(a) + covariance(b))


@pytest.mark.parametrize("n,d", [(2, 1), (5, 3), (16, 7), (9, 12)])
@pytest.mark.parametrize("weights", [(25.0, 25.0, 1.0), (1.0, 0.5, 3.0)])
def test_loss_matches_the_slow_reference(n, d, weights):
    g = torch.Generator().manual_seed(n * 100 + d)
    scale = torch.rand(1, d, generator=g) * 2  # some dimensions below gamma, some above
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    z2 = z1 + 0.3 * torch.randn(n, d, generator=g, dtype=torch.float64)
    got = vicreg_loss(z1, z2, *weights)
    assert set(got) == {"loss", "invariance", "variance", "covariance"}
    assert got["loss"].item() == pytest.approx(slow_vicreg(z1, z2, *weights), rel=1e-5)


def test_terms_vanish_where_the_paper_says():
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    z = torch.linalg.qr(z - z.mean(0))[0] * math.sqrt(63) * 1.5  # decorrelated, std 1.5 > gamma
    terms = vicreg_loss(z, z)
    assert terms["invariance"] == 0 and terms["variance"] == 0 and terms["covariance"] < 1e-8
    collapsed = vicreg_loss(torch.ones(8, 4), torch.ones(8, 4))
    assert collapsed["variance"].item() == pytest.approx(1 - math.sqrt(1e-4))  # the hinge at its worst
    with pytest.raises(UserError, match="data.batch_size"):
        vicreg_loss(torch.ones(1, 4), torch.ones(1, 4))


@pytest.mark.slow
def test_two_processes_give_the_global_batch_loss_and_gradient(tmp_path):
    """Variance and covariance on the embeddings of both ranks, the invariance on each rank's own:
    the mean of the ranks' losses is the one-process loss of the global batch, and each rank's
    gradient averaged over ranks (as DDP does) is that loss's gradient."""
    ranks, loss, a, b = two_ranks_and_one(vicreg_loss, tmp_path)
    assert (ranks[0]["loss"] + ranks[1]["loss"]).item() / 2 == pytest.approx(loss.item(), rel=1e-5)
    assert torch.allclose(torch.cat([r["a"] for r in ranks]) / 2, a.grad, atol=1e-6)
    assert torch.allclose(torch.cat([r["b"] for r in ranks]) / 2, b.grad, atol=1e-6)


@pytest.mark.slow
def test_vicreg_beats_random_init_on_cifar_knn(shared_data):
    """Baseline: the same encoder at random init (:func:`multiview.eval.core.embed.random_init`,
    BatchNorm statistics from the data), on a weighted kNN (k = 50) of held-out CIFAR-10 images."""
    dm = cifar(shared_data, train=2000, test=500, batch_size=128)
    L.seed_everything(0)
    model = VICReg(encoder={"name": "small_resnet", "width": 16}, view="image", proj_hidden=512, proj_dim=512,
                   lr=3e-3)
    baseline, trained, trainer = knn_before_and_after(model, dm, epochs=1)
    assert {"train/loss", "train/invariance", "train/variance", "train/covariance"} <= set(trainer.callback_metrics)
    assert trained > baseline + 0.02, (baseline, trained)
