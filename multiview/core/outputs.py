"""Output folders the suite may write into, and only those: :func:`claim_output`.

A command that writes a folder (``--out DIR``) may replace what it wrote before (a re-run, a
resume), never what it did not write: a user's dataset laid out as ``train/`` and ``val/`` given
as ``--out`` must not lose a file. Every folder a command creates carries a marker file,
:data:`MARKER`, naming the command; a folder that exists, holds anything and has no marker is
refused in one line, before anything is written or deleted.

    out = claim_output(args.out, "data shard")   # first thing, before writing into it
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from multiview.core.errors import UserError
from multiview.core.io import atomic_write

MARKER = ".multiview-output"


def marker_command(folder: str | os.PathLike) -> str | None:
    """The command whose marker ``folder`` carries, or None (no marker, or an unreadable one)."""
    path = Path(folder) / MARKER
    try:
        command = json.loads(path.read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError):
        return None
    return command if isinstance(command, str) else None


def claim_output(folder: str | os.PathLike, command: str, option: str = "--out") -> Path:
    """``folder``, created with a marker if new or empty; refused (:class:`UserError`) if it holds
    files another command wrote, or files multiview did not write at all.

    Args:
        folder: the output folder a user gave.
        command: the command that will write it, as the user types it (``"data shard"``).
        option: the option that named it, for the message.
    """
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: is a file, expected a folder")
    if path.is_dir() and any(path.iterdir()):
        owner = marker_command(path)
        if owner is None:
            raise UserError(f"{option} {path}: holds files multiview did not write (no {MARKER}); nothing "
                            f"was changed; give a new or empty folder")
        if owner != command:
            raise UserError(f"{option} {path}: was written by `multiview {owner}`, not `multiview {command}`; "
                            "give a new or empty folder")
        return path
    path.mkdir(parents=True, exist_ok=True)
    atomic_write(path / MARKER, lambda f: f.write(json.dumps({"command": command}) + "\n"), mode="w")
    return path


__all__ = ["MARKER", "claim_output", "marker_command"]
