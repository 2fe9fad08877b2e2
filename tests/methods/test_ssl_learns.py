"""SimCLR learns on real CIFAR-10: after one short epoch on 2,000 training images its frozen
features beat the same encoder at random init (:func:`multiview.eval.core.embed.random_init`,
BatchNorm statistics from the data) on a weighted kNN of held-out images (Wu et al. 2018)."""

import lightning as L
import pytest

from multiview.eval.core.embed import embed_loader, random_init
from multiview.eval.metrics.knn import knn_top1
from multiview.methods.simclr import SimCLR
from tests.pretext_training import cifar


def knn(model, dm) -> float:
    def forward(m, batch):
        return {"image": m.encoders()["image"](batch["image"])}

    train_loader, test_loader = dm.feature_loaders()
    tr, te = embed_loader(model, train_loader, forward=forward), embed_loader(model, test_loader, forward=forward)
    return knn_top1(tr["image"], tr["label"], te["image"], te["label"], k=50, temperature=0.1)


@pytest.mark.slow
def test_simclr_beats_random_init_on_cifar_knn(shared_data):
    dm = cifar(shared_data, train=2000, test=500, batch_size=128)
    L.seed_everything(0)
    model = SimCLR(encoder={"name": "small_resnet", "width": 16}, view="image", lr=3e-3, temperature=0.5)
    baseline = knn(random_init(model, dm.feature_loaders()[0],
                               lambda m, b: {"image": m.encoders()["image"](b["image"])}), dm)
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=dm.train_dataloader())
    trained = knn(model, dm)
    assert trained > baseline + 0.02, (baseline, trained)
