"""SimCLR (Chen, Kornblith, Norouzi, Hinton 2020): two augmented views, a projection head, NT-Xent.

Each image is augmented twice (random resized crop, flip, colour jitter with p = 0.8, grayscale
with p = 0.2, optional blur: Sec. 3 and Appendix A; :mod:`multiview.views.augment`), encoded to ``h``
and projected by an MLP ``g`` (Linear -> BN -> ReLU -> Linear, Sec. 2.1) to ``z``, and the
NT-Xent loss (Eq. 1, :func:`~multiview.objectives.ntxent.nt_xent`) pulls the two views of an
image together against the ``2N - 2`` other views of the batch, gathered from every GPU. The
representation kept is ``h``, before the head (Sec. 4.2).
"""

from __future__ import annotations

import torch

from multiview.encoders.registry import EncoderSpec
from multiview.methods.ssl import SSLMethod, mlp
from multiview.objectives.ntxent import nt_xent


class SimCLR(SSLMethod):
    """A frame encoder and projection head trained with NT-Xent on two augmented views.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' key).
        augment: fields of :class:`~multiview.views.augment.ImageAugment`.
        proj_hidden: width of the head's hidden layer (0: the encoder's width).
        proj_dim: width of the projection ``z`` (SimCLR: 128).
        temperature: tau of Eq. 1 (SimCLR on CIFAR-10: 0.5).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 proj_hidden: int = 0, proj_dim: int = 128, temperature: float = 0.5, **kwargs):
        super().__init__(encoder=encoder, view=view, augment=augment, **kwargs)
        self.save_hyperparameters()
        if temperature <= 0:
            raise ValueError(f"model.temperature: expected a positive number, got {temperature}")
        self.temperature = temperature
        d = self.encoder.out_dim
        self.head = mlp(d, proj_hidden or d, proj_dim)

    def loss(self, batch: dict, batch_idx: int) -> torch.Tensor:
        x1, x2 = self.two_views(batch, batch_idx)
        z = self.head(self.encoder(torch.cat([x1, x2])))
        z1, z2 = z.chunk(2)
        return nt_xent(z1, z2, self.temperature)
