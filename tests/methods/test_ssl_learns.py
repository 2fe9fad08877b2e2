"""SimCLR learns on real CIFAR-10: after one short epoch on 2,000 training images its frozen
features beat the same encoder at random init (:func:`multiview.eval.core.embed.random_init`,
BatchNorm statistics from the data) on a weighted kNN of held-out images (Wu et al. 2018)."""

import lightning as L
import pytest

from multiview.methods.simclr import SimCLR
from tests.pretext_training import cifar, knn_before_and_after


@pytest.mark.slow
def test_simclr_beats_random_init_on_cifar_knn(shared_data):
    dm = cifar(shared_data, train=2000, test=500, batch_size=128)
    L.seed_everything(0)
    model = SimCLR(encoder={"name": "small_resnet", "width": 16}, view="image", lr=3e-3, temperature=0.5)
    baseline, trained, _ = knn_before_and_after(model, dm, epochs=1)
    assert trained > baseline + 0.02, (baseline, trained)
