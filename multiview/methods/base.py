"""The small base every method shares: the optimizer and its schedule, and the method contract.

A method subclasses :class:`Method`, builds its encoders, heads and objective in ``__init__``
(taking ``**kwargs`` on to this base, so the optimizer knobs are declared here once and every
recipe sets them the same way: ``--model.lr``, ``--model.optimizer`` ...), names its encoders in
:meth:`Method.encoders`, and implements ``training_step``. Reports, evaluation and export use
only :meth:`encoders` and :meth:`embed` (:mod:`multiview.core.contracts`).
"""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.views.channels import get_view

OPTIMIZERS = ("adamw", "sgd")


class Method(L.LightningModule):
    """Base LightningModule: AdamW or SGD with linear warmup then cosine decay, per step.

    Args:
        lr: peak learning rate (reached after the warmup).
        weight_decay: decoupled weight decay (AdamW) or L2 (SGD).
        optimizer: "adamw" or "sgd" (momentum 0.9).
        warmup_fraction: fraction of all training steps spent warming up linearly from 0.
    """

    def __init__(self, lr: float = 2e-3, weight_decay: float = 1e-4, optimizer: str = "adamw",
                 warmup_fraction: float = 0.05):
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"model.optimizer: expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
        if lr <= 0 or not math.isfinite(lr):
            raise ValueError(f"model.lr: expected a positive finite number, got {lr}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_name = optimizer
        self.warmup_fraction = warmup_fraction
        self.schedule_steps: int | None = None  # set while a fit is bounded by max_time alone
        self._estimated_steps: int | None = None

    def total_steps(self) -> int:
        """The schedule's length in optimizer steps: the trainer's estimate from max_epochs or
        max_steps, or, for a fit bounded only by max_time, the steps that fit in it
        (:class:`multiview.run.time_budget.FitScheduleToTime`)."""
        if self.schedule_steps is not None:
            return max(1, self.schedule_steps)
        if self._estimated_steps is None:
            estimated = self.trainer.estimated_stepping_batches
            if not math.isfinite(estimated):
                raise UserError("trainer: training has no end: set --trainer.max_epochs, --trainer.max_steps "
                                "or --trainer.max_time")
            self._estimated_steps = max(1, int(estimated))
        return self._estimated_steps

    def encoders(self) -> dict[str, nn.Module]:
        """``{view name: encoder}``: every encoder this method trains (see :mod:`multiview.core.contracts`)."""
        raise NotImplementedError(f"{type(self).__name__} does not name its encoders")

    def embed(self, batch: dict) -> dict[str, torch.Tensor]:
        """``{view: [B, D]}``: the representation of each view of ``batch`` that the method compares
        across views; by default each encoder's pooled output."""
        cache: dict = {}
        return {v: enc(get_view(batch, v, cache)) for v, enc in self.encoders().items()}

    def momentum_at(self, base: float) -> float:
        """BYOL's target momentum (Grill et al. 2020, Sec. 3.2): ``1 - (1 - base) (cos(pi k / K) + 1) / 2``
        at step ``k`` of the ``K`` training steps."""
        if self._trainer is None:
            return base
        total = self.total_steps()
        return 1 - (1 - base) * (math.cos(math.pi * min(1.0, self.global_step / total)) + 1) / 2

    def log_losses(self, stage: str, total: torch.Tensor, parts: dict[str, torch.Tensor], n: int) -> None:
        """``stage/loss`` and one ``stage/loss_<part>`` per named part of it."""
        self.log(f"{stage}/loss", total, prog_bar=True, batch_size=n)
        for name, value in parts.items():
            self.log(f"{stage}/loss_{name}", value, batch_size=n)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        if self.optimizer_name == "sgd":
            opt = torch.optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        self._estimated_steps = None  # this trainer's

        def schedule(step: int) -> float:
            total = self.total_steps()
            warmup = int(self.warmup_fraction * total)
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
