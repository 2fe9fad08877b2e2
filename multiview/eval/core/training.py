"""Training an encoder with a new linear head on labelled data: the supervised baseline and
fine-tuning both use this loop (AdamW, cosine decay, light augmentation).

Images are augmented by the project's one image pipeline (:class:`multiview.views.augment.ImageAugment`),
configured for random resized crop and horizontal flip only (:data:`CROP_FLIP`), every batch's draws
seeded from ``(seed, step)`` (:func:`multiview.views.augment.generator`), so a run repeats exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from multiview.eval.core.features import device_of, to_device
from multiview.views.augment import ImageAugment, generator

# Crop (60-100% of the area) and flip only: no colour change, which would hide what a label means.
CROP_FLIP = ImageAugment(scale=(0.6, 1.0), flip=0.5, jitter=(0.0, 0.0, 0.0, 0.0), jitter_p=0.0, gray_p=0.0,
                         blur_p=0.0)
AUGMENT_KEY = "image-augment crop 0.6-1 flip 0.5"  # part of cached baselines' keys: change with CROP_FLIP


def augment(x: torch.Tensor, modality: str, seed: int, step: int) -> torch.Tensor:
    """Images: :data:`CROP_FLIP`; audio: a random circular shift of up to a tenth; text: none.
    The draws come from ``(seed, step)`` alone."""
    if modality == "text":
        return x
    g = generator(seed, step)
    if modality == "audio":
        shift = int(torch.randint(-x.shape[-1] // 10, x.shape[-1] // 10 + 1, (1,), generator=g))
        return torch.roll(x, shift, dims=-1)
    return CROP_FLIP(x, g)


def new_head(in_dim: int, n_classes: int, seed: int) -> nn.Linear:
    """The linear head a supervised or fine-tuned network trains, its weights drawn from ``seed``
    alone (torch's global generator left as it was), so a retrained baseline gives the same figure."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Linear(in_dim, n_classes)


def train_classifier(encoder: nn.Module, head: nn.Module, train, modality: str, epochs: int = 15,
                     lr: float = 2e-3, batch_size: int = 128, weight_decay: float = 5e-4,
                     frozen_modules: list[str] = (), seed: int = 0) -> list[float]:
    """AdamW with cosine decay on cross-entropy; returns the mean loss per epoch."""
    device = device_of(encoder)
    head.to(device)
    params = [p for p in list(encoder.parameters()) + list(head.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=len(train) > batch_size, generator=g)
    steps = max(1, epochs * len(loader))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    modules = dict(encoder.named_modules())
    losses, step = [], 0
    for _ in range(epochs):
        encoder.train()
        head.train()
        for name in frozen_modules:
            modules[name].eval()
        total, n = 0.0, 0
        for batch in loader:
            x = augment(to_device(batch["input"], device), modality, seed, step)
            step += 1
            loss = F.cross_entropy(head(encoder(x)), torch.as_tensor(batch["label"]).to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + loss.item() * len(x), n + len(x)
        losses.append(total / max(n, 1))
    encoder.eval()
    head.eval()
    return losses


@torch.no_grad()
def accuracy(encoder: nn.Module, head: nn.Module, data, batch_size: int = 256) -> float:
    device = device_of(encoder)
    encoder.eval()
    head.eval()
    correct = n = 0
    for batch in DataLoader(data, batch_size=batch_size):
        pred = head(encoder(to_device(batch["input"], device))).argmax(1).cpu()
        correct += int((pred == torch.as_tensor(batch["label"])).sum())
        n += len(pred)
    return correct / max(n, 1)
