"""Checkpoints that are never torn and never trade finite weights for NaNs.

Lightning's own save moves a temporary file from the system temp folder over the target; when
that folder is on another filesystem the move becomes a copy, and a kill during the copy tears
``last.ckpt`` after the previous one is gone. :class:`AtomicCheckpointIO` writes each checkpoint
to a temporary file in the target's folder, fsyncs it, ``os.replace``s it over the target and
fsyncs the folder (:func:`multiview.core.io.atomic_write`): a reader sees the old file or the new one.

On ``--ckpt_path last``, :func:`resolve_last` checks that the checkpoint loads (``weights_only``)
and has finite weights, and falls back to the newest one in the folder that does.
:class:`ResumeAtEpochStart` makes a checkpoint written at the end of an epoch resume at the start
of the next epoch (:func:`start_next_epoch`), points the checkpoint callbacks' saved paths into a run
folder that was moved (:func:`follow_moved_folder`), and drops the ``metrics.csv`` rows the stopped
run logged after its checkpoint (:func:`resumed_step`).
"""

from __future__ import annotations

import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from multiview.core.errors import UserError
from multiview.core.io import atomic_write
from multiview.run.csv_logger import ResumableCSVLogger


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


def load_safely(path: Path) -> Any:
    """``torch.load`` with ``weights_only`` (memory-mapped when the file is a zip): never runs pickled code."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))


def why_unsafe(error: Exception) -> str:
    """What a failed :func:`load_safely` means, in a few words."""
    first = str(error).splitlines()[0] if str(error) else ""
    if isinstance(error, pickle.UnpicklingError) and first.startswith("Weights only load failed"):
        return "not a safe checkpoint: it holds pickled Python objects (loading them could run code); not loaded"
    return f"{type(error).__name__}: {first}".strip()


def check_loadable(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from (unreadable, unsafe, not a Lightning checkpoint, non-finite), or None."""
    try:
        obj = load_safely(path)
    except Exception as e:  # a torn zip, a truncated file, an unsafe pickle: torch raises several types
        return why_unsafe(e)
    if not isinstance(obj, dict) or not isinstance(obj.get("state_dict"), dict):
        return "not a Lightning checkpoint (no state_dict)"
    bad = first_non_finite(obj["state_dict"])
    return f"weight {bad!r} is not finite" if bad else None


def require_safe(ckpt_path: str | None) -> None:
    """Refuse, in one line, a ``--ckpt_path`` file that cannot be loaded without unpickling code."""
    if not ckpt_path or "://" in str(ckpt_path) or not Path(ckpt_path).is_file():
        return  # "last", "best", ... or a missing file, which Lightning names
    try:
        load_safely(Path(ckpt_path))
    except Exception as e:
        raise UserError(f"--ckpt_path {ckpt_path}: {why_unsafe(e)}") from None


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


def follow_moved_folder(checkpoint: dict[str, Any], callbacks: list) -> None:
    """Point each ``ModelCheckpoint``'s saved paths at its folder of now.

    ``ModelCheckpoint`` saves its absolute ``dirpath`` and ``last_model_path``. When the run folder
    was moved, Lightning (2.6) finds ``dirpath`` changed, keeps no ``last_model_path``, takes the
    ``last.ckpt`` it finds for someone else's and writes ``last-v1.ckpt`` beside it: ``last.ckpt``
    stays stale and eval and export read it. Paths of the old folder that exist in the new one are
    rewritten (before the callbacks load their state), so ``last.ckpt`` is replaced as in a run never moved.
    """
    states = checkpoint.get("callbacks") or {}
    for callback in callbacks:
        state = states.get(callback.state_key)
        if not isinstance(state, dict) or not callback.dirpath or not state.get("dirpath"):
            continue
        old, new = Path(state["dirpath"]), Path(callback.dirpath)
        if old == new:
            continue

        def moved(path, old=old, new=new):
            here = new / Path(path).name if path else None
            return str(here) if here is not None and Path(path).parent == old and here.exists() else path

        for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
            if key in state:
                state[key] = moved(state[key])
        if isinstance(state.get("best_k_models"), dict):
            state["best_k_models"] = {moved(k): v for k, v in state["best_k_models"].items()}
        state["dirpath"] = str(new)


def resumed_step(checkpoint: dict[str, Any]) -> int:
    """The logging step a fit resumed from ``checkpoint`` logs first (Lightning's batches that stepped)."""
    loop = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_loop.state_dict", {})
    return int(loop.get("_batches_that_stepped", checkpoint.get("global_step", 0)))


class ResumeAtEpochStart(Callback):
    """What a resumed fit repairs in the checkpoint and the run folder before it loads: the epoch's
    counters (:func:`start_next_epoch`), a moved folder (:func:`follow_moved_folder`) and the CSV
    rows logged after the checkpoint."""

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        if trainer.state.fn != "fit":
            return
        start_next_epoch(checkpoint)
        follow_moved_folder(checkpoint, trainer.checkpoint_callbacks)
        if trainer.is_global_zero:
            step = resumed_step(checkpoint)
            for logger in trainer.loggers:
                if isinstance(logger, ResumableCSVLogger):
                    logger.experiment.drop_steps_from(step)
