"""Frozen features from any encoder layer, batched and without gradients.

An encoder hands out its layers through ``features(x) -> {name: tensor}``. Vector layers
``[B, D]`` are kept as they are; spatial maps ``[B, C, H, W]`` are average-pooled to a
``spatial x spatial`` grid and flattened (``spatial=1`` is global average pooling).
Datasets yield dicts with the encoder's input under ``"input"`` and an int ``"label"``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from multiview.core.errors import UserError


def as_loader(data: Dataset | DataLoader, batch_size: int = 128) -> DataLoader:
    return data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size, shuffle=False)


def flatten_layer(h: torch.Tensor, spatial: int = 1) -> torch.Tensor:
    """``[B, D]`` from a layer output: spatial maps pooled to ``spatial x spatial`` and flattened."""
    if h.ndim == 4:
        h = F.adaptive_avg_pool2d(h, spatial)
    elif h.ndim == 3:
        h = F.adaptive_avg_pool1d(h, spatial)
    return h.reshape(len(h), -1)


def to_device(x, device: torch.device):
    """Tensors moved to ``device``; other inputs (a text encoder's list of strings) as they are."""
    return x.to(device) if torch.is_tensor(x) else x


def device_of(module: nn.Module) -> torch.device:
    tensor = next(iter(module.parameters()), None)
    if tensor is None:
        tensor = next(iter(module.buffers()), torch.empty(0))
    return tensor.device


@torch.no_grad()
def layer_names(encoder: nn.Module, data: Dataset | DataLoader) -> list[str]:
    """The layers ``encoder.features`` returns, found by running one example."""
    batch = next(iter(as_loader(data, 2)))
    was = encoder.training
    encoder.eval()
    names = list(encoder.features(to_device(batch["input"], device_of(encoder))))
    encoder.train(was)
    return names


@torch.no_grad()
def extract(encoder: nn.Module, data: Dataset | DataLoader, layers: list[str] | str,
            spatial: int = 1, batch_size: int = 128) -> dict[str, torch.Tensor]:
    """``{layer: float [N, D], "label": long [N]}`` over ``data`` in order, encoder in eval mode."""
    layers = [layers] if isinstance(layers, str) else list(layers)
    device = device_of(encoder)
    was = encoder.training
    encoder.eval()
    out: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    labels = []
    try:
        for batch in as_loader(data, batch_size):
            feats = encoder.features(to_device(batch["input"], device))
            for name in layers:
                if name not in feats:
                    raise UserError(f"--layer {name!r}: {type(encoder).__name__} has layers {list(feats)}")
                out[name].append(flatten_layer(feats[name].float(), spatial).cpu())
            labels.append(torch.as_tensor(batch["label"]).long().cpu())
    finally:
        encoder.train(was)
    if not labels:
        raise UserError(f"no samples to compute {type(encoder).__name__}'s features of (an empty split)")
    result = {name: torch.cat(v) for name, v in out.items()}
    result["label"] = torch.cat(labels)
    return result
