"""Output folders and files the suite may write, and only those: :func:`claim_output`, :func:`claim_file`.

A command that writes a folder (``--out DIR``) may replace what it wrote before (a re-run, a
resume), never what it did not write: a user's dataset laid out as ``train/`` and ``val/`` given
as ``--out`` must not lose a file. Every folder a command creates carries a marker file,
:data:`MARKER`, naming the command; a folder that exists, holds anything and has no marker is
refused in one line, before anything is written or deleted.

    out = claim_output(args.out, "data shard")   # first thing, before writing into it

A command that writes a file (``--out FILE``) follows the same rule: a file it wrote before (a
re-run, ``export`` over its own previous export) is replaced, atomically; any other file at that
path (the user's ``notes.txt``) is refused in one line and left as it was. A file's marker is a
hidden file beside it, ``.<name>.multiview-output``, written when the path is claimed (so an
interrupted ``data index`` continues its own partial index); the files a command writes beside
it (``export``'s card ``FILE.json``, ``data index``'s report) are claimed and marked with it.

    out = claim_file(args.out, "export", companions=[card_path(args.out)])
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from multiview.core.errors import UserError
from multiview.core.io import atomic_write

MARKER = ".multiview-output"


def marker_command(folder: str | os.PathLike) -> str | None:
    """The command whose marker ``folder`` carries, or None (no marker, or an unreadable one)."""
    return _command_in(Path(folder) / MARKER)


def _command_in(marker: Path) -> str | None:
    try:
        command = json.loads(marker.read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError):
        return None
    return command if isinstance(command, str) else None


def claim_output(folder: str | os.PathLike, command: str, option: str = "--out", create: bool = True) -> Path:
    """``folder``, created with a marker if new or empty; refused (:class:`UserError`) if it holds
    files another command wrote, or files multiview did not write at all.

    Args:
        folder: the output folder a user gave.
        command: the command that will write it, as the user types it (``"data shard"``).
        option: the option that named it, for the message.
        create: False to only check (a dry run): nothing is created.
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
    if not create:
        return path
    path.mkdir(parents=True, exist_ok=True)
    atomic_write(path / MARKER, lambda f: f.write(json.dumps({"command": command}) + "\n"), mode="w")
    return path


def file_marker(path: str | os.PathLike) -> Path:
    """The marker beside an output file: ``.<name>.multiview-output`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}{MARKER}")


def claim_file(path: str | os.PathLike, command: str, option: str = "--out",
               companions: Iterable[str | os.PathLike] = ()) -> Path:
    """``path``, marked as ``command``'s output with its ``companions`` (the files the command writes
    beside it: a card, a report); refused (:class:`UserError`) if one of them exists without a
    marker of ``command``. Nothing is changed when refused.

    Args:
        path: the output file a user gave.
        command: the command that will write it, as the user types it (``"export"``).
        option: the option that named it, for the message.
        companions: other files the command writes with it.
    """
    path = Path(path).expanduser()
    files = [path, *(Path(c).expanduser() for c in companions)]
    for file in files:
        beside = "" if file == path else f" (written beside it: {file})"
        if file.is_dir():
            raise UserError(f"{option} {path}: {file} is a folder; expected a file")
        if not (file.exists() or file.is_symlink()):
            continue
        owner = _command_in(file_marker(file))
        if owner is None:
            raise UserError(f"{option} {path}: {file.name} exists and multiview did not write it (no "
                            f"{file_marker(file).name}){beside}; nothing was changed; give a new file name")
        if owner != command:
            raise UserError(f"{option} {path}: {file.name} was written by `multiview {owner}`, not "
                            f"`multiview {command}`{beside}; give a new file name")
    for file in files:
        atomic_write(file_marker(file), lambda f: f.write(json.dumps({"command": command}) + "\n"), mode="w")
    return path


__all__ = ["MARKER", "claim_file", "claim_output", "file_marker", "marker_command"]
