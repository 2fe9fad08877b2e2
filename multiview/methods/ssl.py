"""What the contrastive and predictive image methods share: augmented views, heads, momentum.

A method here (instance discrimination, MoCo, SimCLR, BYOL, SimSiam, DINO) trains one encoder,
like a pretext method (:class:`~multiview.methods.pretext.PretextMethod`: the batch's ``image`` or
``frame``, the encoder named by that key for the end-of-fit reports), on two or more augmented
views of each sample (:mod:`multiview.views.augment`, seeded by the global step and the rank so a
resumed run sees the same views). Clips of two or more frames give two moments of one clip, each
augmented. With ``view: audio`` the encoder is a log-mel network and the views are two crops of
the batch's ``audio`` waveforms (:class:`~multiview.views.augment.AudioAugment`, as COLA and BYOL-A). Momentum (teacher) networks are submodules, so checkpoints hold them, and are
updated in ``on_train_batch_end`` with :func:`ema_`.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from multiview.views.augment import AudioAugment, ImageAugment, generator, moments
from multiview.encoders.registry import EncoderSpec
from multiview.methods.pretext import VIEWS, PretextMethod


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 2, last_bn: bool = False) -> nn.Sequential:
    """Linear -> BN -> ReLU, ``layers - 1`` times, then Linear (and BN without affine if ``last_bn``)."""
    mods, d = [], in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        d = hidden
    mods.append(nn.Linear(d, out_dim, bias=not last_bn))
    if last_bn:
        mods.append(nn.BatchNorm1d(out_dim, affine=False))
    return nn.Sequential(*mods)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` without gradients (a momentum teacher or key encoder)."""
    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


@torch.no_grad()
def ema_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target <- m target + (1 - m) online`` for parameters; buffers (BN statistics) copied."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(momentum).add_(o.detach(), alpha=1 - momentum)
    for t, o in zip(target.buffers(), online.buffers()):
        t.copy_(o)


class SSLMethod(PretextMethod):
    """One frame encoder trained on augmented views; subclasses implement :meth:`loss`.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame", "audio" or "auto" (the training batches'
            image or frame key).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` (SimCLR's pipeline), or of
            :class:`~multiview.views.augment.AudioAugment` for ``view: audio``.
        aug_seed: seed of the views (with the global step and the rank).
        sample_rate: of the ``audio`` waveforms, Hz (``view: audio``).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    views = VIEWS + ("audio",)

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, sample_rate: int = 16000, **kwargs):
        super().__init__(encoder=encoder, view=view, sample_rate=sample_rate, **kwargs)
        self.augment = (AudioAugment if view == "audio" else ImageAugment)(**(augment or {}))
        self.aug_seed = aug_seed

    def step_generator(self, stream: int, batch_idx: int = 0) -> torch.Generator:
        """The generator of view ``stream`` at this step (validation batches apart by index)."""
        rank = self.global_rank if self._trainer is not None else 0
        step = self.global_step if self.training else 10_000_000 + batch_idx
        return generator(self.aug_seed, step, stream * 4096 + rank)

    def raw_images(self, batch: dict) -> torch.Tensor:
        """``image`` or ``frame`` ``[B, 3, H, W]``, or ``frames`` ``[B, T, 3, H, W]`` (clips); for
        ``view: audio``, the ``audio`` waveforms ``[B, S]``."""
        if self.view == "audio":
            if "audio" not in batch:
                raise KeyError(f"{type(self).__name__} with view audio needs batch key 'audio'; "
                               f"the batch has {', '.join(batch)}")
            return batch["audio"]
        for key in ("image", "frame", "frames"):
            if key in batch:
                if self.view == "auto":
                    self.seen_view = key.rstrip("s")
                return batch[key]
        raise KeyError(f"{type(self).__name__} needs batch key 'image', 'frame' or 'frames'; "
                       f"the batch has {', '.join(batch)}")

    def two_views(self, batch: dict, batch_idx: int = 0,
                  augment: ImageAugment | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Two augmented views of every sample (of two moments where the batch has clips)."""
        a, b = moments(self.raw_images(batch))
        aug = augment or self.augment
        return aug(a, self.step_generator(0, batch_idx)), aug(b, self.step_generator(1, batch_idx))

    def loss(self, batch: dict, batch_idx: int) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch, batch_idx)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(self.raw_images(batch)))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.log("val/loss", self.loss(batch, batch_idx), prog_bar=True, batch_size=len(self.raw_images(batch)),
                 sync_dist=True)
