"""Barlow Twins (Zbontar, Jing, Misra, LeCun, Deny, ICML 2021): a cross-correlation near identity.

Each image is augmented twice (:func:`multiview.views.augment.two_views`, SimCLR's pipeline, each
sample's view drawn from the seed, the global step and its place in the batch), encoded to the
representation and projected (:class:`~multiview.methods.parts.ExpanderHead`: "three linear
layers ... The first two layers of the projector are followed by a batch normalization layer and
rectified linear units", Sec. 3) to ``z``. The loss
(:func:`~multiview.objectives.barlow_twins.barlow_twins_loss`, Eq. 1) makes the cross-correlation
of the two views' batch-normalised embeddings the identity: invariance on the diagonal,
redundancy reduction off it. The representation kept is the encoder's, before the projector.
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import ExpanderHead
from multiview.objectives.barlow_twins import barlow_twins_loss
from multiview.views.augment import pipeline_for, two_views, view_step


class BarlowTwins(OneEncoder):
    """An encoder and projector trained with the Barlow Twins loss on two augmented views.

    Figures: ``loss`` and its two sums, ``on_diag`` and ``off_diag``.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: "image", "frame", "audio" or "auto" (the training batches' picture).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` (of
            :class:`~multiview.views.augment.AudioAugment` for ``view: audio``).
        aug_seed: seed of the views (with the global step and each sample's place in the batch).
        proj_hidden: width of the projector's hidden layers (paper: 8192).
        proj_dim: width of the embedding ``z`` (paper: 8192).
        lambd: lambda of Eq. 1, the weight of the off-diagonal terms (5e-3).
        **kwargs: ``sample_rate`` and the optimizer knobs of :class:`~multiview.methods.base.Method`.
    """

    views = OneEncoder.views + ("audio",)

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, proj_hidden: int = 8192, proj_dim: int = 8192, lambd: float = 5e-3,
                 **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if not lambd >= 0:
            raise UserError(f"model.lambd: expected a number >= 0, got {lambd}")
        self.augment, self.aug_seed, self.lambd = pipeline_for(view, augment), aug_seed, lambd
        self.head = ExpanderHead(self.encoder.out_dim, proj_hidden, proj_dim)

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        x1, x2 = two_views(self.augment, self.inputs(batch, clips=True), self.aug_seed, *view_step(self, batch_idx))
        y1, y2 = self.encoder(torch.cat([x1, x2])).chunk(2)
        return barlow_twins_loss(self.head(y1), self.head(y2), self.lambd)
