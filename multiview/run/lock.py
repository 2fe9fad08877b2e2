"""A run folder is one run: a fit holds an exclusive ``fcntl`` lock on ``RUN/.fit.lock`` while it writes.

A second fit into the same folder (another terminal, a requeued job whose first copy still runs)
is refused in one line naming the folder and the pid holding it, before it writes anything; two
fits would otherwise leave the config of one, the checkpoint of the other and an interleaved
``metrics.csv``. The lock is the kernel's: it goes away with the process, also after SIGKILL or a
crash, so a stale lock file never blocks a resume. Only rank 0 of a multi-process run takes it.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from multiview.core.errors import UserError

LOCK_NAME = ".fit.lock"


class RunFolderLock(Callback):
    """Holds the lock of ``folder`` until the fit ends (teardown) or fails (on_exception)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._file = None

    def acquire(self) -> RunFolderLock:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            file = open(self.folder / LOCK_NAME, "a+")
        except OSError as e:
            raise UserError(not_writable(self.folder, e)) from None
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise UserError(f"{self.folder}: another fit (pid {holder}) is writing this run folder; wait for it "
                            "to end, or give another --trainer.default_root_dir") from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the only descriptor drops the flock
            self._file = None

    def teardown(self, trainer: L.Trainer, pl_module, stage: str) -> None:
        if stage == "fit":
            self.release()

    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        self.release()


def live_holder(folder: str | os.PathLike) -> str | None:
    """The pid of the live fit holding ``folder``'s lock, or None (no lock file, or nobody holds it)."""
    try:
        file = open(Path(folder) / LOCK_NAME)
    except OSError:
        return None
    with file:
        try:
            fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return file.read().strip() or "unknown"
        return None


def not_writable(folder: Path, error: OSError) -> str:
    """One line for a run folder the fit cannot write (read-only, no permission, disk full)."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{folder}: cannot write the run folder: the disk is full ({error.strerror})"
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{folder}: cannot write the run folder: it is read-only ({error.strerror})"
    return f"{folder}: cannot write the run folder ({error.strerror or type(error).__name__})"
