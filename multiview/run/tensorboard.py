"""TensorBoard logs of a run: loss curves, learning rate, end-of-fit metrics and report images.

Every run folder gets TensorBoard event files next to ``metrics.csv`` (Lightning's
``TensorBoardLogger``); ``tensorboard --logdir ~/.cache/multiview/runs`` shows every run. The
training loop's ``self.log`` values arrive there through Lightning, the learning rate through
:class:`LearningRateLogger`, and the end-of-fit report through :func:`log_report`. Weights &
Biases or any other Lightning logger is a ``--trainer.logger`` away and not a dependency.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import TensorBoardLogger


class LearningRateLogger(LearningRateMonitor):
    """Lightning's ``LearningRateMonitor`` (tag ``lr-<optimizer>``) that stays silent, instead of
    failing, when the user turned logging off (``--trainer.logger false``)."""

    def on_train_start(self, trainer, *args, **kwargs) -> None:
        if trainer.loggers:
            super().on_train_start(trainer, *args, **kwargs)

    def on_train_batch_start(self, trainer, *args, **kwargs) -> None:
        if trainer.loggers:
            super().on_train_batch_start(trainer, *args, **kwargs)

    def on_train_epoch_start(self, trainer, *args, **kwargs) -> None:
        if trainer.loggers:
            super().on_train_epoch_start(trainer, *args, **kwargs)


def tensorboard_of(trainer) -> TensorBoardLogger | None:
    return next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def read_png(path: Path) -> np.ndarray:
    """``uint8 [H, W, 3]`` pixels of an image file."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def log_report(trainer, metrics: dict[str, float], pngs: list[Path] | tuple[Path, ...] = ()) -> None:
    """Send the end-of-fit ``metrics`` (as scalars at the last step, tag = metric key) and the
    report images ``pngs`` (tag ``report/<file stem>``) to the run's TensorBoard logger, if any."""
    logger = tensorboard_of(trainer)
    if logger is None or not trainer.is_global_zero:
        return
    step = int(trainer.global_step)
    writer = logger.experiment
    for key, value in sorted(metrics.items()):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            writer.add_scalar(key, float(value), step)
    for path in pngs:
        writer.add_image(f"report/{Path(path).stem}", read_png(Path(path)), step, dataformats="HWC")
    writer.flush()
