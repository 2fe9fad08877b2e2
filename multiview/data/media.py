"""Opening user media files, and counting the ones that cannot be read.

Every media file the suite reads is opened with :func:`open_av`: PyAV with
``metadata_errors="ignore"``, so tags that are not UTF-8 (cp1251 Vorbis comments are common in
spoken-word sets) never stop a file from opening. A reader of a folder keeps going past a file
it cannot read and records it in a :class:`Skipped`, which prints one line per folder.

File names are bytes on POSIX. A name that is not UTF-8 (``b"clip_\\xff.mp4"``) reaches Python as
text with a surrogate (``"clip_\\udcff.mp4"``, PEP 383); it is kept so everywhere (JSON stores it as
``\\udcff``, which reads back to the same name), hashed through :func:`path_bytes` (the name's own
bytes) and printed through :func:`shown` (``clip_\\xff.mp4``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from multiview.core.errors import UserError

# What a corrupt, truncated, foreign or unreadable user file raises while being read.
READ_ERRORS = (OSError, EOFError, ValueError, UnicodeError, IndexError, KeyError, TypeError,
               RuntimeError, MemoryError, OverflowError, UserError)


def path_bytes(path: str | os.PathLike) -> bytes:
    """The file name's bytes as the file system has them (``os.fsencode``): what a name is hashed by."""
    return os.fsencode(path)


def shown(path: str | os.PathLike) -> str:
    """A file name to print: bytes that are not UTF-8 escaped as ``\\xff`` (any stream can write it)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def open_av(path: str | Path, **kwargs):
    """``av.open`` that tolerates non-UTF-8 metadata."""
    import av

    return av.open(str(path), metadata_errors="ignore", **kwargs)


def max_seconds(size: int) -> float:
    """The longest span a media file of ``size`` bytes can hold: a minute, plus one second per 16
    bytes (128 bit/s, below any real codec); declared durations and timestamps past it are refused."""
    return 60.0 + size / 16


def reason(e: BaseException, limit: int = 160) -> str:
    """One line: the exception's type and first line (PIL's decompression bomb included)."""
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {(lines[0] if lines else '')[:limit]}"


class Skipped:
    """Files of one folder that could not be read: ``(path, reason)``, reported in one line."""

    def __init__(self, where: str | Path):
        self.where, self.items = str(where), []

    def add(self, path: str | Path, why: str | BaseException) -> None:
        text = why if isinstance(why, str) else reason(why)
        self.items.append((shown(path), text.removeprefix(f"{path}: ").removeprefix(f"{shown(path)}: ")))

    def __len__(self) -> int:
        return len(self.items)

    def report(self, total: int) -> None:
        """Print ``WHERE: skipped N of TOTAL unreadable files (first: PATH: REASON)`` if any."""
        if self.items:
            path, why = self.items[0]
            print(f"{self.where}: skipped {len(self.items)} of {total} unreadable files "
                  f"(first: {path}: {why})", file=sys.stderr, flush=True)

    def require_some(self, total: int) -> None:
        if total and len(self.items) == total:
            path, why = self.items[0]
            raise UserError(f"{self.where}: none of its {total} files is readable (first: {path}: {why})")
