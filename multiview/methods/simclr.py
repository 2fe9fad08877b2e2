"""SimCLR (Chen, Kornblith, Norouzi, Hinton 2020): two augmented views, a projection head, NT-Xent.

Each image is augmented twice (random resized crop, flip, colour jitter with p = 0.8, grayscale
with p = 0.2, optional blur: Sec. 3 and Appendix A; :func:`multiview.views.augment.two_views`,
each sample's view drawn from the seed, the global step and its place in the batch), encoded to
``h`` and projected by an MLP ``g`` (Linear -> BN -> ReLU -> Linear, Sec. 2.1,
:class:`~multiview.methods.parts.SimCLRProjectionHead`) to ``z``, and the NT-Xent loss (Eq. 1,
:func:`~multiview.objectives.ntxent.nt_xent`) pulls the two views of an image together against
the ``2N - 2`` other views of the batch, gathered from every GPU. The representation kept is
``h``, before the head (Sec. 4.2). Clips of two or more frames give two moments of one clip; with
``view: audio`` the views are two crops of each waveform (COLA, Saeed et al. 2021).
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import SimCLRProjectionHead
from multiview.objectives.ntxent import nt_xent
from multiview.views.augment import pipeline_for, two_views, view_step


class SimCLR(OneEncoder):
    """An encoder and projection head trained with NT-Xent on two augmented views.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: "image", "frame", "audio" or "auto" (the training batches' picture).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` (of
            :class:`~multiview.views.augment.AudioAugment` for ``view: audio``).
        aug_seed: seed of the views (with the global step and each sample's place in the batch).
        proj_hidden: width of the head's hidden layer (0: the encoder's width).
        proj_dim: width of the projection ``z`` (SimCLR: 128).
        temperature: tau of Eq. 1 (SimCLR on CIFAR-10: 0.5).
        **kwargs: ``sample_rate`` and the optimizer knobs of :class:`~multiview.methods.base.Method`.
    """

    views = OneEncoder.views + ("audio",)

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, proj_hidden: int = 0, proj_dim: int = 128, temperature: float = 0.5,
                 **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if temperature <= 0:
            raise UserError(f"model.temperature: expected a positive number, got {temperature}")
        self.augment, self.aug_seed, self.temperature = pipeline_for(view, augment), aug_seed, temperature
        d = self.encoder.out_dim
        self.head = SimCLRProjectionHead(d, proj_hidden or d, proj_dim)

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        x1, x2 = two_views(self.augment, self.inputs(batch, clips=True), self.aug_seed, *view_step(self, batch_idx))
        z1, z2 = self.head(self.encoder(torch.cat([x1, x2]))).chunk(2)
        return {"loss": nt_xent(z1, z2, self.temperature)}
