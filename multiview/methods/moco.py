"""MoCo v2 (He et al. 2020; Chen, Fan, Girshick, He 2020): a momentum key encoder and a queue.

The query encoder ``f_q`` (the encoder and an MLP head, MoCo v2,
:class:`~multiview.methods.parts.SimCLRProjectionHead`) encodes one augmented view
(:func:`multiview.views.augment.two_views`), the key encoder ``f_k``, an exponential moving average
``theta_k <- m theta_k + (1 - m) theta_q`` (Eq. 2, :func:`~multiview.methods.parts.ema_`), the
other; InfoNCE (Eq. 1, :func:`~multiview.objectives.moco.moco_info_nce`) contrasts each query with
its key against a queue of earlier keys, then the batch's keys (gathered from every GPU) are
enqueued. BatchNorm: ``shuffle_bn`` "shuffle" encodes the keys in a shuffled order (Sec. 3.3)
across every GPU (:func:`~multiview.objectives.moco.shuffled_encode`); "sync" leaves it to
SyncBatchNorm (``--trainer.sync_batchnorm true``); "none" does neither. The loss is symmetrised
(each view as query in turn), as the MoCo v2 CIFAR recipes do.

Shuffling only matters when BatchNorm sees groups: its statistics do not depend on the order of
one batch. On one process, "shuffle" therefore emulates ``bn_groups`` devices, as MoCo's own
CIFAR-10 demo does with its ``SplitBatchNorm`` (He et al., ``colab/moco_cifar10_demo.ipynb``,
``bn_splits=8``): the shuffled key batch is split into ``bn_groups`` groups, each encoded on its
own so that every BatchNorm normalises it with its own statistics, then the keys are unshuffled.
Under DDP each rank's slice is one group, as in MoCo.
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import SimCLRProjectionHead, ema_, frozen_copy
from multiview.objectives.gather import is_distributed
from multiview.objectives.moco import KeyQueue, moco_info_nce, shuffled_encode
from multiview.views.augment import pipeline_for, two_views, view_step

SHUFFLES = ("shuffle", "sync", "none")


class MoCo(OneEncoder):
    """Query encoder + head, momentum key encoder + head, and a queue of keys.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: "image", "frame", "audio" or "auto" (the training batches' picture).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` (AudioAugment for sounds).
        aug_seed: seed of the views (with the global step and each sample's place in the batch).
        proj_dim: width of the keys (MoCo: 128).
        queue_size: ``K``, keys in the queue (MoCo: 65536; 4096 suits CIFAR-10).
        momentum: ``m`` of Eq. 2 (MoCo: 0.999; 0.99 for short runs).
        temperature: tau of Eq. 1 (MoCo v2: 0.2).
        shuffle_bn: "shuffle", "sync" (with ``--trainer.sync_batchnorm true``) or "none".
        bn_groups: under "shuffle" on one process, the BatchNorm groups the key batch is split into
            (MoCo's CIFAR demo: 8); each group has at least 2 samples.
        **kwargs: ``sample_rate`` and the optimizer knobs of :class:`~multiview.methods.base.Method`.
    """

    views = OneEncoder.views + ("audio",)

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, proj_dim: int = 128, queue_size: int = 4096, momentum: float = 0.99,
                 temperature: float = 0.2, shuffle_bn: str = "shuffle", bn_groups: int = 8, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if shuffle_bn not in SHUFFLES:
            raise UserError(f"model.shuffle_bn: expected one of {', '.join(SHUFFLES)}, got {shuffle_bn!r}")
        if temperature <= 0 or queue_size < 1:
            raise UserError(f"model.temperature, model.queue_size: expected positive, got {temperature}, {queue_size}")
        if bn_groups < 1:
            raise UserError(f"model.bn_groups: expected a positive integer, got {bn_groups}")
        self.bn_groups = bn_groups
        self.augment, self.aug_seed = pipeline_for(view, augment), aug_seed
        self.temperature, self.momentum, self.shuffle_bn = temperature, momentum, shuffle_bn
        d = self.encoder.out_dim
        self.head = SimCLRProjectionHead(d, d, proj_dim)
        self.key_encoder, self.key_head = frozen_copy(self.encoder), frozen_copy(self.head)
        self.queue = KeyQueue(queue_size, proj_dim)
        self._keys: torch.Tensor | None = None

    def keys(self, x: torch.Tensor, stream: int) -> torch.Tensor:
        """``f_k(x)`` without gradients, shuffled across the batch (and GPUs) under "shuffle"."""
        def f_k(t):
            return self.key_head(self.key_encoder(t))

        def grouped(t):
            groups = 1 if is_distributed() else max(1, min(self.bn_groups, len(t) // 2))
            return torch.cat([f_k(g) for g in t.tensor_split(groups)])

        if self.shuffle_bn == "shuffle":
            return shuffled_encode(grouped, x, seed=self.aug_seed * 7919 + self.global_step * 2 + stream)
        with torch.no_grad():
            return f_k(x)

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        x1, x2 = two_views(self.augment, self.inputs(batch, clips=True), self.aug_seed, *view_step(self, batch_idx))
        q1, q2 = self.head(self.encoder(torch.cat([x1, x2]))).chunk(2)
        k1, k2 = self.keys(x1, 0), self.keys(x2, 1)
        loss = 0.5 * (moco_info_nce(q1, k2, self.queue.keys, self.temperature)
                      + moco_info_nce(q2, k1, self.queue.keys, self.temperature))
        if self.training:
            self._keys = torch.cat([k1, k2])
        return {"loss": loss}

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        ema_(self.key_encoder, self.encoder, self.momentum)
        ema_(self.key_head, self.head, self.momentum)
        if self._keys is not None:
            self.queue.push(self._keys)
            self._keys = None
