"""Stop a fit on a signal without losing it: save ``last.ckpt`` at a step boundary, then exit.

- The first Ctrl-C (SIGINT), SIGTERM or SIGUSR1 asks Lightning to stop after the running step
  (its ``received_sigterm`` flag, checked after every training step); a second Ctrl-C stops at
  once. During validation inside ``fit`` the validation is finished first and the run stops with
  its epoch complete: Lightning cannot resume a checkpoint taken mid-validation.
- :class:`SaveOnInterrupt` then writes ``checkpoints/last.ckpt``. It also saves when SIGTERM went
  to the whole process group and a DataLoader worker that did not ignore it (a loader built
  elsewhere than :mod:`multiview.data.loader`) died first: the main process then sees
  ``RuntimeError: DataLoader worker ... exited unexpectedly`` instead of the signal.
- SIGUSR1 is the requeue signal, as with Lightning on Slurm: save, then ``scontrol requeue``
  the job when running under Slurm.
- The command exits with 128 + the signal number (:mod:`multiview.run.status`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from multiview.run import status

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)


def _worker_died(exception: BaseException) -> bool:
    return isinstance(exception, RuntimeError) and "DataLoader worker" in str(exception)


class SaveOnInterrupt(Callback):
    """Turn stop signals into a stop at the next step, and write ``last.ckpt`` when a fit stops."""

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        status.reset()

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        # after Lightning registered its handlers: its teardown puts back the ones from before the fit
        if threading.current_thread() is not threading.main_thread():
            return
        lightning_sigterm = signal.getsignal(signal.SIGTERM)
        for signum in STOP_SIGNALS:
            chained = lightning_sigterm if signum == signal.SIGTERM and callable(lightning_sigterm) else None
            signal.signal(signum, partial(self._on_signal, trainer, chained))

    def _on_signal(self, trainer: L.Trainer, chained, signum: int, frame) -> None:
        if chained is not None:
            chained(signum, frame)  # Lightning's: stops the launched processes of a multi-process run
        if status.stopped_by() is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        status.record(signum)
        if trainer.validating and not trainer.sanity_checking:
            # Lightning cannot resume from the middle of a validation (the resumed fit ends at
            # once): finish it, then stop with the epoch complete (on_validation_end).
            trainer._signal_connector.received_sigterm = False
            self._after_validation = True
        else:
            trainer._signal_connector.received_sigterm = True  # Lightning stops after the running step
        if trainer.is_global_zero:
            print(f"\n{status.describe(signum)}: stopping after this step and saving last.ckpt"
                  + (" (Ctrl-C again to stop at once)" if signum == signal.SIGINT else ""), file=sys.stderr)

    def on_validation_end(self, trainer: L.Trainer, pl_module) -> None:
        if getattr(self, "_after_validation", False):
            self._after_validation = False
            self._epoch_saved = True  # ModelCheckpoint writes last.ckpt for the finished epoch
            trainer._signal_connector.received_sigterm = True

    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        stopped = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        stopped = stopped or (trainer.received_sigterm and _worker_died(exception))
        if not stopped or trainer.checkpoint_callback is None or trainer.state.fn != "fit" or trainer.sanity_checking:
            return
        if _worker_died(exception):
            status.record(signal.SIGTERM)
        if trainer.validating or getattr(self, "_epoch_saved", False):
            # a checkpoint taken here would not resume (Lightning ends such a fit at once)
            self._epoch_saved = False
            print("\ninterrupted: saved last.ckpt at the end of the epoch", file=sys.stderr)
            return
        path = Path(trainer.checkpoint_callback.dirpath or Path(trainer.default_root_dir) / "checkpoints")
        for callback in trainer.checkpoint_callbacks:  # so the resumed run writes last.ckpt, not last-v1.ckpt
            callback.last_model_path = callback._last_checkpoint_saved = str(path / "last.ckpt")
        trainer.save_checkpoint(path / "last.ckpt")
        if trainer.is_global_zero:
            print(f"\ninterrupted: saved {path / 'last.ckpt'}", file=sys.stderr)
            if status.stopped_by() == signal.SIGUSR1:
                requeue()


def requeue() -> None:
    """``scontrol requeue`` this Slurm job (as Lightning's Slurm handler does); nothing elsewhere."""
    job = os.environ.get("SLURM_JOB_ID")
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    if not job or not re.fullmatch(r"[0-9_]+", job):
        return
    try:
        result = subprocess.call(["scontrol", "requeue", job])
    except FileNotFoundError:
        result = None
    print(f"requeue of Slurm job {job}: " + ("done" if result == 0 else f"failed ({result})"), file=sys.stderr)
