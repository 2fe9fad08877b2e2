"""Training an encoder with a new linear head on labelled data: the supervised baseline and
fine-tuning both use this loop (AdamW, cosine decay, light augmentation)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from multiview.eval.core.features import device_of, to_device


def augment(x: torch.Tensor, modality: str, generator: torch.Generator) -> torch.Tensor:
    """Images: random 4-pixel-padded crop and horizontal flip; audio: random circular shift;
    text: none."""
    if modality == "text":
        return x
    if modality == "audio":
        shift = int(torch.randint(-x.shape[-1] // 10, x.shape[-1] // 10 + 1, (1,), generator=generator))
        return torch.roll(x, shift, dims=-1)
    h, w = x.shape[-2:]
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    i, j = (int(v) for v in torch.randint(0, 9, (2,), generator=generator))
    x = padded[..., i:i + h, j:j + w]
    return x.flip(-1) if bool(torch.randint(0, 2, (1,), generator=generator)) else x


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
    losses = []
    for _ in range(epochs):
        encoder.train()
        head.train()
        for name in frozen_modules:
            modules[name].eval()
        total, n = 0.0, 0
        for batch in loader:
            x = augment(to_device(batch["input"], device), modality, g)
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
