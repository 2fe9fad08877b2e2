"""Stop a diverged run at the first non-finite loss, before it reaches the weights.

:class:`StopOnNonFinite` checks the loss before the backward pass (methods trained by Lightning's
optimizer loop) and the logged ``train/loss`` after a step (methods that update their own
weights, such as word2vec), and stops with one line naming the step and the batch's sample
indices (``batch["index"]`` where the data gives one). The checkpoint IO
(:class:`multiview.run.checkpoints.AtomicCheckpointIO`) refuses non-finite weights in any case.
"""

from __future__ import annotations

import math
import os

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from multiview.run.checkpoints import NonFiniteWeights

MAX_LISTED = 16


def sample_indices(batch) -> str:
    index = batch.get("index") if isinstance(batch, dict) else None
    if index is None:
        return "batch without sample indices"
    values = torch.as_tensor(index).flatten().tolist()
    listed = ", ".join(str(v) for v in values[:MAX_LISTED])
    return f"samples [{listed}{', ...' if len(values) > MAX_LISTED else ''}]"


def non_finite_inputs(batch) -> list[str]:
    """The keys of ``batch`` whose float tensors hold NaN or inf: the data, not the optimiser, is at fault."""
    if not isinstance(batch, dict):
        return []
    return [k for k, v in batch.items()
            if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all())]


class StopOnNonFinite(Callback):
    """Raise :class:`NonFiniteWeights` (one line, exit status 2) on a NaN or infinite training loss."""

    def __init__(self):
        self._batch = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module, batch, batch_idx: int) -> None:
        self._batch = batch

    def on_before_backward(self, trainer: L.Trainer, pl_module, loss: torch.Tensor) -> None:
        self._check(trainer, loss)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not pl_module.automatic_optimization:
            self._check(trainer, trainer.callback_metrics.get("train/loss"))
        self._batch = None

    def _check(self, trainer: L.Trainer, loss) -> None:
        if loss is None:
            return
        value = float(loss.detach().float()) if torch.is_tensor(loss) else float(loss)
        if math.isfinite(value):
            return
        kept = ("its checkpoints keep the last finite weights" if saved_checkpoint(trainer)
                else "no checkpoint had been written yet")
        bad = non_finite_inputs(self._batch)
        advice = (f"the batch's {', '.join(bad)} hold NaN or inf values: check those samples' files" if bad
                  else "lower --model.lr, or check those samples")
        raise NonFiniteWeights(f"step {trainer.global_step} (epoch {trainer.current_epoch}): the training loss is "
                               f"{value} on {sample_indices(self._batch)}; the run is stopped and {kept} "
                               f"({advice})")


def saved_checkpoint(trainer: L.Trainer) -> bool:
    """Whether a checkpoint callback of ``trainer`` has written a file that is still there."""
    paths = [getattr(cb, k, "") for cb in trainer.checkpoint_callbacks for k in ("last_model_path", "best_model_path")]
    return any(p and os.path.isfile(p) for p in paths)
