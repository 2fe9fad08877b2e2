"""Shared by the pretext tests: a small real CIFAR-10 split and a short training loop that
measures the pretext task's held-out accuracy before and after training."""

from __future__ import annotations

from pathlib import Path

import torch

from multiview.data.image.images import ImageFolderData


def cifar(shared: Path, train: int = 512, test: int = 256, batch_size: int = 64,
          augment: bool = False) -> ImageFolderData:
    dm = ImageFolderData(str(shared / "images" / "cifar10-jpg.tar"), batch_size=batch_size, augment=augment,
                         train_limit=train, test_limit=test)
    dm.setup()
    return dm


@torch.no_grad()
def held_out_accuracy(model, batches: list[dict]) -> float:
    torch.manual_seed(1)  # the same tiles, jitter and targets for every call
    model.eval()
    hits = total = 0
    for batch in batches:
        _, logits, target = model.task(batch)
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
        for batch in dm.train_dataloader():
            loss, _, _ = model.task(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return before, held_out_accuracy(model, test)
