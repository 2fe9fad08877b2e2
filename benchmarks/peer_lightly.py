"""The lightly side of ``benchmarks/peer_ssl.py``: each method as lightly's own examples and CIFAR-10
benchmark build it, in a plain LightningModule.

Mirrors ``examples/pytorch_lightning/{simclr,moco,byol,simsiam,dino}.py`` and
``docs/source/getting_started/benchmarks/cifar10_benchmark.py`` of lightly-ai/lightly: lightly's
losses (``NTXentLoss``, with a memory bank for MoCo; ``NegativeCosineSimilarity``; ``DINOLoss``),
heads (``SimCLRProjectionHead``, ``MoCoProjectionHead``, ``BYOL*Head``, ``SimSiam*Head``,
``DINOProjectionHead``), momentum utilities (``deactivate_requires_grad``, ``update_momentum`` at
the start of each step, ``cosine_schedule``; ``batch_shuffle``/``batch_unshuffle`` and
``SplitBatchNorm`` with 8 splits for MoCo, as the CIFAR-10 benchmark does), transforms at 32 px
with the Gaussian blur off (as the CIFAR-10 benchmark does) and data loading (``LightlyDataset``
over the image folder). Two things are shared with our side so that only the pipelines differ:
the backbone (built from our encoder registry; it normalises [0, 1] images itself, so lightly's
transforms are given ``normalize=None``) and the optimizer and its schedule (the recipe's AdamW,
learning rate, weight decay, warmup then cosine, fitted to the wall-clock budget by
:class:`multiview.run.time_budget.FitScheduleToTime`). Head widths, temperatures, queue and
momentum are the recipe's.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn as nn
from lightly import loss as lloss
from lightly import transforms as lt
from lightly.models import utils as lutils
from lightly.models.batchnorm import SplitBatchNorm
from lightly.models.modules import heads
from lightly.utils.scheduler import cosine_schedule


class TrainClock(L.Callback):
    """Writes ``{"steps", "seconds"}`` of the training loop (train start to train end) to ``path``."""

    def __init__(self, path: str):
        self.path, self.start = path, 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        Path(self.path).write_text(json.dumps({"steps": trainer.global_step,
                                               "seconds": time.perf_counter() - self.start}))


def split_batchnorm(module: nn.Module, splits: int) -> nn.Module:
    """Every BatchNorm2d of ``module`` replaced by lightly's ``SplitBatchNorm`` (its ResNetGenerator's
    ``num_splits``), keeping the affine parameters."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            split = SplitBatchNorm(child.num_features, splits)
            split.weight.data.copy_(child.weight.data)
            split.bias.data.copy_(child.bias.data)
            setattr(module, name, split)
        else:
            split_batchnorm(child, splits)
    return module


class Peer(L.LightningModule):
    """The backbone, the recipe's optimizer and schedule; a method adds its heads and ``training_step``."""

    def __init__(self, backbone: nn.Module, opt: dict):
        super().__init__()
        self.backbone, self.opt = backbone, opt
        self.schedule_steps: int | None = None  # set by FitScheduleToTime

    def total_steps(self) -> int:
        if self.schedule_steps or self._trainer is None:
            return max(1, self.schedule_steps or 1)
        return max(1, int(self.trainer.estimated_stepping_batches))

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.opt["lr"], weight_decay=self.opt["weight_decay"])

        def schedule(step: int) -> float:  # the same warmup-cosine as multiview.methods.base.Method
            total = self.total_steps()
            warmup = int(self.opt["warmup_fraction"] * total)
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class SimCLR(Peer):
    def __init__(self, backbone, opt, hp):
        super().__init__(backbone, opt)
        d = backbone.out_dim
        self.projection_head = heads.SimCLRProjectionHead(d, hp.get("proj_hidden") or d, hp["proj_dim"])
        self.criterion = lloss.NTXentLoss(temperature=hp["temperature"])

    def training_step(self, batch, batch_idx):
        (x0, x1), _, _ = batch
        return self.criterion(self.projection_head(self.backbone(x0)), self.projection_head(self.backbone(x1)))


