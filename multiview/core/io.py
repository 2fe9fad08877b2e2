"""Atomic file output and safe checkpoint reading.

Every file the suite writes goes through here: written to a temporary file in the same folder,
flushed, then renamed over the target, so a run stopped mid-write never leaves a torn file. A
write that fails because the disk is full or the folder is read-only removes its temporary file
and ends in one line naming the path (:class:`~multiview.core.errors.UserError`), the old file kept.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from multiview.core.errors import UserError

FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_UMASK_LOCK = threading.Lock()


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temporary file, then rename it to ``path``."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; an output file follows the umask
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        cause = os_error(e)
        if cause is not None and cause.errno in FULL:
            raise UserError(f"{path}: not written: the disk is full ({cause.strerror}); "
                            "nothing was half-written, the previous file is kept") from None
        if cause is not None and cause.errno in READ_ONLY:
            raise UserError(f"{path}: not written: {path.parent} is read-only ({cause.strerror})") from None
        raise
    fsync_dir(path.parent)
    return path


def os_error(error: BaseException | None) -> OSError | None:
    """The OSError behind ``error`` (torch.save wraps a failed write in a RuntimeError), if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno is not None:
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _umask() -> int:
    with _UMASK_LOCK:
        mask = os.umask(0o22)
        os.umask(mask)
    return mask


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)


def save_tensors(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` atomically; only tensors and plain containers, so it loads with weights_only."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def load_tensors(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    return torch.load(path, map_location=map_location, weights_only=True)


def save_figure(path: str | os.PathLike, fig) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    out = atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return out
