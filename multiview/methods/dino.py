"""DINO (Caron et al. 2021): self-distillation with no labels, a student and a momentum teacher.

Student and teacher share an architecture: the encoder, then a head
(:class:`~multiview.methods.parts.DINOHead`: 3-layer MLP, an L2-normalised bottleneck, and a
weight-normalised linear layer to ``out_dim`` prototypes, Sec. 3.1 and Appendix). Multi-crop
(Sec. 3.1): two global views at full size with area ``global_scale``
(:func:`multiview.views.augment.two_views`) and ``local_crops`` small views with ``local_scale``
(:func:`multiview.views.augment.augment_view`, streams 2, 3, ...); the teacher sees only the
global crops, the student every crop. The teacher's output is centred and sharpened (temperature
``teacher_temp``), the student's softened (``student_temp``), and the loss (Eq. 1-3,
:func:`~multiview.objectives.dino.dino_loss`) is the cross-entropy over every pair of different
crops. After each step the teacher follows the student as a moving average
(:func:`~multiview.methods.parts.ema_`, momentum raised to 1 on a cosine) and the centre follows
the teacher's batch means (Eq. 4); both are in the checkpoint.
"""

from __future__ import annotations

import torch

from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import DINOHead, ema_, frozen_copy
from multiview.objectives.dino import dino_loss, updated_center
from multiview.views.augment import augment_view, pipeline_for, two_views, view_step


class DINO(OneEncoder):
    """Student encoder + head distilled from a momentum teacher over multi-crop views (images only).

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: "image", "frame" or "auto" (the training batches' picture); multi-crop is an image pipeline.
        augment: fields of :class:`~multiview.views.augment.ImageAugment` for the global crops.
        aug_seed: seed of the views (with the global step and each sample's place in the batch).
        global_scale: area range of the global crops, as fractions of the image (DINO: 0.4-1).
        local_scale: area range of the local crops (DINO: 0.05-0.4).
        local_crops: number of local crops (0: two global crops only).
        local_size: side of the local crops in pixels (DINO: 96 of 224).
        out_dim: prototypes ``K`` of the head (DINO: 65536; 1024 suits CIFAR-10).
        student_temp: tau_s, the temperature of the student's softmax (Eq. 1; 0.1).
        teacher_temp: tau_t, the sharper temperature of the centred teacher's softmax (0.04).
        center_momentum: m of Eq. 4 (0.9).
        momentum: base momentum of the teacher (0.996; 0.99 for short runs).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, global_scale: tuple[float, float] = (0.4, 1.0),
                 local_scale: tuple[float, float] = (0.05, 0.4), local_crops: int = 4, local_size: int = 16,
                 out_dim: int = 1024, student_temp: float = 0.1, teacher_temp: float = 0.04,
                 center_momentum: float = 0.9, momentum: float = 0.99, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        self.augment = pipeline_for(view, {**(augment or {}), "scale": tuple(global_scale)})
        self.local = pipeline_for(view, {**(augment or {}), "scale": tuple(local_scale), "size": local_size})
        self.aug_seed, self.local_crops = aug_seed, local_crops
        self.student_temp, self.teacher_temp = student_temp, teacher_temp
        self.center_momentum, self.base_momentum = center_momentum, momentum
        self.head = DINOHead(self.encoder.out_dim, out_dim)
        self.teacher_encoder, self.teacher_head = frozen_copy(self.encoder), frozen_copy(self.head)
        self.register_buffer("center", torch.zeros(1, out_dim))
        self._teacher_out: list[torch.Tensor] | None = None

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        step, rank = view_step(self, batch_idx)
        x = self.inputs(batch, clips=True)
        g1, g2 = two_views(self.augment, x, self.aug_seed, step, rank)
        first = x[:, 0] if x.ndim == 5 else x
        crops = [augment_view(self.local, first, self.aug_seed, step, rank, 2 + i) for i in range(self.local_crops)]
        n = len(g1)
        student = list(self.head(self.encoder(torch.cat([g1, g2]))).split(n))
        if crops:
            student += list(self.head(self.encoder(torch.cat(crops))).split(n))
        with torch.no_grad():
            teacher = list(self.teacher_head(self.teacher_encoder(torch.cat([g1, g2]))).split(n))
        if self.training:
            self._teacher_out = teacher
        return {"loss": dino_loss(student, teacher, self.center, self.student_temp, self.teacher_temp)}

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        m = self.momentum_at(self.base_momentum)
        ema_(self.teacher_encoder, self.encoder, m)
        ema_(self.teacher_head, self.head, m)
        if self._teacher_out is not None:
            self.center.copy_(updated_center(self.center, self._teacher_out, self.center_momentum))
            self._teacher_out = None
