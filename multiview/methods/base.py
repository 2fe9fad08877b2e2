"""The small base every method shares: optimizer, learning-rate schedule, the end-of-fit report.

A method subclasses :class:`Method`, builds its views, encoders and objective in ``__init__``,
implements ``training_step`` (and optionally ``validation_step``), and may override
:meth:`final_report` to return flat metrics that the CLI writes to ``metrics.json``.
"""

from __future__ import annotations

import copy
import inspect
import math
from pathlib import Path

import lightning as L
import torch


class Method(L.LightningModule):
    """Base LightningModule: AdamW or SGD with linear warmup then cosine decay."""

    def __init__(
        self,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        optimizer: str = "adamw",
        warmup_fraction: float = 0.05,
    ):
        super().__init__()
        if optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer: expected 'adamw' or 'sgd', got {optimizer!r}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_name = optimizer
        self.warmup_fraction = warmup_fraction

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        if self.optimizer_name == "sgd":
            opt = torch.optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(self.warmup_fraction * total)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def random_init_copy(self, seed: int = 12345) -> "Method":
        """The same architecture, freshly initialised: the baseline every report shows."""
        names = inspect.signature(type(self).__init__).parameters
        kwargs = {k: copy.deepcopy(v) for k, v in self.hparams.items() if k in names}
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return type(self)(**kwargs).to(self.device)

    def final_report(self, trainer: L.Trainer, datamodule, run_dir: Path) -> dict[str, float]:
        """Evaluate after ``fit``; return flat ``{"group/name": value}`` metrics. PNGs go in run_dir."""
        return {}

    def report_table(self, metrics: dict[str, float]) -> str:
        """A human-readable table of ``metrics`` for the terminal."""
        width = max((len(k) for k in metrics), default=0)
        return "\n".join(f"  {k:<{width}}  {v:.4f}" for k, v in sorted(metrics.items()))
