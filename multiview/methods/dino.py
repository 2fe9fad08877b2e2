"""DINO (Caron et al. 2021): self-distillation with no labels, a student and a momentum teacher.

Student and teacher share an architecture: the encoder, then a head (3-layer MLP, an L2-normalised
bottleneck, and a weight-normalised linear layer to ``out_dim`` prototypes, Sec. 3.1 and
Appendix). Multi-crop (Sec. 3.1): ``global_crops`` views at full size with area ``global_scale``
and ``local_crops`` small views with ``local_scale``; the teacher sees only the global crops, the
student every crop. The teacher's output is centred and sharpened (temperature ``teacher_temp``),
the student's softened (``student_temp``), and the loss (Eq. 1-3,
:func:`~multiview.objectives.dino.dino_loss`) is the cross-entropy over every pair of different
crops. After each step the teacher follows the student as a moving average (momentum raised to 1
on a cosine) and the centre follows the teacher's batch means (Eq. 4); both are in the checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from multiview.views.augment import ImageAugment
from multiview.encoders.registry import EncoderSpec
from multiview.methods.pretext import VIEWS
from multiview.methods.ssl import SSLMethod, ema_, frozen_copy
from multiview.objectives.dino import dino_loss, updated_center


class DINOHead(nn.Module):
    """MLP (GELU) -> L2-normalised bottleneck -> weight-normalised linear layer to ``out_dim``."""

    def __init__(self, in_dim: int, out_dim: int = 1024, hidden: int = 512, bottleneck: int = 128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, bottleneck))
        self.last = nn.Linear(bottleneck, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(self.mlp(x), dim=-1), F.normalize(self.last.weight, dim=-1))


class DINO(SSLMethod):
    """Student encoder + head distilled from a momentum teacher over multi-crop views.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' key).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` for the global crops.
        global_scale, local_scale: area ranges of global and local crops (DINO: 0.4-1, 0.05-0.4).
        local_crops: number of local crops (0: two global crops only).
        local_size: side of the local crops in pixels (DINO: 96 of 224).
        out_dim: prototypes ``K`` of the head (DINO: 65536; 1024 suits CIFAR-10).
        student_temp, teacher_temp: tau_s and tau_t (0.1, 0.04).
        center_momentum: m of Eq. 4 (0.9).
        momentum: base momentum of the teacher (0.996; 0.99 for short runs).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    views = VIEWS  # multi-crop is an image pipeline

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 global_scale: tuple[float, float] = (0.4, 1.0), local_scale: tuple[float, float] = (0.05, 0.4),
                 local_crops: int = 4, local_size: int = 16, out_dim: int = 1024, student_temp: float = 0.1,
                 teacher_temp: float = 0.04, center_momentum: float = 0.9, momentum: float = 0.99, **kwargs):
        super().__init__(encoder=encoder, view=view, augment={**(augment or {}), "scale": tuple(global_scale)},
                         **kwargs)
        self.save_hyperparameters()
        self.local = ImageAugment(**{**(augment or {}), "scale": tuple(local_scale), "size": local_size})
        self.local_crops = local_crops
        self.student_temp, self.teacher_temp = student_temp, teacher_temp
        self.center_momentum, self.base_momentum = center_momentum, momentum
        self.head = DINOHead(self.encoder.out_dim, out_dim)
        self.teacher_encoder, self.teacher_head = frozen_copy(self.encoder), frozen_copy(self.head)
        self.register_buffer("center", torch.zeros(1, out_dim))
        self._teacher_out: list[torch.Tensor] | None = None

    def loss(self, batch: dict, batch_idx: int) -> torch.Tensor:
        g1, g2 = self.two_views(batch, batch_idx)
        raw = self.raw_images(batch)
        raw = raw[:, 0] if raw.ndim == 5 else raw
        crops = [self.local(raw, self.step_generator(2 + i, batch_idx)) for i in range(self.local_crops)]
        n = len(g1)
        student = list(self.head(self.encoder(torch.cat([g1, g2]))).split(n))
        if crops:
            student += list(self.head(self.encoder(torch.cat(crops))).split(n))
        with torch.no_grad():
            teacher = list(self.teacher_head(self.teacher_encoder(torch.cat([g1, g2]))).split(n))
        if self.training:
            self._teacher_out = teacher
        return dino_loss(student, teacher, self.center, self.student_temp, self.teacher_temp)

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        m = self.momentum_at(self.base_momentum)
        ema_(self.teacher_encoder, self.encoder, m)
        ema_(self.teacher_head, self.head, m)
        if self._teacher_out is not None:
            self.center.copy_(updated_center(self.center, self._teacher_out, self.center_momentum))
            self._teacher_out = None
