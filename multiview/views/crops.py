"""The crop and flip that the image pretexts and CMC's colour views see of their training batches."""

from __future__ import annotations

import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.views.augment import ImageAugment, augment_view, view_step


class TrainingCrops:
    """Random resized crops and horizontal flips of a method's training images, on the batch: the
    training-set augmentation of the pretext papers' CIFAR code (crop and flip, no colour change,
    which colorization's targets and relative position's colour guard would see). Fields of
    :class:`~multiview.views.augment.ImageAugment` (default crop area 0.2-1, flip 0.5; colour
    jitter and grayscale off unless asked) plus ``seed``; ``None``: the images as they are.
    Sample ``i`` of each step draws from ``(seed, global step, i)``
    (:func:`~multiview.views.augment.augment_view`), so a resumed run sees the same crops;
    held-out batches are never augmented."""

    def __init__(self, fields: dict | None = None):
        fields = dict(fields) if fields is not None else None
        self.seed = int(fields.pop("seed", 0)) if fields is not None else 0
        try:
            self.pipeline = None if fields is None else ImageAugment(**{"jitter_p": 0.0, "gray_p": 0.0, **fields})
        except TypeError as e:
            raise UserError(f"model.augment: {e}") from None

    def __call__(self, method: nn.Module, x: torch.Tensor, batch_idx: int = 0) -> torch.Tensor:
        if self.pipeline is None or not method.training:
            return x
        step, rank = view_step(method, batch_idx)
        return augment_view(self.pipeline, x, self.seed, step, rank).to(x.dtype)
