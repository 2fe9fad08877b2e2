"""BYOL (Grill et al. 2020) and SimSiam (Chen & He 2021): one view predicts the other's code.

The modern form of de Sa's (1994) multiview self-supervision: no negatives, a distance between a
prediction and a target code. An online network (encoder ``f``, projector ``g``, predictor
``q``) predicts, from one augmented view (:func:`multiview.views.augment.two_views`), the
projection of the other view by a target network:

- **BYOL** (Sec. 3.1, Eq. 2-3): the target is an exponential moving average of the online
  encoder and projector, ``xi <- tau xi + (1 - tau) theta`` (:func:`~multiview.methods.parts.ema_`),
  ``tau`` raised from ``tau_base`` to 1 on a cosine (Sec. 3.2); the loss is
  ``2 - 2 cos(q(z1), z2')``, symmetrised. Heads: :class:`~multiview.methods.parts.BYOLHead`.
- **SimSiam** (Sec. 3, Eq. 1-2, Algorithm 1): the target is the online network itself with a
  stop-gradient; ``D(p, z) = -cos(p, stopgrad(z))``, symmetrised. A 3-layer projector with BN on
  its output and a bottleneck predictor (Sec. 4.4, :class:`~multiview.methods.parts.SimSiamProjectionHead`,
  :class:`~multiview.methods.parts.SimSiamPredictionHead`).

The losses are :mod:`multiview.objectives.predictive`. The two are separate classes on
:class:`~multiview.methods.base.OneEncoder`; neither subclasses the other.
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import BYOLHead, SimSiamPredictionHead, SimSiamProjectionHead, ema_, frozen_copy
from multiview.objectives.predictive import byol_loss, negative_cosine
from multiview.views.augment import pipeline_for, two_views, view_step


class BYOL(OneEncoder):
    """Online encoder + projector + predictor regressing a momentum target's projections.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: "image", "frame", "audio" or "auto" (the training batches' picture).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` (AudioAugment for sounds).
        aug_seed: seed of the views (with the global step and each sample's place in the batch).
        proj_hidden: hidden width of projector and predictor (BYOL: 4096; smaller on CPU).
        proj_dim: width of the projections (BYOL: 256).
        momentum: ``tau_base`` of the target's moving average (BYOL: 0.996; 0.99 for short runs).
        **kwargs: ``sample_rate`` and the optimizer knobs of :class:`~multiview.methods.base.Method`.
    """

    views = OneEncoder.views + ("audio",)

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, proj_hidden: int = 512, proj_dim: int = 128, momentum: float = 0.99, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if not 0 <= momentum < 1:
            raise UserError(f"model.momentum: expected a number in [0, 1), got {momentum}")
        self.augment, self.aug_seed, self.base_momentum = pipeline_for(view, augment), aug_seed, momentum
        self.projector = BYOLHead(self.encoder.out_dim, proj_hidden, proj_dim)
        self.predictor = BYOLHead(proj_dim, proj_hidden, proj_dim)
        self.target_encoder, self.target_projector = frozen_copy(self.encoder), frozen_copy(self.projector)

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        x1, x2 = two_views(self.augment, self.inputs(batch, clips=True), self.aug_seed, *view_step(self, batch_idx))
        x = torch.cat([x1, x2])
        p1, p2 = self.predictor(self.projector(self.encoder(x))).chunk(2)
        with torch.no_grad():
            z1, z2 = self.target_projector(self.target_encoder(x)).chunk(2)
        return {"loss": 0.5 * (byol_loss(p1, z2) + byol_loss(p2, z1))}

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        m = self.momentum_at(self.base_momentum)
        ema_(self.target_encoder, self.encoder, m)
        ema_(self.target_projector, self.projector, m)


class SimSiam(OneEncoder):
    """Encoder + projector + predictor; the other view's projection, stop-gradient, is the target.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: "image", "frame", "audio" or "auto" (the training batches' picture).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` (AudioAugment for sounds).
        aug_seed: seed of the views (with the global step and each sample's place in the batch).
        proj_dim: width of the projector's layers and output (SimSiam: 2048).
        pred_hidden: the predictor's bottleneck (SimSiam: 512, a quarter of ``proj_dim``).
        **kwargs: ``sample_rate`` and the optimizer knobs of :class:`~multiview.methods.base.Method`.
    """

    views = OneEncoder.views + ("audio",)

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, proj_dim: int = 512, pred_hidden: int = 128, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        self.augment, self.aug_seed = pipeline_for(view, augment), aug_seed
        self.projector = SimSiamProjectionHead(self.encoder.out_dim, proj_dim, proj_dim)
        self.predictor = SimSiamPredictionHead(proj_dim, pred_hidden, proj_dim)

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        x1, x2 = two_views(self.augment, self.inputs(batch, clips=True), self.aug_seed, *view_step(self, batch_idx))
        z1, z2 = self.projector(self.encoder(torch.cat([x1, x2]))).chunk(2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return {"loss": 0.5 * (negative_cosine(p1, z2) + negative_cosine(p2, z1))}