class MoCo(Peer):
    def __init__(self, backbone, opt, hp):
        super().__init__(split_batchnorm(backbone, 8), opt)
        d = backbone.out_dim
        self.projection_head = heads.MoCoProjectionHead(d, d, hp["proj_dim"])
        self.backbone_momentum = copy.deepcopy(self.backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        lutils.deactivate_requires_grad(self.backbone_momentum)
        lutils.deactivate_requires_grad(self.projection_head_momentum)
        self.criterion = lloss.NTXentLoss(temperature=hp["temperature"],
                                          memory_bank_size=(hp["queue_size"], hp["proj_dim"]))
        self.m = hp["momentum"]

    def training_step(self, batch, batch_idx):
        (x0, x1), _, _ = batch
        lutils.update_momentum(self.backbone, self.backbone_momentum, self.m)
        lutils.update_momentum(self.projection_head, self.projection_head_momentum, self.m)

        def step(q, k):
            k, shuffle = lutils.batch_shuffle(k)
            q = self.projection_head(self.backbone(q))
            k = self.projection_head_momentum(self.backbone_momentum(k))
            return q, lutils.batch_unshuffle(k, shuffle)

        return 0.5 * (self.criterion(*step(x0, x1)) + self.criterion(*step(x1, x0)))


class BYOL(Peer):
    def __init__(self, backbone, opt, hp):
        super().__init__(backbone, opt)
        d, h, p = backbone.out_dim, hp["proj_hidden"], hp["proj_dim"]
        self.projection_head = heads.BYOLProjectionHead(d, h, p)
        self.prediction_head = heads.BYOLPredictionHead(p, h, p)
        self.backbone_momentum = copy.deepcopy(self.backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        lutils.deactivate_requires_grad(self.backbone_momentum)
        lutils.deactivate_requires_grad(self.projection_head_momentum)
        self.criterion = lloss.NegativeCosineSimilarity()
        self.m = hp["momentum"]

    def training_step(self, batch, batch_idx):
        m = cosine_schedule(self.global_step, self.total_steps(), self.m, 1.0)
        lutils.update_momentum(self.backbone, self.backbone_momentum, m)
        lutils.update_momentum(self.projection_head, self.projection_head_momentum, m)
        (x0, x1), _, _ = batch
        p0, p1 = (self.prediction_head(self.projection_head(self.backbone(x))) for x in (x0, x1))
        z0, z1 = (self.projection_head_momentum(self.backbone_momentum(x)).detach() for x in (x0, x1))
        return 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))


class SimSiam(Peer):
    def __init__(self, backbone, opt, hp):
        super().__init__(backbone, opt)
        p = hp["proj_dim"]
        self.projection_head = heads.SimSiamProjectionHead(backbone.out_dim, p, p)
        self.prediction_head = heads.SimSiamPredictionHead(p, hp["pred_hidden"], p)
        self.criterion = lloss.NegativeCosineSimilarity()

    def training_step(self, batch, batch_idx):
        (x0, x1), _, _ = batch
        z0, z1 = (self.projection_head(self.backbone(x)) for x in (x0, x1))
        p0, p1 = self.prediction_head(z0), self.prediction_head(z1)
        return 0.5 * (self.criterion(z0.detach(), p1) + self.criterion(z1.detach(), p0))


class DINO(Peer):
    def __init__(self, backbone, opt, hp):
        super().__init__(backbone, opt)
        d, out = backbone.out_dim, hp["out_dim"]
        self.head = heads.DINOProjectionHead(d, 512, 128, out)
        self.teacher_backbone = copy.deepcopy(self.backbone)
        self.teacher_head = heads.DINOProjectionHead(d, 512, 128, out)
        lutils.deactivate_requires_grad(self.teacher_backbone)
        lutils.deactivate_requires_grad(self.teacher_head)
        self.criterion = lloss.DINOLoss(output_dim=out, warmup_teacher_temp=hp["teacher_temp"],
                                        teacher_temp=hp["teacher_temp"], student_temp=hp["student_temp"],
                                        center_momentum=hp["center_momentum"])
        self.m = hp["momentum"]

    def training_step(self, batch, batch_idx):
        m = cosine_schedule(self.global_step, self.total_steps(), self.m, 1.0)
        lutils.update_momentum(self.backbone, self.teacher_backbone, m)
        lutils.update_momentum(self.head, self.teacher_head, m)
        views, _, _ = batch
        teacher = [self.teacher_head(self.teacher_backbone(v)) for v in views[:2]]
        student = [self.head(self.backbone(v)) for v in views]
        return self.criterion(teacher, student, epoch=self.current_epoch)


MODULES = {"simclr": SimCLR, "moco": MoCo, "byol": BYOL, "simsiam": SimSiam, "dino": DINO}


def transform(method: str, size: int, hp: dict):
    """Lightly's transform of ``method`` at ``size`` px, blur off (its CIFAR-10 benchmark), no normalisation."""
    if method == "simclr":
        return lt.SimCLRTransform(input_size=size, gaussian_blur=0.0, normalize=None)
    if method == "moco":
        return lt.MoCoV2Transform(input_size=size, gaussian_blur=0.0, normalize=None)
    if method == "byol":
        return lt.BYOLTransform(view_1_transform=lt.BYOLView1Transform(input_size=size, gaussian_blur=0.0,
                                                                         normalize=None),
                                view_2_transform=lt.BYOLView2Transform(input_size=size, gaussian_blur=0.0,
                                                                         normalize=None))
    if method == "simsiam":
        return lt.SimSiamTransform(input_size=size, gaussian_blur=0.0, normalize=None)
    return lt.DINOTransform(global_crop_size=size, local_crop_size=hp["local_size"], n_local_views=hp["local_crops"],
                            gaussian_blur=(0.0, 0.0, 0.0), normalize=None)
