"""Rotation prediction (Gidaris, Singh, Komodakis 2018): a 4-way classifier of 0/90/180/270 degrees.

Each batch is turned into its four rotations (all four of every image, as the paper trains), the
encoder pools each copy and a head classifies the rotation
(:func:`~multiview.objectives.rotation.rotation_loss`). At CIFAR-10's 32 px the images are used
as they are: the paper's own CIFAR experiments (Sec. 3.1) run at 32 px with a NIN network.
Training images may first be cropped and flipped (``augment``, :class:`~multiview.views.crops.TrainingCrops`).
"""

from __future__ import annotations

import torch

from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import ClassifierHead
from multiview.objectives.rotation import N_ROTATIONS, rotate_all, rotation_loss
from multiview.views.crops import TrainingCrops


class Rotation(OneEncoder):
    """A frame encoder trained to tell which of four rotations an image was turned by.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' picture).
        hidden: width of the head's hidden layer (0: a linear head on the pooled features).
        augment: crop and flip of the training images (:class:`~multiview.views.crops.TrainingCrops`
            fields, ``{}`` for its defaults); None: the images as they are.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", hidden: int = 0,
                 augment: dict | None = None, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        self.head = ClassifierHead(self.encoder.out_dim, hidden, N_ROTATIONS)
        self.crops = TrainingCrops(augment)

    def task(self, batch: dict, batch_idx: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [4B, 4], rotation of each copy [4B])``."""
        rotated, target = rotate_all(self.crops(self, self.inputs(batch), batch_idx))
        return self.head(self.encoder(rotated)), target

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        logits, target = self.task(batch, batch_idx)
        return {"loss": rotation_loss(logits, target), "acc": (logits.argmax(1) == target).float().mean()}
