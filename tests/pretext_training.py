"""Shared by the pretext tests: a small real CIFAR-10 split and short training loops that measure
the pretext task's held-out accuracy (classification pretexts) or loss (reconstruction pretexts)
before and after training."""

from __future__ import annotations

from pathlib import Path

import torch

from multiview.data.image.images import ImageFolderData


def cifar(shared: Path, train: int = 512, test: int = 256, batch_size: int = 64) -> ImageFolderData:
    """Plain CIFAR-10 images (a method crops and flips them itself: ``augment``)."""
    dm = ImageFolderData(str(shared / "images" / "cifar10-jpg.tar"), size=32, batch_size=batch_size,
                         train_limit=train, test_limit=test)
    dm.setup()
    return dm


@torch.no_grad()
def held_out_accuracy(model, batches: list[dict]) -> float:
    torch.manual_seed(1)  # the same tiles, jitter and targets for every call
    model.eval()
    hits = total = 0
    for batch in batches:
        logits, target = model.task(batch)
        hits += int((logits.argmax(1) == target).sum())
        total += len(target)
    model.train()
    return hits / total


def train_steps(model, dm: ImageFolderData, epochs: int, lr: float = 2e-3) -> tuple[float, float]:
    """``(held-out pretext accuracy at init, after ``epochs`` of Adam on the training split)``."""
    torch.manual_seed(0)
    test = list(dm.val_dataloader())
    before = held_out_accuracy(model, test)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for i, batch in enumerate(dm.train_dataloader()):
            loss = model.losses(batch, i)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    return before, held_out_accuracy(model, test)


def held_out_loss_before_and_after(model, dm, epochs: int = 3, lr: float = 3e-3) -> tuple[float, float]:
    """The pretext loss on a held-out batch at random init (BatchNorm statistics taken on the
    training images, no weight change) and after ``epochs`` of AdamW on the training images."""
    held_out = next(iter(dm.val_dataloader()))

    def loss() -> float:
        model.eval()
        torch.manual_seed(1)
        with torch.no_grad():
            return float(model.losses(held_out, 0)["loss"])

    model.train()
    with torch.no_grad():
        for i, batch in enumerate(dm.train_dataloader()):
            model.losses(batch, i)
    before = loss()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        for i, batch in enumerate(dm.train_dataloader()):
            opt.zero_grad()
            model.losses(batch, i)["loss"].backward()
            opt.step()
    return before, loss()


def image_knn(model, dm: ImageFolderData) -> float:
    """Weighted kNN top-1 (k = 50, Wu et al. 2018) of held-out images on the pooled features of
    ``model``'s image encoder."""
    from multiview.eval.core.embed import embed_loader
    from multiview.eval.metrics.knn import knn_top1

    def forward(m, batch):
        return {"image": m.encoders()["image"](batch["image"])}

    train_loader, test_loader = dm.feature_loaders()
    tr, te = embed_loader(model, train_loader, forward=forward), embed_loader(model, test_loader, forward=forward)
    return knn_top1(tr["image"], tr["label"], te["image"], te["label"], k=50, temperature=0.1)


def knn_before_and_after(model, dm: ImageFolderData, epochs: int = 1):
    """``(random-init kNN, trained kNN, trainer)``: the baseline is the same encoder at random init
    (:func:`multiview.eval.core.embed.random_init`, BatchNorm statistics from the data)."""
    import lightning as L

    from multiview.eval.core.embed import random_init

    baseline = image_knn(random_init(model, dm.feature_loaders()[0],
                                     lambda m, b: {"image": m.encoders()["image"](b["image"])}), dm)
    trainer = L.Trainer(accelerator="cpu", max_epochs=epochs, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=dm.train_dataloader())
    return baseline, image_knn(model, dm), trainer
