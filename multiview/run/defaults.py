"""What every ``multiview fit`` trainer gets: the atomic checkpoint IO, the stop-signal and
non-finite-loss callbacks, end-of-epoch checkpoints that resume at the start of the next epoch, a
stop before training when the training data gives no batch, a schedule fitted to
``--trainer.max_time`` when time alone bounds the fit, and a ``--ckpt_path last`` that resumes from
a checkpoint that loads."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import CheckpointIO

from multiview.core.errors import UserError
from multiview.run.checkpoints import AtomicCheckpointIO, ResumeAtEpochStart, resolve_last
from multiview.run.finite import StopOnNonFinite
from multiview.run.quiet import QuietFit
from multiview.run.signals import SaveOnInterrupt
from multiview.run.time_budget import FitScheduleToTime, ReportsInBudget


class RequireTrainingBatches(Callback):
    """Stop a fit before training, in one line, when its training loader has no batch (Lightning
    would end the fit at once, with nothing trained or saved, and the command would succeed)."""

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.limit_train_batches == 0:  # no training asked for
            return
        trainer.fit_loop.setup_data()  # built already when the schedule asked for the number of steps
        if trainer.num_training_batches != 0:
            return
        combined = trainer.fit_loop._combined_loader  # (a CombinedLoader of no batch is falsy)
        loaders = combined.flattened if combined is not None else []
        for loader in loaders:
            batch_size, sampler = getattr(loader, "batch_size", None), getattr(loader, "sampler", None)
            if batch_size and sampler is not None and hasattr(sampler, "__len__") and len(sampler) < batch_size:
                limit = getattr(trainer.datamodule, "train_limit", None)
                raise UserError(f"data.batch_size {batch_size} exceeds the {len(sampler)} training samples"
                                + (f" (data.train_limit {limit})" if limit else "") + ": no training batch")
        raise UserError("the training data loader gives no batch: nothing to train on")


def default_callbacks() -> list:
    return [QuietFit(), SaveOnInterrupt(), ResumeAtEpochStart(), RequireTrainingBatches(), StopOnNonFinite(),
            FitScheduleToTime(), ReportsInBudget()]


def with_atomic_checkpoints(plugins) -> list:
    """``plugins`` plus :class:`AtomicCheckpointIO`, unless the user chose a CheckpointIO."""
    plugins = [] if plugins is None else list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
    if not any(isinstance(p, CheckpointIO) for p in plugins):
        plugins.append(AtomicCheckpointIO())
    return plugins


def resolve_ckpt_path(ckpt_path: str | None, trainer: L.Trainer) -> str | None:
    """``last`` becomes the newest checkpoint of the run that loads (None: start afresh)."""
    if ckpt_path != "last":
        return ckpt_path
    callback = trainer.checkpoint_callback
    folder = (Path(callback.dirpath) if callback is not None and callback.dirpath
              else Path(trainer.default_root_dir) / "checkpoints")
    found = resolve_last(folder)
    if found is None:
        print(f"--ckpt_path last: no checkpoint in {folder}; starting from the beginning", file=sys.stderr)
        return None
    return str(found)
