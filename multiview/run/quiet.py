"""Lightning warnings that do not apply to a multiview fit, and a logging interval that fits the epoch.

Each warning is silenced only where the condition it warns about cannot occur:

* "your dataloader is not resumable ... unreliable results": a data module with
  :class:`~multiview.data.loader.ResumableBatches` restores the sampler's position exactly (an
  unbroken and a resumed run end with the same weights: ``tests/run/test_resume.py``);
* "`IterableDataset` has `__len__` ... multi-process data loading": a data module with at most one
  loader process;
* "configure_optimizers returned None": a method that optimizes by hand
  (``automatic_optimization = False``, word2vec's own SGD);
* "Checkpoint directory ... exists and is not empty": a resumed run, whose checkpoints are there;
* "You defined a `validation_step` but have no `val_dataloader`": a data module with no held-out
  set (a text corpus); the method's validation step serves other data modules.

An epoch shorter than ``trainer.log_every_n_steps`` logs every step of it instead of warning.
"""

from __future__ import annotations

import warnings

import lightning as L
from lightning.pytorch.callbacks import Callback

from multiview.data.loader import ResumableBatches

LOG_INTERVAL = ".*smaller than the logging interval"


def silence_inapplicable(model: L.LightningModule, data: L.LightningDataModule | None, resuming: bool) -> None:
    """Ignore, in this process, the Lightning warnings that cannot apply to ``model`` and ``data``."""
    if isinstance(data, ResumableBatches):
        warnings.filterwarnings("ignore", message=".*your dataloader is not resumable")
    if getattr(data, "num_workers", 0) <= 1:
        warnings.filterwarnings("ignore", message=".*`IterableDataset` has `__len__` defined")
    if data is not None and type(data).val_dataloader is L.LightningDataModule.val_dataloader:
        warnings.filterwarnings("ignore", message="You defined a `validation_step` but have no `val_dataloader`")
    if not model.automatic_optimization:
        warnings.filterwarnings("ignore", message=".*configure_optimizers` returned `None`")
    if resuming:
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")


class QuietFit(Callback):
    """An epoch shorter than ``trainer.log_every_n_steps`` logs every step of it, without a warning."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        warnings.filterwarnings("ignore", message=LOG_INTERVAL)  # on_fit_start shortens the interval instead

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.fit_loop.setup_data()  # built already if the method's schedule asked for the number of steps
        batches = trainer.num_training_batches
        if isinstance(batches, int) and 0 < batches < trainer.log_every_n_steps:
            trainer.log_every_n_steps = batches
