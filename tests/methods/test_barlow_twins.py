"""Barlow Twins (Zbontar et al. 2021): the loss against a slow reference written with loops, the
gathered loss in two processes against one, and a short real run on CIFAR-10 that beats the same
encoder at random init on a weighted kNN."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from multiview.core.errors import UserError
from multiview.methods.barlow_twins import BarlowTwins
from multiview.objectives.barlow_twins import barlow_twins_loss, cross_correlation
from tests.pretext_training import cifar, knn_before_and_after
from tests.two_ranks import two_ranks_and_one


def slow_barlow_twins(z1, z2, lambd, eps=1e-5) -> float:
    """Eq. 1-2 one number at a time, each dimension normalised over the batch as BatchNorm does."""
    a, b = z1.tolist(), z2.tolist()
    n, d = len(a), len(a[0])

    def normalised(z):
        out = [[0.0] * d for _ in range(n)]
        for j in range(d):
            m = sum(z[i][j] for i in range(n)) / n
            s = math.sqrt(sum((z[i][j] - m) ** 2 for i in range(n)) / n + eps)
            for i in range(n):
                out[i][j] = (z[i][j] - m) / s
        return out

    a, b = normalised(a), normalised(b)
    loss = 0.0
    for p in range(d):
        for q in range(d):
            c = sum(a[i][p] * b[i][q] for i in range(n)) / n
            loss += (1 - c) ** 2 if p == q else lambd * c * c
    return loss


@pytest.mark.parametrize("n,d", [(2, 1), (5, 3), (16, 7), (9, 12)])
@pytest.mark.parametrize("lambd", [5e-3, 0.5])
def test_loss_matches_the_slow_reference(n, d, lambd):
    g = torch.Generator().manual_seed(n * 100 + d)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64) * (torch.rand(1, d, generator=g) + 0.5)
    z2 = z1 + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    got = barlow_twins_loss(z1, z2, lambd)
    assert set(got) == {"loss", "on_diag", "off_diag"}
    assert got["loss"].item() == pytest.approx(slow_barlow_twins(z1, z2, lambd), rel=1e-5)


def test_cross_correlation_is_eq_2_and_the_identity_costs_nothing():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(10, 4, generator=g, dtype=torch.float64), torch.randn(10, 4, generator=g, dtype=torch.float64)
    a, b = z1 - z1.mean(0), z2 - z2.mean(0)
    eq2 = (a.T @ b) / (a.pow(2).sum(0).sqrt().view(-1, 1) * b.pow(2).sum(0).sqrt().view(1, -1))
    assert torch.allclose(cross_correlation(z1, z2, eps=0.0), eq2, atol=1e-12)
    white = torch.linalg.qr(a)[0]  # decorrelated dimensions: C = I
    assert barlow_twins_loss(white, white, eps=0.0)["loss"].item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(UserError, match="data.batch_size"):
        barlow_twins_loss(torch.ones(1, 4), torch.ones(1, 4))


@pytest.mark.slow
def test_two_processes_give_the_global_batch_loss_and_gradient(tmp_path):
    """C on the embeddings of both ranks: each rank's loss is the one-process loss of the global
    batch, and each rank's gradient averaged over ranks (as DDP does) is that loss's gradient (the
    authors' all_reduce of C without a gradient would give half of it)."""
    ranks, loss, a, b = two_ranks_and_one(barlow_twins_loss, tmp_path)
    for r in ranks:
        assert r["loss"].item() == pytest.approx(loss.item(), rel=1e-5)
    assert torch.allclose(torch.cat([r["a"] for r in ranks]) / 2, a.grad, atol=1e-6)
    assert torch.allclose(torch.cat([r["b"] for r in ranks]) / 2, b.grad, atol=1e-6)


@pytest.mark.slow
def test_barlow_twins_beats_random_init_on_cifar_knn(shared_data):
    """Baseline: the same encoder at random init (:func:`multiview.eval.core.embed.random_init`,
    BatchNorm statistics from the data), on a weighted kNN (k = 50) of held-out CIFAR-10 images."""
    dm = cifar(shared_data, train=2000, test=500, batch_size=128)
    L.seed_everything(0)
    model = BarlowTwins(encoder={"name": "small_resnet", "width": 16}, view="image", proj_hidden=512,
                        proj_dim=512, lr=3e-3)
    # two short epochs: after one (16 steps) the kNN is still at the random-init level
    baseline, trained, trainer = knn_before_and_after(model, dm, epochs=2)
    assert {"train/loss", "train/on_diag", "train/off_diag"} <= set(trainer.callback_metrics)
    assert trained > baseline + 0.02, (baseline, trained)
