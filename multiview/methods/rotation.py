"""Rotation prediction (Gidaris, Singh, Komodakis 2018): a 4-way classifier of 0/90/180/270 degrees.

Each batch is turned into its four rotations (all four of every image, as the paper trains), the
encoder pools each copy and a head classifies the rotation
(:func:`~multiview.objectives.rotation.rotation_loss`). At CIFAR-10's 32 px the images are used
as they are: the paper's own CIFAR experiments (Sec. 3.1) run at 32 px with a NIN network.
"""

from __future__ import annotations

import torch

from multiview.encoders.registry import EncoderSpec
from multiview.methods.pretext import PretextMethod, head
from multiview.objectives.rotation import N_ROTATIONS, rotate_all, rotation_loss


class Rotation(PretextMethod):
    """A frame encoder trained to tell which of four rotations an image was turned by.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' key).
        hidden: width of the head's hidden layer (0: a linear head on the pooled features).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", hidden: int = 0, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        self.head = head(self.encoder.out_dim, hidden, N_ROTATIONS)

    def task(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rotated, target = rotate_all(self.images(batch))
        logits = self.head(self.encoder(rotated))
        return rotation_loss(logits, target), logits, target
