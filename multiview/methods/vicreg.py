"""VICReg (Bardes, Ponce, LeCun, ICLR 2022): variance, invariance and covariance on two views.

Each image is augmented twice (:func:`multiview.views.augment.two_views`, SimCLR's pipeline, each
sample's view drawn from the seed, the global step and its place in the batch), encoded to the
representation ``y`` and expanded by ``h_phi`` (:class:`~multiview.methods.parts.ExpanderHead`:
two Linear -> BatchNorm -> ReLU layers and a last Linear, Sec. 4.2) to the embedding ``z``. The
loss (:func:`~multiview.objectives.vicreg.vicreg_loss`, Eq. 6) pulls the two embeddings of an
image together (invariance) while keeping every dimension's standard deviation above ``gamma``
over the batch (variance) and the dimensions decorrelated (covariance): no negatives, no
momentum encoder, no predictor. The representation kept is ``y``, before the expander (Sec. 4.2).
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import ExpanderHead
from multiview.objectives.vicreg import vicreg_loss
from multiview.views.augment import pipeline_for, two_views, view_step


class VICReg(OneEncoder):
    """An encoder and expander trained with VICReg's loss on two augmented views.

    Figures: ``loss`` and its three terms, ``invariance``, ``variance`` and ``covariance``.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: "image", "frame", "audio" or "auto" (the training batches' picture).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` (of
            :class:`~multiview.views.augment.AudioAugment` for ``view: audio``).
        aug_seed: seed of the views (with the global step and each sample's place in the batch).
        proj_hidden: width of the expander's hidden layers (paper: 8192).
        proj_dim: width of the embedding ``z`` (paper: 8192).
        sim_weight: lambda, the invariance weight (25).
        var_weight: mu, the variance weight (25).
        cov_weight: nu, the covariance weight (1).
        **kwargs: ``sample_rate`` and the optimizer knobs of :class:`~multiview.methods.base.Method`.
    """

    views = OneEncoder.views + ("audio",)

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, proj_hidden: int = 8192, proj_dim: int = 8192, sim_weight: float = 25.0,
                 var_weight: float = 25.0, cov_weight: float = 1.0, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        for name, value in (("sim_weight", sim_weight), ("var_weight", var_weight), ("cov_weight", cov_weight)):
            if not value >= 0:
                raise UserError(f"model.{name}: expected a number >= 0, got {value}")
        self.augment, self.aug_seed = pipeline_for(view, augment), aug_seed
        self.weights = {"sim_weight": sim_weight, "var_weight": var_weight, "cov_weight": cov_weight}
        self.head = ExpanderHead(self.encoder.out_dim, proj_hidden, proj_dim)

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        x1, x2 = two_views(self.augment, self.inputs(batch, clips=True), self.aug_seed, *view_step(self, batch_idx))
        y1, y2 = self.encoder(torch.cat([x1, x2])).chunk(2)
        return vicreg_loss(self.head(y1), self.head(y2), **self.weights)
