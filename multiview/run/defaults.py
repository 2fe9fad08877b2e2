"""What every ``multiview fit`` trainer gets: the atomic checkpoint IO, the stop-signal and
non-finite-loss callbacks, a schedule fitted to ``--trainer.max_time`` when time alone bounds the
fit, and a ``--ckpt_path last`` that resumes from a checkpoint that loads."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.plugins.io import CheckpointIO

from multiview.run.checkpoints import AtomicCheckpointIO, resolve_last
from multiview.run.finite import StopOnNonFinite
from multiview.run.signals import SaveOnInterrupt
from multiview.run.time_budget import FitScheduleToTime


def default_callbacks() -> list:
    return [SaveOnInterrupt(), StopOnNonFinite(), FitScheduleToTime()]


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
