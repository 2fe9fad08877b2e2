"""Checkpoints that are never torn and never trade finite weights for NaNs.

Lightning's own save moves a temporary file from the system temp folder over the target; when
that folder is on another filesystem the move becomes a copy, and a kill during the copy tears
``last.ckpt`` after the previous one is gone. :class:`AtomicCheckpointIO` writes each checkpoint
to a temporary file in the target's folder, fsyncs it, ``os.replace``s it over the target and
fsyncs the folder (:func:`multiview.core.io.atomic_write`): a reader sees the old file or the new one.

On ``--ckpt_path last``, :func:`resolve_last` checks that the checkpoint loads (``weights_only``)
and has finite weights, and falls back to the newest one in the folder that does.
:class:`ResumeAtEpochStart` makes a checkpoint written at the end of an epoch resume at the start
of the next epoch (:func:`start_next_epoch`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from multiview.core.errors import UserError
from multiview.core.io import atomic_write


class NonFiniteWeights(UserError):
    """A checkpoint (or a step) whose values are NaN or infinite."""


def first_non_finite(state: dict[str, Any]) -> str | None:
    """The name of the first floating-point tensor in ``state`` holding a NaN or an infinity."""
    for name, value in state.items():
        if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return name
    return None


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO that writes in place atomically and refuses non-finite weights."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        bad = first_non_finite(checkpoint.get("state_dict", {}))
        if bad is not None:
            raise NonFiniteWeights(f"{path}: not written: weight {bad!r} is not finite (NaN or inf); "
                                   "the previous checkpoint is kept")
        atomic_write(path, lambda f: torch.save(checkpoint, f))


def check_loadable(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from (unreadable, not a Lightning checkpoint, non-finite), or None."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # a torn zip, a truncated file, an unsafe pickle: torch raises several types
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".strip()
    if not isinstance(obj, dict) or not isinstance(obj.get("state_dict"), dict):
        return "not a Lightning checkpoint (no state_dict)"
    bad = first_non_finite(obj["state_dict"])
    return f"weight {bad!r} is not finite" if bad else None


def sweep_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files a killed save left in ``folder`` (``.NAME.ckpt.*.tmp``)."""
    removed = []
    for tmp in folder.glob(".*.ckpt.*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def resolve_last(folder: Path) -> Path | None:
    """The newest checkpoint in ``folder`` that loads, ``last.ckpt`` first; None if there is none.

    Skipped files are reported on stderr, one line each; when every checkpoint is unusable the
    run stops with one line naming them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    sweep_temporaries(folder)
    candidates = sorted(folder.glob("*.ckpt"), key=lambda p: (p.stat().st_mtime, p.name.startswith("last")),
                        reverse=True)
    problems = []
    for path in candidates:
        problem = check_loadable(path)
        if problem is None:
            if problems:
                print(f"resuming from {path}; skipped " + "; ".join(problems), file=sys.stderr)
            return path
        problems.append(f"{path.name} ({problem})")
    if problems:
        raise UserError(f"--ckpt_path last: no usable checkpoint in {folder}: " + "; ".join(problems))
    return None


def start_next_epoch(checkpoint: dict[str, Any]) -> bool:
    """Make a checkpoint written at the end of an epoch resume at the start of the next one.

    ``ModelCheckpoint`` saves at the end of an epoch from ``on_train_epoch_end``, after Lightning
    counted the epoch ``processed`` and before it counted it ``completed``. When the fit is bounded
    by ``max_steps``, Lightning (2.6) resumes such a checkpoint as "restarted on epoch end": it
    runs the end of that epoch again, counting it ``processed`` a second time, rewrites the
    checkpoints of that step with the drifted counters, and starts the next epoch with the sampler
    one epoch ahead. Each further resume from those checkpoints adds an epoch that trained no
    batch, until ``max_epochs`` is reached with steps left and the fit ends as if done.

    Here the epoch's counters are set to what an unbroken run has when the next epoch starts:
    ``checkpoint["epoch"] + 1`` epochs finished, no batch of the next one started (the step and
    the optimizer's totals are kept). This also repairs checkpoints whose counters already drifted.
    Returns whether the checkpoint was one written at the end of an epoch.
    """
    loop = checkpoint.get("loops", {}).get("fit_loop")
    if not loop or "epoch_progress" not in loop or "epoch_loop.batch_progress" not in loop:
        return False
    batches, epochs = loop["epoch_loop.batch_progress"], loop["epoch_progress"]["current"]
    batch_done = batches.get("is_last_batch") and len(set(batches["current"].values())) == 1
    if not batch_done or epochs["completed"] >= epochs["processed"]:
        return False  # mid-epoch, or saved after the epoch was counted completed: Lightning resumes it
    finished = int(checkpoint.get("epoch", epochs["completed"])) + 1
    for counts in loop["epoch_progress"].values():
        counts.update(dict.fromkeys(counts, finished))

    def restart(progress: dict, total: bool = False) -> None:  # Lightning's reset_on_run; total too when asked
        for key, counts in progress.items():
            if isinstance(counts, dict) and (key == "current" or total and key == "total"):
                counts.update(dict.fromkeys(counts, 0))
            elif isinstance(counts, dict):
                restart(counts, total)
        if "is_last_batch" in progress:
            progress["is_last_batch"] = False

    restart(batches)
    restart(loop.get("epoch_loop.scheduler_progress", {}))
    restart(loop.get("epoch_loop.automatic_optimization.optim_progress", {}))
    restart(loop.get("epoch_loop.manual_optimization.optim_step_progress", {}))
    restart(loop.get("epoch_loop.val_loop.batch_progress", {}), total=True)  # counted per epoch
    return True


class ResumeAtEpochStart(Callback):
    """Applies :func:`start_next_epoch` to the checkpoint a fit resumes from."""

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        if trainer.state.fn == "fit":
            start_next_epoch(checkpoint)
